"""Two kinds of warning, each with its cadence (#23 item 1).

Exposure (a risk register): a node's lasting structural level alerts when it appears,
goes up or goes down, not at every assessment; above the ceiling it stays firing.
Events (findings): alert at once, resolve on recovery or after ``resolve_after``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import httpx
import pytest

from alerts.rules import ExposureChangeRule, exposure_change
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.config.models import AlertRule
from monitor.notify.alerting import AlertPipeline
from tests.conftest import CONFIG_DIR


@pytest.mark.parametrize("previous, level, expected", [
    (None, "orange", "new"), ("none", "orange", "new"), (None, "yellow", None), ("orange", "orange", None),
    ("orange", "red", "up"), ("yellow", "orange", "up"), ("red", "orange", "down"), ("orange", "yellow", "down"),
    ("yellow", "blue", None), ("blue", "yellow", None),
])
def test_exposure_change(previous, level, expected):
    assert exposure_change(previous, level, "orange") == expected


def test_exposure_rule_needs_a_level():
    with pytest.raises(ValueError):
        ExposureChangeRule("x", "node", "none")
    with pytest.raises(ValueError, match="resolve_after"):
        AlertRule.model_validate({"name": "x", "kind": "level", "scope": "node", "resolve_after": "1d"})


class _Finding:
    def __init__(self, status="flagged"):
        self.status, self.method, self.direction = status, "partner_share_collapse", "down"
        self.series_id, self.period = "imports:cells-packs", date(2025, 12, 1)
        self.observed, self.expected, self.score = 0.2, 0.6, 5.0
        self.explanation_en, self.explanation_zh = "Main supplier's share collapsed", "主要来源国份额骤降"


def _result(run_id, level, previous, findings=()):
    node = NodeAssessment(chain="batteries", node="cells-packs", name_en="Cells and packs", name_zh="电芯与电池包",
                          criticality=1.0, own_score=72.0,
                          judgement=Judgement(72.0, level, level, 0, 1.0, previous_level=previous),
                          dimensions={"concentration": 72.0}, drivers=["top supplier 65 %"])
    chain = ChainAssessment(chain="batteries", name_en="Batteries", name_zh="电池",
                            judgement=Judgement(40.0, "blue", "blue", 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=run_id, as_of=date(2025, 12, 1), chains=[chain],
                            findings=[("batteries", "cells-packs", f) for f in findings])


def _firing(evaluation, name):
    return [a for a in evaluation.alerts if a.is_firing and a.labels["alertname"] == name]


def test_lasting_orange_exposure_alerts_once_and_an_event_resolves_on_time(sessions, clock):
    config = load_config(CONFIG_DIR, environ={"CHAINWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    with httpx.Client() as client:
        pipeline = AlertPipeline(config, sessions, client, clock, rng=random.Random(1))
        first = pipeline.evaluate(_result(1, "orange", None))
        (changed,) = _firing(first, "node-exposure-changed")
        assert changed.annotations["change"] == "new"
        assert not _firing(first, "node-exposure-ceiling")
        queued = first.queued
        for run in range(2, 6):  # the same 65 % top supplier, month after month
            clock.now += timedelta(days=30)
            again = pipeline.evaluate(_result(run, "orange", "orange"))
            assert not _firing(again, "node-exposure-changed"), f"run {run} re-alerted a lasting exposure"
        # up to red: a change, and the ceiling alert stays while red
        clock.now += timedelta(days=30)
        red = pipeline.evaluate(_result(7, "red", "orange"))
        assert _firing(red, "node-exposure-changed")[0].annotations["change"] == "up"
        assert _firing(red, "node-exposure-ceiling")
        assert queued >= 1

        # an event: alerts at once, resolves after resolve_after (30 d) although it persists
        clock.now += timedelta(days=1)
        event = pipeline.evaluate(_result(8, "red", "red", [_Finding()]))
        assert _firing(event, "main-supplier-share-collapse")
        clock.now += timedelta(days=31)
        later = pipeline.evaluate(_result(9, "red", "red", [_Finding()]))
        assert not _firing(later, "main-supplier-share-collapse")
        clock.now += timedelta(days=1)
        assert not _firing(pipeline.evaluate(_result(10, "red", "red", [_Finding()])), "main-supplier-share-collapse")


def test_an_event_resolves_on_recovery(sessions, clock):
    config = load_config(CONFIG_DIR, environ={})
    with httpx.Client() as client:
        pipeline = AlertPipeline(config, sessions, client, clock, rng=random.Random(1))
        assert _firing(pipeline.evaluate(_result(1, "blue", None, [_Finding()])), "main-supplier-share-collapse")
        clock.now += timedelta(days=30)
        recovered = pipeline.evaluate(_result(2, "blue", "blue", []))
        assert not _firing(recovered, "main-supplier-share-collapse")
