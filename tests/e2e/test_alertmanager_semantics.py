"""chainwatch's Alertmanager mode against a real Alertmanager running the shipped example config (#23).

Debian's ``prometheus-alertmanager`` runs ``config/alertmanager/alertmanager.yml`` (its
webhook receivers pointed at a local recorder, its timings shortened). chainwatch posts
with a real clock, ``resend_interval`` 1 s and ``validity`` 6 s, so the seconds of the
test stand for the minutes of production. A restart pauses 2.5 s: with a resend at most
1.25 s before it, 2.25 s of the validity remain (with 4 s, 0.25 s did, and a loaded
machine's delays let the alert lapse). Checked:

- an escalation orange → red leaves exactly one alert (the level is an annotation);
- the chain alert inhibits its node alerts and Prometheus' ``ChainwatchChainAtRed``;
- a restart of chainwatch (a new pipeline on the same database, a gap shorter than
  ``validity``) neither resolves nor re-fires anything: Alertmanager's webhook never
  says ``resolved`` and the alert keeps its ``startsAt``;
- nothing is resolved while chainwatch has it firing, for several validity periods;
- once chainwatch resolves, Alertmanager resolves at once.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.config.models import AlertsFile
from monitor.notify.alerting import AlertPipeline
from tests.conftest import CONFIG_DIR
from tests.monitoring_stack import ALERTMANAGER, start_alertmanager, stop
from tests.webhook_receiver import RecordingReceiver

pytestmark = pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed "
                                                       "(apt-get install prometheus-alertmanager)")


@pytest.fixture
def recorder():
    with RecordingReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(tmp_path, recorder):
    processes: list[subprocess.Popen] = []
    try:
        yield start_alertmanager(tmp_path, recorder.url, processes)
    finally:
        for process in processes:
            stop(process)


def _result(run_id: int, chain_level: str, chain_score: float, node_level: str, node_score: float):
    node = NodeAssessment(chain="batteries", node="cells-packs", name_en="Cells and packs", name_zh="电芯与电池包",
                          criticality=1.0, own_score=node_score,
                          judgement=Judgement(node_score, node_level, node_level, 0, 1.0),
                          dimensions={"concentration": node_score}, drivers=[])
    chain = ChainAssessment(chain="batteries", name_en="Batteries", name_zh="电池",
                            judgement=Judgement(chain_score, chain_level, chain_level, 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=run_id, as_of=date(2025, 12, 1), chains=[chain], findings=[])


def _pipeline(sessions, client, alertmanager: str) -> AlertPipeline:
    base = load_config(CONFIG_DIR, environ={})
    config = base.model_copy(update={"alerts": AlertsFile.model_validate({
        "receivers": [{"name": "default-webhook", "kind": "alertmanager", "url": alertmanager,
                       "resend_interval": "1s", "validity": "6s"}],
        "default_receivers": ["default-webhook"],
        "rules": [{"name": "chain-orange", "scope": "chain", "min_level": "orange"},
                  {"name": "node-orange", "scope": "node", "min_level": "orange"}],
        "route": {"group_interval": "1s"}})})
    # "default-webhook": the name the catalog's chains route to (their chain office receivers)
    return AlertPipeline(config, sessions, client, lambda: datetime.now(timezone.utc), rng=random.Random(1))


def _alerts(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/v2/alerts", timeout=5).json()


def _by_name(alerts: list[dict]) -> dict[str, dict]:
    return {a["labels"]["alertname"]: a for a in alerts}


def _notified(recorder: RecordingReceiver) -> list[dict]:
    return [json.loads(r.body) for r in recorder.requests]


def _run_for(seconds: float, pipeline: AlertPipeline, check) -> None:
    """Dispatch like ``chainwatch run`` (every 0.25 s) for ``seconds``, checking after each pass."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pipeline.deliver_due()
        check()
        time.sleep(0.25)


def _post_prometheus_alert(url: str) -> None:
    now = datetime.now(timezone.utc)
    httpx.post(f"{url}/api/v2/alerts", timeout=5, json=[{
        "labels": {"alertname": "ChainwatchChainAtRed", "chain": "batteries", "severity": "critical"},
        "annotations": {"summary": "Chain batteries is at the red early-warning level"},
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}]).raise_for_status()


