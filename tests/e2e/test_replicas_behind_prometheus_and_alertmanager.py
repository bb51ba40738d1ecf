"""Two chainwatch replicas behind one real Prometheus and one real Alertmanager (#23, done-when).

``chainwatch assess --once`` fills a SQLite database with the demo data; two ``chainwatch
run`` processes serve it (one leader by the file lock beside the database; only the
leader exports database-derived metrics and dispatches notifications). chainwatch's one
receiver is Alertmanager (``kind: alertmanager``, ``resend_interval`` 1 s, ``validity``
10 s: the seconds of the test stand for production's minutes); Alertmanager runs the
shipped example config (its webhooks pointed at a local recorder) and also gets the
Prometheus rules' alerts. A second Prometheus scrapes the leader alone, as the reference.

- every dashboard and rule expression gives the single-replica value through the
  Prometheus that scrapes both replicas (per-process series aside);
- an escalation orange → red (a second assessment with a lower red threshold) leaves
  exactly one alert per chain in Alertmanager, now red;
- restarting the follower, stopping the leader (the follower takes over) and starting
  it again resolves nothing and re-fires nothing: each chain alert keeps its ``startsAt`` and
  Alertmanager's webhooks never say ``resolved``.

Skipped, with the reason, when either binary is missing. No fixed sleeps: every wait
polls with a deadline.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import CONFIG_DIR
from tests.monitoring_stack import (
    ALERTMANAGER,
    CHAINWATCH,
    PROMETHEUS,
    PrometheusAPI,
    chainwatch_env,
    expand,
    free_port,
    rule_groups_evaluated_after,
    start_alertmanager,
    start_prometheus,
    stop,
    vector,
    wait_for,
)
from tests.promql_sources import dashboard_expressions, rule_expressions
from tests.webhook_receiver import RecordingReceiver

pytestmark = [
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus binary not found: install the Debian package "
                                                  "'prometheus'"),
    pytest.mark.skipif(ALERTMANAGER is None, reason="alertmanager binary not found: install the Debian package "
                                                    "'prometheus-alertmanager'"),
]

#: Per-process series: one per replica by design.
PER_PROCESS = ("up{", "scrape_duration_seconds", "chainwatch_storage_up", "chainwatch_scheduler_leader",
               "process_", "ChainwatchDown", "ChainwatchStorageDown", "ChainwatchNoLeader")
CHAIN_ALERT = "ChainwatchChainRiskLevel"
#: Levels of the two assessments: nearly every scored chain orange (a chain at 100 is red
#: already), then every orange one red.
ORANGE = {"blue": 1, "yellow": 2, "orange": 3, "red": 99.9}
RED = {"blue": 0.5, "yellow": 1, "orange": 1.5, "red": 2}
#: A replica's start (migrations, leader election) on a busy shared 2-core machine.
STARTUP_SECONDS = 300


@dataclass
class Stack:
    cwd: Path
    both: PrometheusAPI
    single: PrometheusAPI
    alertmanager: str
    recorder: RecordingReceiver
    replicas: dict[str, tuple[subprocess.Popen, int]]
    processes: list


def _config(cwd: Path, levels: dict[str, float], resend_interval: str, validity: str) -> Path:
    """The default config with Alertmanager as the one receiver, short intervals and ``levels``."""
    target = cwd / "config"
    if not target.exists():
        shutil.copytree(CONFIG_DIR, target)
    alerts = yaml.safe_load((target / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"] = [{"name": "default-webhook", "kind": "alertmanager",
                            "url": "${CHAINWATCH_ALERTMANAGER_URL:-}", "resend_interval": resend_interval,
                            "validity": validity}]
    (target / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True, sort_keys=False), encoding="utf-8")
    settings = yaml.safe_load((target / "settings.yaml").read_text(encoding="utf-8"))
    settings["assessment"]["levels"] = levels
    # No start-up bootstrap (stress suite, report) on the leader: the replicas serve what
    # `assess --once` stored (tests/e2e/test_first_start.py tests the bootstrap).
    settings["scheduler"].update(leader_poll_seconds=0.5, dispatch_interval_seconds=0.5, shutdown_grace_seconds=5,
                                 bootstrap=False)
    (target / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                                          encoding="utf-8")
    return target


def _assess(stack_cwd: Path, alertmanager: str) -> None:
    result = subprocess.run([str(CHAINWATCH), "assess", "--once", "--format", "json"], cwd=stack_cwd,
                            env=chainwatch_env(CHAINWATCH_ALERTMANAGER_URL=alertmanager), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def _start_replica(cwd: Path, name: str, alertmanager: str, port: int | None = None) -> tuple[subprocess.Popen, int]:
    port = port or free_port()
    log = cwd / f"replica-{name}.log"
    service = subprocess.Popen([str(CHAINWATCH), "run", "--port", str(port)], cwd=cwd,
                               env=chainwatch_env(CHAINWATCH_ALERTMANAGER_URL=alertmanager),
                               stdout=log.open("a"), stderr=subprocess.STDOUT)
    wait_for(f"replica {name} /readyz", lambda: httpx.get(
        f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200, service, log, STARTUP_SECONDS)
    return service, port


def _leads(port: int) -> bool:
    return "chainwatch_scheduler_leader 1.0" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    cwd = tmp_path_factory.mktemp("stack")
    processes: list[subprocess.Popen] = []
    with RecordingReceiver() as recorder:
        try:
            alertmanager = start_alertmanager(cwd, recorder.url, processes)
            # No re-posts while the dashboards are compared: a growing outbox would make the two
            # Prometheus servers' deltas differ by their start times, not by the replicas.
            _config(cwd, ORANGE, resend_interval="1h", validity="4h")
            _assess(cwd, alertmanager)
            replicas = {}
            for name in ("a", "b"):
                replicas[name] = _start_replica(cwd, name, alertmanager)
                processes.append(replicas[name][0])
            assert [_leads(port) for _, port in replicas.values()] == [True, False], "a (started first) leads"
            targets = [f"127.0.0.1:{port}" for _, port in replicas.values()]
            am_target = alertmanager.removeprefix("http://")
            both = start_prometheus(cwd, "prom-both", targets, processes, alertmanager=am_target)
            single = start_prometheus(cwd, "prom-single", targets[:1], processes)
            scraped = time.time()
            for api, server, name in ((both, processes[-2], "prom-both"), (single, processes[-1], "prom-single")):
                wait_for(f"{name}: a rule evaluation after the scrapes", lambda a=api: rule_groups_evaluated_after(
                    a, scraped + 1), server, cwd / f"{name}.log")
            yield Stack(cwd, both, single, alertmanager, recorder, replicas, processes)
        finally:
            for process in reversed(processes):
                stop(process, signal.SIGTERM)


EXPRESSIONS = [e for e in (*dashboard_expressions(), *rule_expressions())
               if not any(marker in e.expr or marker == e.alert for marker in PER_PROCESS)]


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=lambda e: e.where)
def test_two_replicas_give_the_single_replica_value(stack, expression):
    expr = expand(expression.expr, "batteries")
    got, want = vector(stack.both, expr), vector(stack.single, expr)
    assert set(got) == set(want), f"{expr}: series differ: {set(got) ^ set(want)}"
    for labels, value in want.items():
        # ages and rates move with the scrape time: a second's worth of slack
        assert math.isclose(got[labels], value, rel_tol=1e-3, abs_tol=2.0), (expr, labels, got[labels], value)


def test_nodes_by_level_count_each_node_once(stack):
    (total,) = stack.both.result("sum(chainwatch_chain_nodes_by_level)")
    (nodes,) = stack.both.result("count(count by (chain, node) (chainwatch_node_risk_level))")  # distinct nodes
    assert float(total["value"][1]) == float(nodes["value"][1])  # 58 for 29 nodes before #23


def _chain_alerts(url: str) -> dict[str, list[dict]]:
    """chainwatch's chain alerts in Alertmanager (active, inhibited or not), by chain."""
    out: dict[str, list[dict]] = {}
    for alert in httpx.get(f"{url}/api/v2/alerts", timeout=5).json():
        if alert["labels"].get("alertname") == CHAIN_ALERT:
            out.setdefault(alert["labels"]["chain"], []).append(alert)
    return out


