"""HTTP hardening (issue 25): control characters in paths, symlinked report files, slow headers."""

from __future__ import annotations

import logging
import socket
import threading

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from monitor.config.loader import load_config
from monitor.serve.api import ApiContext
from monitor.serve.request_limits import header_timeout_protocol
from monitor.serve.server import create_http_app
from tests.conftest import CONFIG_DIR


def _client(report_dir) -> TestClient:
    config = load_config(CONFIG_DIR, environ={})
    report = config.settings.report.model_copy(update={"out_dir": str(report_dir)})
    config = config.model_copy(update={"settings": config.settings.model_copy(update={"report": report})})
    engine = create_engine("sqlite://")
    app = create_http_app(CollectorRegistry(), engine, ApiContext(config, sessionmaker(engine), ()))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def reports(tmp_path):
    root = tmp_path / "reports"
    (root / "run-1").mkdir(parents=True)
    (root / "run-1" / "report.html").write_text("<p>the report</p>", encoding="utf-8")
    (root / "run-1" / "report.json").write_text('{"ok": true}', encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not a report", encoding="utf-8")
    (outside / "report.html").write_text("not a report either", encoding="utf-8")
    (root / "run-2").mkdir()
    (root / "run-2" / "report.html").symlink_to(outside / "secret.txt")
    (root / "run-2" / "report.json").symlink_to(outside / "secret.txt")
    (root / "run-3").symlink_to(outside, target_is_directory=True)
    return root


@pytest.mark.parametrize("path", ["/api/v1/reports/run-1%00", "/api/v1/reports/run-1%00/html",
                                  "/api/v1/reports/run%0A1", "/api/v1/chains/batteries%01",
                                  "/api/v1/runs/1%7F", "/reports/latest%00"])
def test_control_characters_in_the_path_are_400_without_a_traceback(reports, caplog, path):
    with caplog.at_level(logging.DEBUG):
        response = _client(reports).get(path)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_request",
                                         "message": "the request path contains a control character"}}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_report_files_behind_symlinks_are_not_served(reports):
    client = _client(reports)
    assert client.get("/api/v1/reports/run-1/html").text == "<p>the report</p>"
    for path in ("/api/v1/reports/run-2/html", "/api/v1/reports/run-3/html", "/api/v1/reports/run-3"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not a report" not in response.text
    assert client.get("/api/v1/reports/run-2").json()["document"] is None
    listed = {item["name"]: item for item in client.get("/api/v1/reports").json()["items"]}
    assert set(listed) == {"run-1"}  # run-2 has only symlinks, run-3 is one
    assert client.get("/reports/latest").text == "<p>the report</p>"


def test_latest_report_never_follows_a_symlink(reports):
    (reports / "run-1" / "report.html").unlink()
    response = _client(reports).get("/reports/latest")
    assert response.status_code == 404 and "not a report" not in response.text


class _Server:
    """uvicorn with the header-timeout protocol on a socket bound before it starts (no start-up race)."""

    def __init__(self, seconds: float):
        app = FastAPI()
        app.get("/")(lambda: {"ok": True})
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)  # connections queue until uvicorn accepts them
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None, lifespan="off",
                                                    http=header_timeout_protocol(seconds), timeout_keep_alive=60))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        return conn


def _read_until_closed(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_a_client_that_never_finishes_its_headers_is_disconnected():
    with _Server(0.5) as server, server.connect() as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # The server closes the connection (recv returns b""); the 30 s socket timeout
        # would raise instead if it never did.
        assert _read_until_closed(conn) == b""


def test_complete_requests_are_answered_and_the_next_slow_one_is_cut():
    with _Server(0.5) as server, server.connect() as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b'{"ok":true}'):  # headers and body may come in separate packets
            chunk = conn.recv(65536)
            assert chunk, f"closed after {first!r}"
            first += chunk
        assert first.startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # kept alive, second request never finished
        assert _read_until_closed(conn) == b""
