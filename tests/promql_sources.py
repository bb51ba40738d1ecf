"""Every PromQL expression chainwatch ships: Grafana panels, template variables, rule files.

Shared by the dashboard checks, the rule checks and the real-Prometheus test, so that
all three look at exactly the same expressions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = REPO / "config" / "prometheus"
GRAFANA_DIR = REPO / "config" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
RULE_FILES = [PROMETHEUS_DIR / "recording_rules.yml", PROMETHEUS_DIR / "alerting_rules.yml"]

#: Series Prometheus itself provides (scrape metadata, alert state), allowed in queries.
PROMETHEUS_BUILTINS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"})

_LABEL_VALUES = re.compile(r"^label_values\(\s*(?P<match>[^,]+?)\s*,\s*(?P<label>\w+)\s*\)$")
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                       "bool", "offset", "atan2", "inf", "nan"})


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it was found."""

    where: str
    expr: str
    alert: str | None = None
    """The alert's name when the expression is an alerting rule's condition."""


@dataclass(frozen=True)
class LabelValuesQuery:
    """A Grafana ``label_values(match, label)`` template-variable query."""

    where: str
    match: str
    label: str


def load_dashboards() -> dict[Path, dict]:
    """Every dashboard JSON, parsed."""
    return {path: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARD_FILES}


def dashboard_expressions() -> list[Expression]:
    """The ``expr`` of every target of every panel of every dashboard."""
    found = []
    for path, board in load_dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append(Expression(f"{path.name}: panel {panel['id']} {panel['title']!r} "
                                        f"target {target.get('refId')}", target.get("expr", "")))
    return found


def template_queries() -> list[LabelValuesQuery]:
    """The ``label_values(...)`` queries of the dashboards' query variables."""
    found = []
    for path, board in load_dashboards().items():
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            match = _LABEL_VALUES.match(text.strip())
            if match is None:
                raise AssertionError(f"{path.name}: variable ${variable['name']}: unsupported query {text!r}")
            found.append(LabelValuesQuery(f"{path.name}: variable ${variable['name']}",
                                          match["match"], match["label"]))
    return found


def load_rule_groups() -> dict[Path, list[dict]]:
    """The rule groups of every rule file."""
    return {path: yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] for path in RULE_FILES}


def rule_expressions() -> list[Expression]:
    """The expression of every recording and alerting rule."""
    found = []
    for path, groups in load_rule_groups().items():
        for group in groups:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                found.append(Expression(f"{path.name}: {group['name']}: {name}", str(rule["expr"]).strip(),
                                        alert=rule.get("alert")))
    return found


def recorded_names() -> set[str]:
    """Names the recording rules produce."""
    return {rule["record"] for groups in load_rule_groups().values() for group in groups
            for rule in group["rules"] if "record" in rule}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (a PromQL tokenizer good enough for our files).

    Drops string literals, label matchers, ``by (...)``-style label lists and range
    selectors, then keeps identifiers that are not functions, keywords or numbers.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        token = match.group()
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or token.lower() in _KEYWORDS:
            continue
        names.add(token)
    return names


_COMPARISON = re.compile(r"^(?P<operand>.+?)\s*(?:==|!=|>=|<=|>|<)\s*(?P<threshold>[-+*/().\d\s]+)$", re.S)


def alert_operand(expr: str) -> str | None:
    """``x`` of an alert condition ``x <op> <number expression>``, or None."""
    match = _COMPARISON.match(expr.strip())
    return match["operand"].strip() if match else None
