"""Links that work (#23 item 6): ``/reports/latest``, the index at ``/``, alerts linking to their chain."""

from __future__ import annotations

import os
import time

from fastapi.testclient import TestClient

from monitor.config.loader import load_config
from monitor.notify.alerting import risk_subjects
from monitor.serve.api import ApiContext
from monitor.serve.server import create_http_app
from monitor.store.database import make_engine, migrate, session_factory
from monitor.telemetry.metrics import build_registry
from tests.conftest import CONFIG_DIR


def _client(tmp_path, config):
    engine = make_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    registry, _ = build_registry(sessions)
    return TestClient(create_http_app(registry, engine, ApiContext(config, sessions, ())))


def test_latest_report_index_and_404(tmp_path):
    config = load_config(CONFIG_DIR, environ={})
    out = tmp_path / "reports"
    config = config.model_copy(update={"directory": str(tmp_path), "settings": config.settings.model_copy(
        update={"report": config.settings.report.model_copy(update={"out_dir": str(out)})})})
    client = _client(tmp_path, config)
    index = client.get("/")
    assert index.status_code == 200 and 'href="reports/latest"' in index.text and 'href="metrics"' in index.text
    assert client.get("/reports/latest").status_code == 404
    for name, body in (("2025-11", "old"), ("2025-12", '<h2 id="chain-batteries">new</h2>')):
        (out / name).mkdir(parents=True)
        (out / name / "report.html").write_text(body, encoding="utf-8")
        time.sleep(0.01)
    stamp = time.time()
    os.utime(out / "2025-12" / "report.html", (stamp, stamp))
    latest = client.get("/reports/latest")
    assert latest.status_code == 200 and 'id="chain-batteries"' in latest.text


def test_alerts_link_to_their_chain_section():
    config = load_config(CONFIG_DIR, environ={"CHAINWATCH_EXTERNAL_URL": "https://cw.example.org/"})
    from tests.e2e.test_alertmanager_semantics import _result

    (chain, node) = risk_subjects(_result(1, "red", 90.0, "red", 88.0), config)
    base = config.settings.external_url.rstrip("/")
    assert chain.annotations["report_url"] == f"{base}/reports/latest#chain-batteries"
    assert node.annotations["report_url"] == f"{base}/reports/latest#chain-batteries"
