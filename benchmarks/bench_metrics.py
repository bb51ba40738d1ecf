"""``/metrics`` scrape time with 50 chains × 20 nodes stored (target ≤ 50 ms).

Synthetic assessment runs are written directly with the storage functions (scores of
every chain, node and dimension; two findings per node), with some history behind the
latest run (earlier runs, a year of daily collections, delivered notifications,
alerts) so that the queries have to pick the latest state out of more than it. The
service's HTTP app then runs under uvicorn on loopback and is scraped repeatedly over
HTTP, as Prometheus does: once with the plain text format and once with the Accept
header Prometheus 2.x sends (OpenMetrics). Median and p95 over the scrapes.

Those are the steady state: the families of a completed run are read and encoded
once per run and reused. The first scrape after a new run also reads and encodes
them; it is measured separately (in process, a fresh registry each time).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from alerts.model import Alert
from benchmarks.table import BenchRow
from indicators.vocabulary import LEVELS
from monitor.records import CollectedBatch
from monitor.telemetry.metrics import build_registry
from monitor.serve.server import create_http_app
from monitor.store.alert_store import QueuedNotification, save_alerts_and_enqueue
from monitor.store.assessments import complete_run, start_run
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch
from monitor.store.tables import OutboxMessage

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)


def _run_rows(chains: int, nodes: int, seed: int) -> tuple[list[dict], list[dict]]:
    scores, findings = [], []
    for c in range(chains):
        chain = f"chain-{c:02d}"
        scores.append({"chain": chain, "node": "", "dimension": "overall", "score": float((c * 7 + seed) % 100),
                       "level": LEVELS[(c + seed) % 5], "drivers": ["synthetic"]})
        for n in range(nodes):
            node = f"node-{n:02d}"
            value = float((c * 31 + n * 17 + seed) % 100)
            scores.append({"chain": chain, "node": node, "dimension": "overall", "score": value,
                           "level": LEVELS[int(value) // 20], "drivers": ["synthetic driver text " * 3]})
            scores.append({"chain": chain, "node": node, "dimension": "concentration", "score": value,
                           "level": "", "drivers": []})
            scores.append({"chain": chain, "node": node, "dimension": "disruption", "score": value / 2,
                           "level": "", "drivers": []})
            judged = ((f"imports.{chain}.{node}", date(2025, 12, 1)), (f"prod.{chain}.{node}", date(2025, 11, 1)))
            for series, period in judged:
                findings.append({
                    "chain": chain, "node": node, "series_id": series, "method": "stl_residual", "period": period,
                    "status": "flagged" if (n + seed) % 7 == 0 else "normal", "direction": None, "observed": 1.0,
                    "expected": 1.0, "lower": 0.5, "upper": 1.5, "score": 0.4,
                    "explanation_en": "synthetic finding " * 5, "explanation_zh": "合成 " * 5})
    return scores, findings


def populate(sessions: sessionmaker[Session], chains: int, nodes: int, runs: int, days: int) -> None:
    """Write ``runs`` assessment runs of ``chains`` × ``nodes`` and ``days`` of service history."""
    start = NOW - timedelta(days=days)
    for day in range(days):
        for source in ("comtrade", "production", "demo"):
            store_batch(sessions, CollectedBatch(source=source, vintage=f"v{day}"), start + timedelta(days=day))
    for r in range(runs):
        scores, findings = _run_rows(chains, nodes, seed=r)
        when = NOW - timedelta(days=runs - r)
        run_id = start_run(sessions, "hash", when)
        complete_run(sessions, run_id, date(2025, 12, 1), findings, scores, when + timedelta(seconds=30))
    alerts = [Alert(fingerprint=f"fp-{c}-{n}", labels={"chain": f"chain-{c:02d}", "node": f"node-{n:02d}",
                                                       "kind": "risk_level", "severity": "critical"},
                    annotations={}, state="firing", starts_at=NOW - timedelta(days=1))
              for c in range(chains) for n in range(0, nodes, 5)]
    queued = [QueuedNotification(f"key-{i}", f"receiver-{i % 3}", "{}", "{}") for i in range(days * 3)]
    with sessions.begin() as session:
        save_alerts_and_enqueue(session, alerts, queued, None, NOW - timedelta(days=1))
    with sessions.begin() as session:
        session.query(OutboxMessage).filter(OutboxMessage.id % 10 != 0).update({"status": "delivered"})


class _Server:
    """The service's HTTP app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, app):
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/metrics"

    def __exit__(self, *_exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def _scrape_ms(client: httpx.Client, url: str, accept: str | None, repeats: int) -> tuple[list[float], httpx.Response]:
    headers = {"Accept": accept} if accept else {}
    response = client.get(url, headers=headers)  # warm-up (connection, caches)
    response.raise_for_status()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times, response


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(quick: bool) -> list[BenchRow]:
    """Scrape ``/metrics`` repeatedly over 50 × 20 stored nodes (quick: 5 × 4, few scrapes)."""
    chains, nodes, runs, days, repeats = (5, 4, 2, 10, 10) if quick else (50, 20, 5, 365, 100)
    case = f"{chains} chains x {nodes} nodes"
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        sessions = session_factory(engine)
        populate(sessions, chains, nodes, runs, days)
        registry, _ = build_registry(sessions)
        with _Server(create_http_app(registry, engine)) as url, httpx.Client(timeout=30) as client:
            for label, accept in (("text 0.0.4", None), ("OpenMetrics (Prometheus' Accept)", PROMETHEUS_ACCEPT)):
                times, response = _scrape_ms(client, url, accept, repeats)
                note = f"{repeats} scrapes over HTTP, SQLite; {len(response.content) / 1024:.0f} KiB"
                rows.append(BenchRow("metrics", f"/metrics {label}, median, {case}",
                                     statistics.median(times), "ms", "", note))
                rows.append(BenchRow("metrics", f"/metrics {label}, p95, {case}", _p95(times), "ms",
                                     "<= 50 ms", note))
            samples = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
            rows.append(BenchRow("metrics", f"samples per scrape, {case}", samples, "samples"))
        cold, cold_cpu = [], []
        for _ in range(max(3, repeats // 10)):
            fresh, _ = build_registry(sessions)
            started, started_cpu = time.perf_counter(), time.process_time()
            fresh.render(PROMETHEUS_ACCEPT)
            cold.append((time.perf_counter() - started) * 1000)
            cold_cpu.append((time.process_time() - started_cpu) * 1000)
        note = f"{len(cold)} fresh registries, in process"
        rows.append(BenchRow("metrics", f"first scrape after a new run (OpenMetrics), median, {case}",
                             statistics.median(cold), "ms", "<= 50 ms", note))
        # CPU time too: on a shared machine the wall time mostly measures the other load.
        rows.append(BenchRow("metrics", f"first scrape after a new run, CPU time, median, {case}",
                             statistics.median(cold_cpu), "ms", "", note))
        engine.dispose()
    return rows
