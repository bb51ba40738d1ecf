"""Fault injection, end to end, on loopback servers: upstream faults and the database going away.

Upstream (a fake Comtrade on 127.0.0.1, real sockets): HTML error pages, truncated
JSON, 429 with ``Retry-After``, 5xx bursts, answers slower than the timeout,
connection resets and schema drift. After each failed collection the stored data
is byte-for-byte what it was, the failure shows once in the log and in the
request metrics, and the next good run catches up (stores the revision the failed
run could not).

Database (PostgreSQL behind a :class:`~tests.tcp_gate.TcpGate`): while it is
unreachable, jobs fail cleanly (counted, logged, nothing raised into the
scheduler), ``/readyz`` answers 503, nothing is half-written; once it is back the
same process recovers without a restart. ``pg_terminate_backend`` on the pool's
connections is survived the same way.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from monitor.app import build_app
from monitor.collect.collection import CollectionRunner, build_collectors, request_observer
from monitor.config.loader import load_config
from monitor.collect.http import HttpOptions
from monitor.serve.jobs import JobRunner
from monitor.telemetry.metrics import build_registry
from monitor.clock import system_clock
from monitor.serve.scheduler import configured_jobs
from monitor.serve.server import create_http_app
from monitor.store.database import make_engine, migrate, session_factory
from tests.collector_fakes import FakeTime, fixture_json, fixture_text, local_server, send
from tests.conftest import POSTGRES_URL, _PG_SKIP
from tests.tcp_gate import TcpGate
from tests.integration.test_collect_command import FakeComtrade, config_dir, dump_tables

CHN_2023 = ("CHN", "8105", "2023")


def _reset_connection(handler) -> None:
    """Close the client's connection with a TCP RST and no answer."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def _drifted(document: dict) -> dict:
    for row in document["data"]:
        row["primary_value"] = row.pop("primaryValue")  # a renamed field
    return document


FAULTS = {
    # name: (how the server answers, the request outcome counted, what the error says)
    "html_error_page": (lambda h: send(h, 502, fixture_text("comtrade/gateway_error.html"), "text/html"),
                        "http_5xx", "HTTP 502"),
    "html_with_200": (lambda h: send(h, 200, fixture_text("comtrade/gateway_error.html"), "text/html"),
                      "bad_payload", "HTML page instead of JSON"),
    "truncated_json": (lambda h: send(h, 200, '{"elapsedTime": "0.1s", "count": 8, "data": [{"typeCode": "C", '),
                       "bad_payload", "malformed JSON"),
    "rate_limited": (lambda h: send(h, 429, '{"statusCode": 429, "message": "Rate limit is exceeded. '
                                            'Try again in 7 seconds."}', headers={"Retry-After": "7"}),
                     "rate_limited", "HTTP 429"),
    "server_errors": (lambda h: send(h, 503, '{"message": "maintenance"}'), "http_5xx", "HTTP 503"),
    "slow": (lambda h: (time.sleep(1.0), send(h, 200, "{}")), "timeout", "ReadTimeout"),
    "connection_reset": (_reset_connection, "connect_error", "failed after 2 attempt(s)"),
    # The HTTP exchange itself succeeds: the drift shows in the stored-run metrics only.
    "schema_drift": (None, None, "lacks field(s)"),
}


class FaultyComtrade(FakeComtrade):
    """The recorded Comtrade answers, or the injected fault while ``fault`` is set.

    ``budget``: how many requests get the fault before the server answers normally
    again (None: every request).
    """

    def __init__(self) -> None:
        super().__init__()
        self.fault: str | None = None
        self.budget: int | None = None
        self.faulted = 0

    def __call__(self, handler) -> None:
        if self.fault is None or (self.budget is not None and self.faulted >= self.budget):
            return super().__call__(handler)
        self.faulted += 1
        if self.fault == "schema_drift":
            document = fixture_json("comtrade/preview_annual_usa_8105_2846.json")
            return send(handler, 200, json.dumps(_drifted(document)))
        return FAULTS[self.fault][0](handler)