def _resolved_notifications(recorder: RecordingReceiver) -> list[dict]:
    """Alertmanager webhook notifications saying one of chainwatch's chain alerts resolved."""
    return [a for r in recorder.requests for a in json.loads(r.body).get("alerts", [])
            if a["status"] == "resolved" and a["labels"].get("alertname") == CHAIN_ALERT]


def _poll(what: str, check, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.2)


def test_escalation_leaves_one_alert_and_a_leader_restart_resolves_nothing(stack):
    def orange() -> set[str]:
        return {c for c, alerts in _chain_alerts(stack.alertmanager).items()
                if [a["annotations"].get("level") for a in alerts] == ["orange"]}

    _poll("chain alerts in Alertmanager at orange", lambda: bool(orange()))
    chains = orange()

    # Re-posts every second from here on, valid 10 s: a gap in them would show within the test.
    _config(stack.cwd, RED, resend_interval="1s", validity="10s")
    _assess(stack.cwd, stack.alertmanager)

    def escalated() -> bool:
        alerts = _chain_alerts(stack.alertmanager)
        return set(alerts) >= chains and all(a["annotations"].get("level") == "red" for c in chains for a in alerts[c])

    _poll("every chain alert red", escalated)
    alerts = _chain_alerts(stack.alertmanager)
    assert all(len(alerts[c]) == 1 for c in chains), {c: len(alerts[c]) for c in chains}  # no stale orange copy
    started = {c: alerts[c][0]["startsAt"] for c in chains}

    def unchanged() -> bool:
        now = _chain_alerts(stack.alertmanager)
        assert {c: [a["startsAt"] for a in now.get(c, [])] for c in chains} == {c: [started[c]] for c in chains}
        assert all(a["status"]["state"] != "unprocessed" for c in chains for a in now[c])
        assert not _resolved_notifications(stack.recorder)
        return True

    # The follower restarts (reading the new config), then the leader stops: the follower
    # takes over and keeps re-posting.
    follower, port_b = stack.replicas["b"]
    stop(follower, signal.SIGTERM)
    follower, port_b = _start_replica(stack.cwd, "b", stack.alertmanager, port_b)
    stack.processes.append(follower)
    unchanged()
    stop(stack.replicas["a"][0], signal.SIGTERM)
    _poll("replica b leads", lambda: unchanged() and _leads(port_b))
    # ... then the old leader starts again (a follower now); a validity period passes.
    restarted, port_a = _start_replica(stack.cwd, "a", stack.alertmanager, stack.replicas["a"][1])
    stack.processes.append(restarted)
    assert not _leads(port_a)
    end = time.monotonic() + 12  # longer than validity: Alertmanager would have resolved a lapsed alert
    _poll("a validity period with every alert unchanged", lambda: unchanged() and time.monotonic() > end, 30)
