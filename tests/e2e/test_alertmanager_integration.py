"""chainwatch → a real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) on loopback.

Skipped, with the reason shown, only when the binary is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from datetime import date, datetime, timezone

import httpx
import pytest

from monitor.notify.alerting import AlertPipeline
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.config.models import AlertsFile
from tests.conftest import CONFIG_DIR

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path):
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n", encoding="utf-8")
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen([BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            assert time.monotonic() < deadline, "alertmanager did not become ready in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _result(level, score):
    node = NodeAssessment(chain="batteries", node="cells-packs", name_en="Cells", name_zh="电芯", criticality=1.0,
                          own_score=40.0, judgement=Judgement(40.0, "blue", "blue", 0, 1.0),
                          dimensions={"concentration": 40.0}, drivers=[])
    chain = ChainAssessment(chain="batteries", name_en="Batteries", name_zh="电池",
                            judgement=Judgement(score, level, level, 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=1, as_of=date(2025, 12, 1), chains=[chain], findings=[])


def test_alerts_reach_alertmanager_and_resolve_there(alertmanager, sessions):
    # Real time: a firing alert's endsAt (now + validity) must lie ahead on Alertmanager's clock.
    now = [datetime.now(timezone.utc)]
    base = load_config(CONFIG_DIR, environ={})
    config = base.model_copy(update={"alerts": AlertsFile.model_validate({
        "receivers": [{"name": "default-webhook", "kind": "alertmanager", "url": alertmanager}],
        "default_receivers": ["default-webhook"],
        "rules": [{"name": "chain-orange", "scope": "chain", "min_level": "orange"}],
        "route": {"group_interval": "1s"}})})
    with httpx.Client(trust_env=False) as client:
        pipeline = AlertPipeline(config, sessions, client, lambda: now[0], rng=random.Random(1))
        pipeline.evaluate(_result("red", 91.0))
        assert pipeline.deliver_due().delivered == 1
        active = httpx.get(f"{alertmanager}/api/v2/alerts", params={"active": "true"}, timeout=5).json()
        (alert,) = active
        # #23: identity labels only; the level, severity and rule name are annotations.
        assert alert["labels"]["chain"] == "batteries" and alert["labels"]["alertname"] == "ChainwatchChainRiskLevel"
        assert "level" not in alert["labels"] and "severity" not in alert["labels"]
        assert alert["annotations"]["level"] == "red" and alert["annotations"]["rule"] == "chain-orange"
        assert alert["status"]["state"] == "active"
        assert "node" not in alert["labels"]  # empty labels are left out

        now[0] = datetime.now(timezone.utc)
        pipeline.evaluate(_result("yellow", 55.0))
        assert pipeline.deliver_due().delivered == 1
        deadline = time.monotonic() + 10
        while httpx.get(f"{alertmanager}/api/v2/alerts", params={"active": "true"}, timeout=5).json():
            assert time.monotonic() < deadline, "the resolved alert stayed active in Alertmanager"
            time.sleep(0.2)
