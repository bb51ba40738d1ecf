"""The real monitoring binaries the e2e tests run chainwatch behind (Debian's
``prometheus`` and ``prometheus-alertmanager``), and the helpers to start, poll and stop
them and ``chainwatch`` processes. One home for what several e2e tests share.

Every wait polls with a deadline (no fixed sleeps) and fails with the tail of the
process's log when the process died or the deadline passed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from tests.promql_sources import RULE_FILES, load_rule_groups

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CHAINWATCH = Path(sys.executable).with_name("chainwatch")
ALERTMANAGER_EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "alertmanager" / "alertmanager.yml"
DEADLINE_SECONDS = 90
#: Grafana's built-in variables, as a dashboard would expand them.
GRAFANA_BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chainwatch_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's ``CHAINWATCH_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}
    env.update(extra)
    return env


def wait_for(what: str, check: Callable[[], bool], process: subprocess.Popen, log: Path,
             deadline_seconds: float = DEADLINE_SECONDS) -> None:
    """Poll ``check`` until it holds; fail at the deadline or when ``process`` died."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            pytest.fail(f"{what}: process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached within {deadline_seconds} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def expand(expr: str, chain: str) -> str:
    """A dashboard expression with ``$chain`` and Grafana's built-ins filled in."""
    expanded = expr.replace("${chain}", chain).replace("$chain", chain)
    for variable, value in GRAFANA_BUILTINS.items():
        expanded = expanded.replace(variable, value)
    assert "$" not in expanded, f"unexpanded variable in {expr!r}"
    return expanded


class PrometheusAPI:
    """The few HTTP API calls the tests need."""

    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> dict:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        return response.json()

    def result(self, expr: str) -> list:
        answer = self.query(expr)
        assert answer["status"] == "success", f"{expr!r}: {answer.get('errorType')}: {answer.get('error')}"
        return answer["data"]["result"]

    def label_values(self, label: str, match: str) -> list[str]:
        response = httpx.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": match}, timeout=10)
        answer = response.json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def get(self, path: str) -> dict:
        return httpx.get(f"{self.url}{path}", timeout=10).json()


def rule_groups_evaluated_after(api: PrometheusAPI, moment: float) -> bool:
    """Every shipped rule group loaded and evaluated after unix time ``moment``."""
    groups = api.get("/api/v1/rules")["data"]["groups"]
    if len(groups) < sum(len(g) for g in load_rule_groups().values()):
        return False
    for group in groups:
        stamp = datetime.fromisoformat(group["lastEvaluation"][:19]).replace(tzinfo=timezone.utc).timestamp()
        if stamp < moment:
            return False
    return True


def vector(api: PrometheusAPI, expr: str) -> dict[tuple, float]:
    """An instant query's samples by label set without ``instance`` (two replicas must not differ by it)."""
    out = {}
    for sample in api.result(expr):
        labels = tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "instance"))
        assert labels not in out, f"{expr!r}: two series differ only by instance: {labels}"
        out[labels] = float(sample["value"][1])
    return out


def start_prometheus(cwd: Path, name: str, targets: list[str], processes: list,
                     alertmanager: str | None = None) -> PrometheusAPI:
    """A Prometheus scraping ``targets`` every second with the shipped rules (sending its
    alerts to ``alertmanager``, host:port, if given); returns once it scraped each three times."""
    port = free_port()
    config = cwd / f"{name}.yml"
    document = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [{"job_name": "chainwatch", "static_configs": [{"targets": targets}]}],
    }
    if alertmanager is not None:
        document["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config.write_text(yaml.safe_dump(document))
    log = cwd / f"{name}.log"
    server = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={cwd / name}",
                               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                              cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    processes.append(server)
    api = PrometheusAPI(f"http://127.0.0.1:{port}")
    wait_for(f"{name} ready", lambda: httpx.get(f"{api.url}/-/ready", timeout=1).status_code == 200, server, log)

    def scraped() -> bool:
        result = api.result('count_over_time(up{job="chainwatch"}[1m])')
        return len(result) == len(targets) and all(float(r["value"][1]) >= 3 for r in result)

    wait_for(f"{name}: three scrapes of every target", scraped, server, log)
    return api


def start_alertmanager(cwd: Path, hook_url: str, processes: list) -> str:
    """Alertmanager running the shipped example config, its webhook receivers pointed at
    ``hook_url`` (``/hook`` replaced by ``/<receiver name>``), its timings shortened;
    returns its URL once ready."""
    config = yaml.safe_load(ALERTMANAGER_EXAMPLE.read_text(encoding="utf-8"))
    config["route"].update(group_wait="0s", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = hook_url.replace("/hook", "/" + receiver["name"])
    path = cwd / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = cwd / "alertmanager.log"
    proc = subprocess.Popen([ALERTMANAGER, f"--config.file={path}", f"--storage.path={cwd / 'alertmanager-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    processes.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_for("alertmanager ready", lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, proc, log, 30)
    return url