def test_escalation_restart_and_resolution_in_a_real_alertmanager(alertmanager, recorder, sessions):
    with httpx.Client(trust_env=False) as client:
        pipeline = _pipeline(sessions, client, alertmanager)
        pipeline.evaluate(_result(1, "orange", 75.0, "orange", 72.0))
        _run_for(1.5, pipeline, lambda: None)
        first = _by_name(_alerts(alertmanager))
        assert set(first) == {"ChainwatchChainRiskLevel", "ChainwatchNodeRiskLevel"}
        chain_alert = first["ChainwatchChainRiskLevel"]
        assert chain_alert["annotations"]["level"] == "orange" and "level" not in chain_alert["labels"]
        # the chain alert inhibits its node alert (shipped inhibit rule)
        assert first["ChainwatchNodeRiskLevel"]["status"]["state"] == "suppressed"
        assert first["ChainwatchNodeRiskLevel"]["status"]["inhibitedBy"]
        _post_prometheus_alert(alertmanager)

        # Escalation orange -> red: still one chain alert, now red, same startsAt.
        pipeline.evaluate(_result(2, "red", 90.0, "red", 88.0))
        _run_for(1.5, pipeline, lambda: None)
        alerts = _alerts(alertmanager)
        chain_alerts = [a for a in alerts if a["labels"]["alertname"] == "ChainwatchChainRiskLevel"]
        assert len(chain_alerts) == 1, chain_alerts
        assert chain_alerts[0]["annotations"]["level"] == "red"
        assert chain_alerts[0]["startsAt"] == chain_alert["startsAt"]
        assert len(alerts) == 3  # chain, node, and Prometheus' ChainwatchChainAtRed
        at_red = _by_name(alerts)["ChainwatchChainAtRed"]
        assert at_red["status"]["state"] == "suppressed", "ChainwatchChainAtRed is inhibited by the chain alert"

        def all_firing() -> None:
            current = _by_name(a for a in _alerts(alertmanager) if a["labels"]["alertname"] != "ChainwatchChainAtRed")
            assert set(current) == {"ChainwatchChainRiskLevel", "ChainwatchNodeRiskLevel"}
            assert current["ChainwatchChainRiskLevel"]["status"]["state"] == "active"
            assert current["ChainwatchChainRiskLevel"]["startsAt"] == chain_alert["startsAt"]

        # Two validity periods (6 s) of chainwatch firing: nothing lapses.
        _run_for(13, pipeline, all_firing)

        # Restart: the process stops for 2.5 s (< validity), a new one takes over the database.
        time.sleep(2.5)
        all_firing()
        restarted = _pipeline(sessions, client, alertmanager)
        _run_for(5, restarted, all_firing)
        statuses = [body["status"] for body in _notified(recorder)]
        assert statuses and "resolved" not in statuses, statuses
        chain_office = [b for r, b in zip(recorder.requests, _notified(recorder)) if r.path == "/chain-office"]
        # one group (the chain): its first notification and the escalation, never a re-fire
        starts = {a["startsAt"] for b in chain_office for a in b["alerts"]
                  if a["labels"]["alertname"] == "ChainwatchChainRiskLevel"}
        assert len(starts) == 1, starts

        # Recovery: chainwatch resolves, Alertmanager follows at once.
        restarted.evaluate(_result(3, "yellow", 50.0, "yellow", 45.0))
        restarted.deliver_due()
        deadline = time.monotonic() + 10
        while any(a["status"]["state"] != "unprocessed" and a["labels"]["alertname"].startswith("ChainwatchC")
                  and a["labels"]["alertname"] != "ChainwatchChainAtRed" for a in _alerts(alertmanager)):
            assert time.monotonic() < deadline, _alerts(alertmanager)
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "resolved" not in [b["status"] for b in _notified(recorder)]:
            assert time.monotonic() < deadline, "Alertmanager did not send the resolution"
            time.sleep(0.2)