@pytest.fixture
def faulty_comtrade():
    fake = FaultyComtrade()
    with local_server(fake) as url:
        yield fake, url


def _runner(tmp_path, url):
    """A collection runner on a fresh SQLite database, with fake sleep; also returns /metrics' registry."""
    directory = config_dir(tmp_path, url)
    sources = yaml.safe_load((directory / "sources.yaml").read_text(encoding="utf-8"))
    sources["sources"][0].update(timeout_seconds=0.3, connect_timeout_seconds=1)
    (directory / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    config = load_config(directory, environ={})
    db_url = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    fake_time = FakeTime()
    registry, metrics = build_registry(sessions, system_clock)
    options = HttpOptions(sleep=fake_time.sleep, monotonic=fake_time.monotonic, jitter=lambda: 1.0,
                          observer=request_observer(metrics))
    runner = CollectionRunner(build_collectors(config, options), sessions, system_clock, metrics)
    return runner, engine, db_url, fake_time, registry


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_upstream_fault_leaves_data_intact_is_reported_once_and_the_next_run_catches_up(
        fault, tmp_path, faulty_comtrade, caplog, monkeypatch):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    fake, url = faulty_comtrade
    runner, engine, db_url, fake_time, registry = _runner(tmp_path, url)
    try:
        assert runner.collect("comtrade").rows_ingested == 8
        before = dump_tables(db_url)

        fake.revised = 7_100_000.0  # the upstream revised a value; the failing runs must not half-store it
        fake.fault = fault
        caplog.clear()
        caplog.set_level(logging.INFO, logger="monitor")
        outcome, name, message = FAULTS[fault]
        for _ in range(3):  # the source stays down for three scheduled runs
            failed = runner.collect("comtrade", since=None)
            assert not failed.ok and message in failed.error, failed.error
            assert dump_tables(db_url) == before
        down = [r for r in caplog.records if "is failing" in r.getMessage()]
        assert len(down) == 1 and down[0].levelno == logging.ERROR  # once, not a flood
        get = registry.get_sample_value
        if name is not None:
            assert get("chainwatch_collector_requests_total", {"source": "comtrade", "outcome": name}) >= 3
        assert get("chainwatch_collector_last_run_failed", {"source": "comtrade"}) == 1
        assert get("chainwatch_collector_runs_total", {"source": "comtrade", "status": "failed"}) == 3
        if fault == "rate_limited":
            assert 7.0 in fake_time.sleeps  # Retry-After honoured between attempts

        fake.fault = None
        caplog.clear()
        recovered = runner.collect("comtrade")
        assert recovered.ok and recovered.rows_ingested == 1  # the revision the failed runs could not store
        assert [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()] == [
            "source comtrade recovered"]
        with engine.connect() as connection:
            statuses = [s for (s,) in connection.execute(text("SELECT status FROM collector_runs ORDER BY id"))]
            values = sorted(v for (v,) in connection.execute(text(
                "SELECT value FROM trade_flows WHERE partner = 'CHN' AND product = '8105' "
                "AND CAST(period AS TEXT) LIKE '2023%'")))
        assert statuses == ["succeeded"] + ["failed"] * 3 + ["succeeded"]
        assert values == [6998425.0, 7_100_000.0]
        assert registry.get_sample_value("chainwatch_collector_last_run_failed", {"source": "comtrade"}) == 0
    finally:
        runner.close()
        engine.dispose()


def test_a_short_burst_within_the_retries_is_absorbed(tmp_path, faulty_comtrade, monkeypatch):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    fake, url = faulty_comtrade
    fake.fault, fake.budget = "rate_limited", 1  # one 429, then the normal answer
    runner, engine, _, fake_time, registry = _runner(tmp_path, url)
    try:
        outcome = runner.collect("comtrade")
        assert outcome.ok and outcome.rows_ingested == 8
    finally:
        runner.close()
        engine.dispose()
    assert fake_time.sleeps == [7.0]
    get = registry.get_sample_value
    assert get("chainwatch_collector_requests_total", {"source": "comtrade", "outcome": "rate_limited"}) == 1


# --- the database going away ---------------------------------------------------------


def _gated_url(gate: TcpGate, schema: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{gate.port}"
    netloc = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    # application_name marks this test's connections: only they are terminated (others share the server).
    return (f"{parts.scheme}://{netloc}{parts.path}?options=-csearch_path%3D{schema}&connect_timeout=2"
            f"&application_name={schema}")


def _data_dump(engine) -> str:
    with engine.connect() as connection:
        out = []
        for table, order in (("observations", "1, 2, 3"), ("trade_flows", "1, 2, 3, 4, 5"), ("series", "1"),
                             ("assessment_runs", "1"), ("risk_scores", "1"), ("findings", "1"), ("alerts", "1"),
                             ("notification_outbox", "1")):
            out.append(repr(connection.execute(text(f"SELECT * FROM {table} ORDER BY {order}")).all()))
    return "\n".join(out)


@pytest.mark.postgres
def test_database_unavailable_then_back_without_restart(tmp_path, caplog):
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    caplog.set_level(logging.INFO, logger="monitor")
    import uuid

    schema = f"cw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    gate = TcpGate("127.0.0.1", urlsplit(POSTGRES_URL).port or 5432)
    from tests.e2e.test_reliability_crash import crash_config_dir
    from tests.webhook_receiver import DedupReceiver

    try:
        with DedupReceiver() as receiver:
            app = build_app(crash_config_dir(tmp_path / "config", receiver.url), _gated_url(gate, schema))
            jobs = {job.id: job for job in configured_jobs(app)}
            runner = JobRunner(list(jobs.values()), app.metrics)
            http = TestClient(create_http_app(app.registry, app.engine))
            try:
                runner("collect:demo")
                runner("assess")
                assert http.get("/readyz").status_code == 200
                before = _data_dump(app.engine)
                keys = set(receiver.acknowledged)
                assert keys

                gate.down()  # PostgreSQL unreachable: connections refused, open ones reset
                caplog.clear()
                for job_id in ("collect:demo", "assess", "dispatch", "report", "stress", "dispatch", "dispatch"):
                    runner(job_id)  # never raises
                dispatch_lines = [r for r in caplog.records if "job dispatch failed" in r.getMessage()]
                assert [r.levelno for r in dispatch_lines] == [logging.ERROR, logging.WARNING, logging.WARNING]
                assert dispatch_lines[0].exc_info and not dispatch_lines[1].exc_info  # one traceback, not a flood
                assert "3 runs in a row" in dispatch_lines[2].getMessage()
                failures = {job_id: app.registry.get_sample_value(
                    "chainwatch_job_runs_total", {"job": job_id, "outcome": "failure"})
                    for job_id in ("collect:demo", "assess", "dispatch")}
                assert failures == {"collect:demo": 1, "assess": 1, "dispatch": 3}, failures
                ready = http.get("/readyz")
                assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
                assert sum("failed" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records) >= 5

                gate.up()  # back, same process: the pool reconnects (pre-ping)
                assert http.get("/readyz").status_code == 200
                assert _data_dump(app.engine) == before  # nothing half-written while down
                with admin.connect() as connection:  # kill every pool connection from the server side
                    terminated = connection.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"),
                        {"n": schema}).scalar()
                assert terminated >= 1
                caplog.clear()
                runner("assess")
                runner("dispatch")
                assert "job dispatch recovered after 3 failed run(s)" in caplog.text
                assert http.get("/readyz").status_code == 200
                assert app.registry.get_sample_value("chainwatch_job_runs_total",
                                                     {"job": "assess", "outcome": "success"}) == 2
                with app.engine.connect() as connection:
                    runs = connection.execute(text("SELECT status FROM assessment_runs ORDER BY id")).scalars().all()
                assert runs == ["succeeded", "succeeded"]
                assert all(count == 1 for count in receiver.acknowledged.values())
            finally:
                http.close()
                app.close()
    finally:
        gate.close()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
