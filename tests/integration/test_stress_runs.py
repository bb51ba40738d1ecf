"""Routine stress tests on stored data: suite runs, storage, metrics, alerts, report, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from monitor.config.loader import load_config, load_scenario
from monitor.telemetry.metrics import build_registry
from monitor.stress.usd import format_usd
from monitor.store.stress_results import (
    complete_stress_run,
    start_stress_run,
    stress_results,
)
from monitor.store.tables import StressResult, StressRun
from monitor.stress.runs import (
    NoStoredDataError,
    load_baseline,
    run_scenario,
    run_stress_suite,
    scenario_document,
    stress_alert_candidates,
    stress_alert_subjects,
    stress_report_section,
)
from tests.conftest import CONFIG_DIR, config_copy

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
COBALT = CONFIG_DIR / "scenarios" / "embargo-cobalt-cod.yaml"


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_DIR, environ={})


@pytest.fixture
def stored(sessions, store_demo):
    store_demo()
    return sessions


def _row(scenario, chain, node, peak, score=0.0, level="", impact=None, recovery=0):
    return {"scenario": scenario, "chain": chain, "node": node, "impact_score": score, "level": level,
            "peak_shortfall": peak, "time_to_impact_months": impact, "months_to_recovery": recovery,
            "monthly": None if node == "" else [{"month": 1, "shortfall": peak}]}


HAND_ROWS = [
    {**_row("embargo", "critical-minerals", "", 0.6, score=60.0, level="yellow", impact=1, recovery=3),
     "value_at_risk_usd": 2.5e9, "time_to_survive_months": 1, "time_to_recover_months": 4},
    _row("embargo", "critical-minerals", "cobalt", 0.6, score=60.0, impact=1, recovery=3),
    _row("embargo", "critical-minerals", "nickel", 0.0),
    _row("port", "critical-minerals", "", 0.0, score=0.0, level="none"),
    _row("port", "critical-minerals", "cobalt", 0.0),
]


def test_metrics_come_from_the_latest_successful_suite(sessions, clock):
    registry, _ = build_registry(sessions, clock)
    assert registry.get_sample_value("chainwatch_stress_last_run_timestamp_seconds") is None
    run_id = start_stress_run(sessions, "hash", clock())
    complete_stress_run(sessions, run_id, clock(), date(2025, 12, 1),
                        [{"id": "embargo", "name": "Embargo"}, {"id": "port", "name": "Port"}], HAND_ROWS)
    value = registry.get_sample_value
    assert value("chainwatch_stress_peak_shortfall_ratio",
                 {"scenario": "embargo", "chain": "critical-minerals", "node": "cobalt"}) == 0.6
    assert value("chainwatch_stress_peak_shortfall_ratio",
                 {"scenario": "embargo", "chain": "critical-minerals", "node": "nickel"}) == 0.0
    assert value("chainwatch_stress_time_to_impact_months", {"scenario": "embargo", "chain": "critical-minerals"}) == 1
    # never short within the horizon: no time-to-impact sample, but an impact score of 0
    assert value("chainwatch_stress_time_to_impact_months", {"scenario": "port", "chain": "critical-minerals"}) is None
    assert value("chainwatch_stress_impact_score", {"scenario": "port", "chain": "critical-minerals"}) == 0.0
    # output at risk per scenario and chain; a row without them (stored before 0011) gives no sample
    embargo = {"scenario": "embargo", "chain": "critical-minerals"}
    assert value("chainwatch_stress_value_at_risk_usd", embargo) == 2.5e9
    assert (value("chainwatch_stress_time_to_survive_months", embargo),
            value("chainwatch_stress_time_to_recover_months", embargo)) == (1, 4)
    assert value("chainwatch_stress_value_at_risk_usd", {"scenario": "port", "chain": "critical-minerals"}) is None
    assert value("chainwatch_stress_last_run_timestamp_seconds") == clock().timestamp()
    # a newer suite replaces the cached families; a running (unfinished) one does not
    clock.now += timedelta(days=7)
    newer = start_stress_run(sessions, "hash", clock())
    assert value("chainwatch_stress_impact_score", {"scenario": "embargo", "chain": "critical-minerals"}) == 60.0
    complete_stress_run(sessions, newer, clock(), date(2025, 12, 1), [{"id": "embargo", "name": "Embargo"}],
                        [_row("embargo", "critical-minerals", "", 0.3, score=30.0, level="blue", impact=2, recovery=4)])
    assert value("chainwatch_stress_impact_score", {"scenario": "embargo", "chain": "critical-minerals"}) == 30.0
    assert value("chainwatch_stress_peak_shortfall_ratio",
                 {"scenario": "embargo", "chain": "critical-minerals", "node": "cobalt"}) is None


def test_alert_subjects_are_chains_at_or_above_the_threshold(sessions, clock, config):
    run_id = start_stress_run(sessions, "hash", clock())
    complete_stress_run(sessions, run_id, clock(), date(2025, 12, 1),
                        [{"id": "embargo", "name": "Embargo", "name_zh": "禁运"}], HAND_ROWS)
    at = lambda threshold: config.model_copy(update={"settings": config.settings.model_copy(update={
        "stress": config.settings.stress.model_copy(update={"alert_threshold": threshold})})})
    with sessions() as session:
        assert stress_alert_subjects(session, at(70)) == []
        [subject] = stress_alert_subjects(session, at(60))
    assert (subject.chain, subject.scenario, subject.level, subject.time_to_impact_months) == (
        "critical-minerals", "embargo", "yellow", 1)
    assert "Embargo" in subject.summary_en and "60/100" in subject.summary_en and "禁运" in subject.summary_zh
    names = config.catalog.chain("critical-minerals").name  # names for people, the id only in labels
    assert f"chain {names.en} impact" in subject.summary_en and f"产业链「{names.zh}」" in subject.summary_zh
    assert "（黄色）" in subject.summary_zh and "yellow" not in subject.summary_zh
    [candidate] = stress_alert_candidates([subject], dict(config.alerts.severity))
    assert candidate.labels == {"alertname": "ChainStressImpact", "chain": "critical-minerals", "node": "", "kind": "stress",
                                "scenario": "embargo", "severity": "warning"}
    assert candidate.annotations["score"] == "60.0"


def test_suite_on_demo_data_stores_what_run_scenario_computes(stored, clock, config):
    result = run_stress_suite(config, stored, clock)
    assert result is not None and result.as_of == date(2025, 12, 1)
    with stored() as session:
        run = session.scalars(select(StressRun)).one()
        rows = stress_results(session, run.id)
        baseline = load_baseline(config, session)
        report = stress_report_section(session)
    assert run.status == "succeeded" and len(run.scenarios) == len(result.outcomes) >= 7
    cobalt = run_scenario(config, load_scenario(COBALT, config), baseline)
    chain = next(c for c in cobalt.chains if c.chain == "critical-minerals")  # batteries are reached too
    stored_chain = next(r for r in rows if (r.scenario, r.chain, r.node) == ("embargo-cobalt-cod",
                                                                                   "critical-minerals", ""))
    assert stored_chain.impact_score == pytest.approx(chain.impact_score)
    # COD ships ~90% of cobalt: with 60 days of stock the embargo bites in month 3 at the latest
    node = chain.nodes["cobalt"]
    assert node.peak_shortfall > 0.5 and node.time_to_impact_months is not None
    assert chain.level in ("orange", "red")
    stored_node = next(r for r in rows if (r.scenario, r.node) == ("embargo-cobalt-cod", "cobalt"))
    assert len(stored_node.monthly) == 35 and stored_node.monthly[0]["month"] == 1
    # output at risk is stored as computed: per node and, summed / first / last, per chain
    assert node.value_at_risk_usd > 0 and stored_node.value_at_risk_usd == pytest.approx(node.value_at_risk_usd)
    assert (stored_node.time_to_survive_months, stored_node.time_to_recover_months) == (
        node.time_to_survive_months, node.time_to_recover_months)
    assert stored_chain.value_at_risk_usd == pytest.approx(chain.value_at_risk_usd)
    assert stored_chain.time_to_survive_months == chain.time_to_impact_months
    packs = next(r for r in rows if (r.scenario, r.node) == ("embargo-cobalt-cod", "traction-batteries"))
    assert packs.path[0] == "new-energy-vehicles/traction-batteries" and packs.path[-1] == "critical-minerals/cobalt"
    entry = next(e for e in report if e["id"] == "embargo-cobalt-cod")
    minerals = next(c for c in entry["chains"] if c["id"] == "critical-minerals")
    assert minerals["worst_node"] == "cobalt" and entry["as_of"] == "2025-12"
    assert minerals["value_at_risk_usd"] == round(chain.value_at_risk_usd)
    assert entry["value_at_risk_usd"] == pytest.approx(cobalt.value_at_risk_usd)
    assert [r["assumption"] for r in entry["sensitivity"]] == [r["assumption"] for r in cobalt.sensitivity]


def test_port_disruption_hits_every_chain(stored, config):
    scenario = load_scenario(CONFIG_DIR / "scenarios" / "port-disruption-30pct.yaml", config)
    with stored() as session:
        outcome = run_scenario(config, scenario, load_baseline(config, session))
    assert {c.chain for c in outcome.chains} == {c.id for c in config.catalog.chains}


def test_json_document_has_the_contract_shape(stored, config):
    with stored() as session:
        outcome = run_scenario(config, load_scenario(COBALT, config), load_baseline(config, session))
    document = scenario_document(outcome)
    assert set(document) == {"scenario", "horizon_months", "simulated_data", "chains", "value_at_risk_usd",
                             "sensitivity"}
    assert (document["scenario"], document["horizon_months"]) == ("embargo-cobalt-cod", 35)
    assert document["simulated_data"] is True  # the baseline was read from the demo's rows
    chain = document["chains"][0]
    assert set(chain) == {"id", "impact_score", "level", "nodes", "value_at_risk_usd"}
    assert set(chain["nodes"][0]) == {"id", "time_to_impact_months", "peak_shortfall", "months_to_recovery",
                                      "monthly", "kind", "value_at_risk_usd", "time_to_survive_months",
                                      "time_to_recover_months", "lead_time_effect_months", "path",
                                      "substitution_basis"}
    assert set(chain["nodes"][0]["monthly"][0]) >= {"month", "shortfall", "inventory_days"}


def test_without_stored_data_nothing_runs_and_nothing_is_stored(sessions, clock, config):
    with sessions() as session, pytest.raises(NoStoredDataError, match="run `chainwatch assess --once`"):
        load_baseline(config, session)
    assert run_stress_suite(config, sessions, clock) is None
    with sessions() as session:
        assert session.scalars(select(StressRun)).all() == []


def test_a_failing_suite_is_recorded_and_keeps_no_results(stored, clock, config, monkeypatch):
    import monitor.stress.runs as module

    def broken(*_args, **_kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(module, "run_scenario", broken)
    with pytest.raises(RuntimeError):
        run_stress_suite(config, stored, clock)
    with stored() as session:
        run = session.scalars(select(StressRun)).one()
        assert run.status == "failed" and "engine exploded" in run.error
        assert session.scalars(select(StressResult)).all() == []


def test_report_includes_the_stress_section(tmp_path, clock):
    from monitor.app import build_app

    # Two years of demo data: the stress suite and the report's stress section are what is
    # checked; the (slow) disruption models, below min_history_months, stay out of it.
    config_dir = config_copy(tmp_path / "config", demo_start="2024-01")
    app = build_app(config_dir, f"sqlite:///{tmp_path / 'cw.db'}", clock=clock)
    try:
        app.assess_once()
        run_stress_suite(app.config, app.sessions, app.clock)
        html = app.write_report(tmp_path / "report").read_text(encoding="utf-8")
    finally:
        app.close()
    document = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert any(e["id"] == "embargo-cobalt-cod" for e in document["stress_tests"])
    assert "Impact (0-100)" in html and "Cobalt: DR Congo export stop 8 months" in html
    # output at risk, the loss's path and the tornado (table and plot) of every scenario
    assert "Value at risk" in html and "TTS (months)" in html
    assert "Cathode precursors (cobalt and nickel compounds) ← Cobalt ores and intermediates" in html  # names
    cobalt = next(e for e in document["stress_tests"] if e["id"] == "embargo-cobalt-cod")
    assert html.count('alt="sensitivity tornado') == sum(1 for e in document["stress_tests"] if e["sensitivity"])
    assert f"Total value at risk {format_usd(cobalt['value_at_risk_usd'])}" in html
    assert "No stress-test results are stored yet." not in html


# --- the command line ----------------------------------------------------------------

def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}


def _chainwatch(cwd, *args):
    return subprocess.run([str(CHAINWATCH), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    # `stress` reads only the stored trade flows, so `collect` is enough (no assessment run)
    cwd = tmp_path_factory.mktemp("stress-cli")
    done = _chainwatch(cwd, "collect")
    assert done.returncode == 0, done.stderr
    return cwd


def test_cli_json_on_demo_data(collected):
    done = _chainwatch(collected, "stress", "--scenario", str(COBALT), "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["scenario"] == "embargo-cobalt-cod" and document["horizon_months"] == 35
    chain = next(c for c in document["chains"] if c["id"] == "critical-minerals")
    assert chain["level"] in ("orange", "red")
    cobalt = next(n for n in chain["nodes"] if n["id"] == "cobalt")
    assert 0.5 < cobalt["peak_shortfall"] <= 1 and len(cobalt["monthly"]) == 35


def test_cli_table_on_demo_data(collected):
    done = _chainwatch(collected, "stress", "--scenario", str(CONFIG_DIR / "scenarios" / "port-disruption-30pct.yaml"))
    assert done.returncode == 0, done.stderr
    # chains and nodes by name, for people (the JSON keeps the ids)
    assert "port-disruption-30pct" in done.stdout and "Pharmaceuticals and active pharmaceutical" in done.stdout


def test_cli_invalid_scenario_exits_2_naming_the_field(collected, tmp_path):
    bad = tmp_path / "bad.yaml"
    document = yaml.safe_load(COBALT.read_text(encoding="utf-8"))
    document["shocks"][0]["nodes"] = ["critical-minerals/no-such-node"]
    document["shocks"][0]["cut_share"] = 1.5
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    done = _chainwatch(collected, "stress", "--scenario", str(bad))
    assert done.returncode == 2
    assert "bad.yaml: shocks[0].cut_share" in done.stderr and "Traceback" not in done.stderr


def test_cli_says_clearly_when_no_data_is_stored(tmp_path):
    done = _chainwatch(tmp_path, "stress", "--scenario", str(COBALT), "--format", "json")
    assert done.returncode == 1
    assert "no trade flows of CHN are stored" in done.stderr and "chainwatch assess --once" in done.stderr
    assert done.stdout == ""
