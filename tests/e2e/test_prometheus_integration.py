"""A real Prometheus scrapes a running ``chainwatch run`` and runs every shipped query.

``chainwatch assess --once`` fills a database in a temp dir with the demo data (its
notifications delivered to a local webhook receiver, so the outbox has a receiver);
``chainwatch run`` serves it; Debian's ``prometheus`` scrapes it every second with the
shipped rule files loaded. After two scrapes and a rule evaluation, every PromQL
expression of the Grafana dashboards and the rule files goes through
``/api/v1/query`` and must be valid and return data.

The one explicit exception: ops alert conditions (``ALERTS_QUIET_ON_HEALTHY_DEMO``) are
*expected* to be empty, because the demo service is healthy; for them the test asserts
validity, emptiness, and that the measured operand (the condition without its
threshold) returns data.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.conftest import NO_BOOTSTRAP, config_copy
from tests.promql_sources import (
    RULE_FILES,
    Expression,
    alert_operand,
    dashboard_expressions,
    rule_expressions,
    template_queries,
)
from tests.monitoring_stack import CHAINWATCH, PROMETHEUS, PrometheusAPI
from tests.monitoring_stack import chainwatch_env as _env
from tests.monitoring_stack import expand as _expand
from tests.monitoring_stack import free_port as _free_port
from tests.monitoring_stack import stop as _stop
from tests.monitoring_stack import rule_groups_evaluated_after as _rule_groups_evaluated_after
from tests.monitoring_stack import wait_for as _wait_for
from tests.webhook_receiver import RecordingReceiver

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus binary not found: install the Debian package 'prometheus' (.ci/run does)")

#: Alerting rules whose condition must be empty on the healthy demo, and why.
ALERTS_QUIET_ON_HEALTHY_DEMO = {
    "ChainwatchDown": "the service is up and scraped",
    "ChainwatchStorageDown": "the SQLite database answers",
    "ChainwatchCollectorStale": "the demo source collected seconds ago",
    "ChainwatchCollectorFailing": "the demo source's only collection succeeded",
    "ChainwatchAssessmentFailing": "the only assessment succeeded",
    "ChainwatchAssessmentStale": "the assessment finished seconds ago",
    "ChainwatchNotificationBacklog": "the receiver acknowledged every notification: nothing is pending",
    "ChainwatchNotificationDeadLetters": "no notification was given up",
    "ChainwatchJobFailing": "no scheduled job failed",  # #23
    "ChainwatchNoLeader": "the one replica leads",  # #23
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[PrometheusAPI]:
    """chainwatch run (demo data) scraped by a real Prometheus with the shipped rules loaded."""
    cwd = tmp_path_factory.mktemp("prometheus-e2e")
    # `chainwatch run` serves what `assess --once` stored; no start-up bootstrap (stress suite,
    # report) competing for the CPU (tests/e2e/test_first_start.py tests the bootstrap).
    config_copy(cwd / "config", settings=NO_BOOTSTRAP)
    with RecordingReceiver() as receiver:
        assess = subprocess.run([str(CHAINWATCH), "assess", "--once", "--format", "json"], cwd=cwd,
                                env=_env(CHAINWATCH_WEBHOOK_URL=receiver.url), capture_output=True, text=True,
                                timeout=300)
    assert assess.returncode == 0, assess.stderr
    assert receiver.requests, "the demo run sent no notification: the outbox metrics would have no receiver"

    chainwatch_port, prometheus_port = _free_port(), _free_port()
    chainwatch_log = cwd / "chainwatch.log"
    prometheus_log = cwd / "prometheus.log"
    config = cwd / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [{"job_name": "chainwatch",
                            "static_configs": [{"targets": [f"127.0.0.1:{chainwatch_port}"]}]}],
    }))
    processes: list[tuple[subprocess.Popen, int]] = []
    with chainwatch_log.open("w") as cw_out, prometheus_log.open("w") as prom_out:
        try:
            service = subprocess.Popen(
                [str(CHAINWATCH), "run", "--port", str(chainwatch_port)], cwd=cwd, env=_env(),
                stdout=cw_out, stderr=subprocess.STDOUT)
            processes.append((service, signal.SIGTERM))
            _wait_for("chainwatch /readyz", lambda: httpx.get(
                f"http://127.0.0.1:{chainwatch_port}/readyz", timeout=1).status_code == 200, service, chainwatch_log)

            server = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={cwd / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
                cwd=cwd, stdout=prom_out, stderr=subprocess.STDOUT)
            processes.append((server, signal.SIGTERM))
            api = PrometheusAPI(f"http://127.0.0.1:{prometheus_port}")
            _wait_for("prometheus /-/ready", lambda: httpx.get(
                f"{api.url}/-/ready", timeout=1).status_code == 200, server, prometheus_log)

            def scraped_twice() -> bool:
                result = api.result('count_over_time(up{job="chainwatch"}[1m])')
                return bool(result) and float(result[0]["value"][1]) >= 2

            _wait_for("two scrapes of chainwatch", scraped_twice, server, prometheus_log)
            second_scrape = time.time()
            _wait_for("a rule evaluation after the second scrape",
                      lambda: _rule_groups_evaluated_after(api, second_scrape + 1), server, prometheus_log)
            yield api
        finally:
            for process, sig in reversed(processes):
                _stop(process, sig)


def test_target_is_healthy(prometheus):
    (target,) = prometheus.get("/api/v1/targets")["data"]["activeTargets"]
    assert target["health"] == "up", target.get("lastError")
    assert target["lastError"] == ""
    assert float(prometheus.result('scrape_samples_scraped{job="chainwatch"}')[0]["value"][1]) > 100
    (build,) = prometheus.result("chainwatch_build_info")
    assert build["metric"]["version"]


@pytest.fixture(scope="module")
def chain(prometheus) -> str:
    """The value ``$chain`` takes: the riskiest chain (the demo has firing alerts on it)."""
    (top,) = prometheus.result("topk(1, chainwatch_chain_risk_score)")
    return top["metric"]["chain"]


def _ids(expressions: list[Expression]) -> list[str]:
    return [e.where for e in expressions]


DASHBOARD_EXPRESSIONS = dashboard_expressions()
RULE_EXPRESSIONS = rule_expressions()


@pytest.mark.parametrize("expression", DASHBOARD_EXPRESSIONS, ids=_ids(DASHBOARD_EXPRESSIONS))
def test_dashboard_query_returns_data(prometheus, chain, expression):
    expr = _expand(expression.expr, chain)
    assert prometheus.result(expr), f"{expression.where}: {expr!r} returned no data"


@pytest.mark.parametrize("query", template_queries(), ids=lambda q: q.where)
def test_template_variable_has_values(prometheus, query):
    values = prometheus.label_values(query.label, query.match)
    assert len(values) >= 5, f"{query.where}: {values}"


@pytest.mark.parametrize("expression", RULE_EXPRESSIONS, ids=_ids(RULE_EXPRESSIONS))
def test_rule_expression(prometheus, expression):
    result = prometheus.result(expression.expr)
    if expression.alert in ALERTS_QUIET_ON_HEALTHY_DEMO:
        why = ALERTS_QUIET_ON_HEALTHY_DEMO[expression.alert]
        assert result == [], f"{expression.where} fires on the healthy demo ({why} should keep it quiet): {result}"
        operand = alert_operand(expression.expr)
        assert prometheus.result(operand), f"{expression.where}: {operand!r} measures nothing"
    else:
        assert result, f"{expression.where}: {expression.expr!r} returned no data"


def test_recorded_series_and_risk_alert_exist_in_prometheus(prometheus):
    for expression in RULE_EXPRESSIONS:
        if expression.alert is None:
            name = expression.where.rsplit(": ", 1)[-1]
            assert prometheus.result(name), f"recording rule {name} produced nothing"
    # The demo has a chain at red: the only ops alert a healthy demo fires.
    firing = prometheus.result('ALERTS{alertstate="firing"}')
    assert {a["metric"]["alertname"] for a in firing} == {"ChainwatchChainAtRed"}, firing
