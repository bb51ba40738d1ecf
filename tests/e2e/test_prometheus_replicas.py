"""Two replicas behind a real Prometheus give the single-replica value of every dashboard query (#23).

``chainwatch assess --once`` fills a SQLite database with the demo data; two
``chainwatch run`` processes serve it (they elect one leader by the file lock beside
the database; only the leader exports database-derived metrics). One Prometheus
scrapes both replicas, a second one scrapes the leader alone. Every dashboard and
rule expression must give the same series (``instance`` aside) and values in both,
except the per-process ones (``up``, scrape duration, ``chainwatch_storage_up``),
which rightly have one series per replica.
"""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.promql_sources import RULE_FILES, dashboard_expressions, rule_expressions
from tests.e2e.test_prometheus_integration import (
    CHAINWATCH,
    PROMETHEUS,
    PrometheusAPI,
    _env,
    _expand,
    _free_port,
    _stop,
    _wait_for,
)
from tests.webhook_receiver import RecordingReceiver

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus binary not found: install the Debian package 'prometheus' (.ci/run does)")

#: Per-process series: one per replica by design.
PER_PROCESS = ("up{", "scrape_duration_seconds", "chainwatch_storage_up", "chainwatch_scheduler_leader",
               "process_", "ChainwatchDown", "ChainwatchStorageDown", "ChainwatchNoLeader")


def _start_prometheus(cwd, name: str, targets: list[str], processes: list) -> PrometheusAPI:
    port = _free_port()
    config = cwd / f"{name}.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [{"job_name": "chainwatch", "static_configs": [{"targets": targets}]}],
    }))
    log = cwd / f"{name}.log"
    server = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={cwd / name}",
                               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                              cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    processes.append(server)
    api = PrometheusAPI(f"http://127.0.0.1:{port}")
    _wait_for(f"{name} ready", lambda: httpx.get(f"{api.url}/-/ready", timeout=1).status_code == 200, server, log)

    def scraped() -> bool:
        result = api.result('count_over_time(up{job="chainwatch"}[1m])')
        return len(result) == len(targets) and all(float(r["value"][1]) >= 3 for r in result)

    _wait_for(f"{name}: three scrapes of every target", scraped, server, log)
    return api


@pytest.fixture(scope="module")
def two_and_one(tmp_path_factory) -> Iterator[tuple[PrometheusAPI, PrometheusAPI]]:
    cwd = tmp_path_factory.mktemp("replicas")
    with RecordingReceiver() as receiver:
        assess = subprocess.run([str(CHAINWATCH), "assess", "--once", "--format", "json"], cwd=cwd,
                                env=_env(CHAINWATCH_WEBHOOK_URL=receiver.url), capture_output=True, text=True,
                                timeout=300)
    assert assess.returncode == 0, assess.stderr
    processes: list[subprocess.Popen] = []
    try:
        ports = []
        for replica in ("a", "b"):
            port = _free_port()
            log = cwd / f"replica-{replica}.log"
            service = subprocess.Popen([str(CHAINWATCH), "run", "--port", str(port)], cwd=cwd, env=_env(),
                                       stdout=log.open("w"), stderr=subprocess.STDOUT)
            processes.append(service)
            _wait_for(f"replica {replica} /readyz", lambda p=port: httpx.get(
                f"http://127.0.0.1:{p}/readyz", timeout=1).status_code == 200, service, log)
            ports.append(port)
        leaders = [httpx.get(f"http://127.0.0.1:{p}/metrics", timeout=5).text.count("chainwatch_scheduler_leader 1.0")
                   for p in ports]
        assert leaders == [1, 0], "replica a (started first) leads, b follows"
        both = _start_prometheus(cwd, "prom-both", [f"127.0.0.1:{p}" for p in ports], processes)
        single = _start_prometheus(cwd, "prom-single", [f"127.0.0.1:{ports[0]}"], processes)
        time.sleep(2)  # a rule evaluation after the scrapes
        yield both, single
    finally:
        for process in reversed(processes):
            _stop(process, signal.SIGTERM)


def _vector(api: PrometheusAPI, expr: str) -> dict[tuple, float]:
    out = {}
    for sample in api.result(expr):
        labels = tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "instance"))
        assert labels not in out, f"{expr!r}: two series differ only by instance: {labels}"
        out[labels] = float(sample["value"][1])
    return out


EXPRESSIONS = [e for e in (*dashboard_expressions(), *rule_expressions())
               if not any(marker in e.expr or marker == e.alert for marker in PER_PROCESS)]


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=lambda e: e.where)
def test_two_replicas_give_the_single_replica_value(two_and_one, expression):
    both, single = two_and_one
    expr = _expand(expression.expr, "batteries")
    got, want = _vector(both, expr), _vector(single, expr)
    assert set(got) == set(want), f"{expr}: series differ: {set(got) ^ set(want)}"
    for labels, value in want.items():
        # ages and rates move with the scrape time: a second's worth of slack
        assert math.isclose(got[labels], value, rel_tol=1e-3, abs_tol=2.0), (expr, labels, got[labels], value)


def test_nodes_by_level_count_each_node_once(two_and_one):
    both, _ = two_and_one
    (total,) = both.result("sum(chainwatch_chain_nodes_by_level)")
    (nodes,) = both.result("count(count by (chain, node) (chainwatch_node_risk_level))")  # distinct nodes
    assert float(total["value"][1]) == float(nodes["value"][1])  # 58 for 29 nodes before #23
