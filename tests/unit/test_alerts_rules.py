"""Level rules: a table of subjects and rules, and the candidates they give."""

from __future__ import annotations

import pytest

from alerts.rules import LevelRule, RiskSubject, evaluate_level_rules
from indicators.vocabulary import LEVELS, level_index

SEVERITY = {"blue": "info", "yellow": "warning", "orange": "critical", "red": "critical"}

CHAIN_ORANGE = LevelRule("ChainAtRisk", "chain", "orange")
CHAIN_RED = LevelRule("ChainCritical", "chain", "red")
NODE_YELLOW = LevelRule("NodeAtRisk", "node", "yellow")


def subject(level: str, node: str = "", chain: str = "lithium", drivers=("HHI 0.62 in cathode imports",)) -> RiskSubject:
    return RiskSubject(
        chain=chain,
        node=node,
        level=level,
        score=71.25,
        summary_en=f"{chain} {node} {level}".strip(),
        summary_zh="锂电池产业链风险上升",
        drivers=list(drivers),
    )


@pytest.mark.parametrize(
    "rules, subjects, expected",
    [
        # (alertname, chain, node, severity) per expected candidate
        ([CHAIN_ORANGE], [subject("orange")], [("ChainAtRisk", "lithium", "", "critical")]),
        ([CHAIN_ORANGE], [subject("red")], [("ChainAtRisk", "lithium", "", "critical")]),
        ([CHAIN_ORANGE], [subject("yellow")], []),
        ([CHAIN_ORANGE], [subject("none")], []),
        # scope: a chain rule ignores nodes and vice versa
        ([CHAIN_ORANGE], [subject("red", node="refining")], []),
        ([NODE_YELLOW], [subject("red")], []),
        ([NODE_YELLOW], [subject("yellow", node="refining")], [("NodeAtRisk", "lithium", "refining", "warning")]),
        # several rules match one subject: one candidate, the highest min_level wins
        ([CHAIN_ORANGE, CHAIN_RED], [subject("red")], [("ChainCritical", "lithium", "", "critical")]),
        ([CHAIN_RED, CHAIN_ORANGE], [subject("red")], [("ChainCritical", "lithium", "", "critical")]),
        ([CHAIN_ORANGE, CHAIN_RED], [subject("orange")], [("ChainAtRisk", "lithium", "", "critical")]),
        # order of subjects is kept; mixed scopes
        (
            [CHAIN_ORANGE, NODE_YELLOW],
            [subject("blue", node="mining"), subject("orange", node="cells"), subject("red", chain="rare_earth")],
            [("NodeAtRisk", "lithium", "cells", "critical"), ("ChainAtRisk", "rare_earth", "", "critical")],
        ),
        ([], [subject("red")], []),
    ],
)
def test_rule_table(rules, subjects, expected):
    got = evaluate_level_rules(rules, subjects, SEVERITY)
    assert [(c.labels["alertname"], c.labels["chain"], c.labels["node"], c.labels["severity"]) for c in got] == expected
    assert all(c.labels["kind"] == "risk_level" for c in got)


def test_candidate_annotations():
    (candidate,) = evaluate_level_rules(
        [NODE_YELLOW], [subject("orange", node="refining", drivers=("HHI 0.62", "imports -30% y/y"))], SEVERITY
    )
    assert candidate.labels == {
        "alertname": "NodeAtRisk",
        "chain": "lithium",
        "node": "refining",
        "kind": "risk_level",
        "severity": "critical",
        "level": "orange",
    }
    assert candidate.annotations == {
        "summary": "lithium refining orange",
        "summary_zh": "锂电池产业链风险上升",
        "description": "Node refining of chain lithium is at orange level (risk score 71.2/100). "
        "Drivers: HHI 0.62; imports -30% y/y.",
        "level": "orange",
        "score": "71.2",
        "drivers": "HHI 0.62; imports -30% y/y",
    }


def test_level_order():
    assert LEVELS == ("none", "blue", "yellow", "orange", "red")
    assert [level_index(x) for x in LEVELS] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "r", "scope": "chain", "min_level": "purple"}, "unknown level 'purple'"),
        ({"name": "r", "scope": "chain", "min_level": "none"}, "every subject"),
        ({"name": "r", "scope": "graph", "min_level": "red"}, "scope must be"),
        ({"name": "", "scope": "chain", "min_level": "red"}, "name"),
    ],
)
def test_bad_rules_fail_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LevelRule(**kwargs)


def test_missing_severity_is_reported_up_front_even_without_matching_subjects():
    with pytest.raises(ValueError, match="red"):
        evaluate_level_rules([CHAIN_ORANGE], [subject("blue")], {"orange": "critical"})


def test_unknown_subject_level_names_the_subject():
    with pytest.raises(ValueError, match="node='refining'.*'amber'"):
        evaluate_level_rules([CHAIN_ORANGE], [subject("amber", node="refining")], SEVERITY)
