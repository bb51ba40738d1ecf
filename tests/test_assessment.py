"""The assessment pipeline on stored demo data: reproducible, honest about missing data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from monitor.assessment import run_assessment
from monitor.collectors.demo import DemoCollector
from monitor.config.loader import load_config
from monitor.storage.observations import store_batch
from monitor.storage.tables import AssessmentRun, RiskScore
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config():
    return load_config(CONFIG_DIR, environ={})


def _collect(config, sessions, clock, **source_changes):
    source = config.sources.sources[0].model_copy(update=source_changes)
    store_batch(sessions, DemoCollector(config.catalog, source).collect(), clock())


def _summary(result):
    return [(c.chain, c.score, c.level, [(n.node, n.score, n.level, n.drivers) for n in c.nodes])
            for c in result.chains]


def test_same_data_and_config_give_the_same_result(config, sessions, clock):
    _collect(config, sessions, clock)
    first = run_assessment(config, sessions, clock)
    clock.now += timedelta(hours=1)
    second = run_assessment(config, sessions, clock)
    assert first.run_id != second.run_id
    assert _summary(first) == _summary(second)
    assert first.as_of == date(2025, 12, 1)
    with sessions() as session:
        runs = session.scalars(select(AssessmentRun).order_by(AssessmentRun.id)).all()
        stored = session.scalars(select(RiskScore).where(
            RiskScore.run_id == second.run_id, RiskScore.node == "", RiskScore.dimension == "overall")).all()
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert all(r.config_hash == config.config_hash for r in runs)
    assert {s.chain: round(s.score, 6) for s in stored} == {c.chain: round(c.score, 6) for c in second.chains}


def test_demo_disruption_drives_its_node(config, sessions, clock):
    _collect(config, sessions, clock)
    result = run_assessment(config, sessions, clock)
    minerals = next(c for c in result.chains if c.chain == "critical-minerals")
    cobalt = next(n for n in minerals.nodes if n.node == "cobalt")
    assert cobalt.level == "red" and minerals.level == "red"
    assert cobalt.dimensions["disruption"] >= 90
    assert cobalt.drivers[0].startswith(("import value", "output index"))
    assert "below the expected" in cobalt.drivers[0]


def test_short_history_is_missing_not_risk(config, sessions, clock):
    # 18 months: enough for concentration, too little for the detector (36 months).
    _collect(config, sessions, clock, start="2024-07", end="2025-12")
    result = run_assessment(config, sessions, clock)
    for chain in result.chains:
        for node in chain.nodes:
            assert node.dimensions["disruption"] is None
            assert node.dimensions["concentration"] is not None
            assert node.score == node.dimensions["concentration"]


def test_no_data_at_all_gives_no_scores(config, sessions, clock):
    result = run_assessment(config, sessions, clock)
    assert result.as_of is None
    assert all(c.score is None and c.level == "none" for c in result.chains)


def test_failed_run_is_recorded_and_keeps_no_scores(config, sessions, clock, monkeypatch):
    _collect(config, sessions, clock)

    def broken(*_args, **_kwargs):
        raise RuntimeError("detector exploded")

    monkeypatch.setattr("monitor.assessment.node_score", broken)
    with pytest.raises(RuntimeError, match="detector exploded"):
        run_assessment(config, sessions, clock)
    with sessions() as session:
        run = session.scalars(select(AssessmentRun)).one()
        scores = session.scalars(select(RiskScore)).all()
    assert run.status == "failed" and "detector exploded" in run.error
    assert scores == []
