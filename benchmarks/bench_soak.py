"""Soak: months of chainwatch's schedule in compressed time, with fault bursts.

``python -m benchmarks soak`` (90 simulated days; ``--quick``: 4 days). The same
jobs ``chainwatch run`` schedules (collections, assessment with alerting, weekly
stress tests, the monthly report, the dispatcher) run at the times their triggers
give, on an injected clock, one after the other; nothing sleeps. The dispatcher
runs hourly instead of every 30 s (the only compression of the schedule itself).

Fault bursts, drawn from a seeded RNG per simulated day: the upstream file source
answers HTML error pages, 503s, truncated CSV or resets the connection for a day or
two; the webhook receiver (behind a TCP gate, de-duplicating on
``Idempotency-Key``) is down for 2-20 hours; on PostgreSQL the database itself is
unreachable for 1-6 hours.

Measured: jobs run and failed, faults injected, notifications queued, delivered,
dead and lost (pending after the final drain, or delivered but never
acknowledged), duplicates the receiver accepted, partial writes (a failed
collection that changed stored rows), orphan rows, RSS and open file descriptors
at the start (after a warm-up that runs every job once: imports, the report's
plotting library) and at the end, and the largest number of pooled database
connections left checked out after a job.
"""

from __future__ import annotations

import dataclasses
import os
import random
import resource
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, func, select, text

from benchmarks.table import BenchRow
from monitor.app import build_app
from monitor.serve.jobs import JobRunner
from monitor.serve.scheduler import configured_jobs
from monitor.store.tables import OutboxMessage
from tests.collector_fakes import FIXTURES, local_server, send
from tests.conftest import SMALL_CHAINS, config_copy
from tests.tcp_gate import TcpGate
from tests.e2e.test_reliability_crash import orphan_rows
from tests.webhook_receiver import DedupReceiver

START = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)  # a Monday: the weekly stress test runs on day 1
UPSTREAM_FAULTS = ("html", "http_503", "truncated", "reset")


class SettableClock:
    """The injected clock of the soak."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FaultyUpstream:
    """Serves the recorded customs CSV, or the fault set in ``fault``."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.csv = (FIXTURES / "files" / "china_customs_imports.csv").read_text(encoding="utf-8")

    def __call__(self, handler) -> None:  # noqa: ANN001
        import socket
        import struct

        if self.fault is None:
            send(handler, 200, self.csv, "text/csv")
        elif self.fault == "html":
            send(handler, 200, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif self.fault == "http_503":
            send(handler, 503, "maintenance", "text/plain")
        elif self.fault == "truncated":
            send(handler, 200, self.csv[: len(self.csv) // 2] + '"unterminated', "text/csv")
        else:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()


def soak_config(target: Path, webhook_url: str, upstream_url: str, report_dir: Path) -> Path:
    """The shipped config cut to two chains (their scenarios and buffers only), demo data from
    2024 (a quick assessment), a file source on ``upstream_url`` and the webhook at ``webhook_url``."""
    config_copy(target, chains=SMALL_CHAINS, demo_start="2024-01", settings={"report": {"out_dir": str(report_dir)}})
    sources = yaml.safe_load((target / "sources.yaml").read_text(encoding="utf-8"))
    sources["sources"].append({
        "id": "customs", "kind": "file", "schedule": "0 2 * * *", "location": f"{upstream_url}/imports.csv",
        "table": "trade_flows", "country_codes": "name", "max_attempts": 1, "timeout_seconds": 5,
        "columns": {"partner": "country", "product": "hs", "period": "year", "value": "usd", "quantity": "kg"},
        "constants": {"reporter": "CHN", "flow": "M"}})
    (target / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    alerts = yaml.safe_load((target / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"][0].update(url=webhook_url, secret="soak-secret", timeout_seconds=2)
    (target / "alerts.yaml").write_text(yaml.safe_dump(alerts), encoding="utf-8")
    return target


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class SoakFigures:
    """What a soak run measured."""

    days: int
    backend: str
    jobs_run: dict[str, int] = field(default_factory=dict)
    jobs_failed: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    notifications: int = 0
    delivered: int = 0
    dead: int = 0
    lost: int = 0
    duplicates_sent: int = 0
    duplicates_accepted: int = 0
    partial_writes: int = 0
    orphans: int = 0
    connections_left_checked_out: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    fds_start: int = 0
    fds_end: int = 0
    samples: list[tuple[int, float, int]] = field(default_factory=list)
    """(day, RSS MB, open fds) at the start of each simulated day."""
    wall_seconds: float = 0.0


def _pg_gated_url(postgres_url: str, gate: TcpGate) -> tuple[str, str]:
    import uuid

    schema = f"cw_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    parts = urlsplit(postgres_url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return schema, (f"{parts.scheme}://{user}127.0.0.1:{gate.port}{parts.path}"
                    f"?options=-csearch_path%3D{schema}&connect_timeout=2")


def soak(workdir: Path, days: int, seed: int = 12, postgres_url: str | None = None,
         fault_rate: float = 1.0, start: datetime = START) -> SoakFigures:
    """Run ``days`` simulated days from ``start``; see the module docstring. Asserts nothing: returns the figures.

    ``fault_rate`` multiplies the daily chance of each fault burst (upstream 25 %,
    receiver 15 %, database 10 %).
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    figures = SoakFigures(days=days, backend="postgresql" if postgres_url else "sqlite")
    upstream = FaultyUpstream()
    db_gate = None
    schema = None
    with DedupReceiver() as receiver, local_server(upstream) as upstream_url:
        hook_gate = TcpGate("127.0.0.1", urlsplit(receiver.url).port)
        if postgres_url:
            db_gate = TcpGate("127.0.0.1", urlsplit(postgres_url).port or 5432)
            schema, db_url = _pg_gated_url(postgres_url, db_gate)
        else:
            db_url = f"sqlite:///{workdir / 'soak.db'}"
        config_dir = soak_config(workdir / "config", f"http://127.0.0.1:{hook_gate.port}/hook", upstream_url,
                                 workdir / "reports")
        clock = SettableClock(start)
        app = build_app(config_dir, db_url, clock)
        try:
            # Interval jobs count from the simulated start (their own triggers count from
            # the wall clock); the dispatcher hourly instead of every 30 s.
            jobs = [dataclasses.replace(job, trigger=IntervalTrigger(
                        seconds=3600 if job.id == "dispatch" else job.trigger.interval.total_seconds(),
                        start_date=start))
                    if isinstance(job.trigger, IntervalTrigger) else job for job in configured_jobs(app)]
            runner = JobRunner(jobs, app.metrics)
            triggers = {job.id: job.trigger for job in jobs}
            due = {job_id: trigger.get_next_fire_time(None, start) for job_id, trigger in triggers.items()}
            end = start + timedelta(days=days)
            # Warm-up: every job once (imports, the report's plotting, caches), then the baseline.
            for job_id in triggers:
                runner(job_id)
            figures.rss_start_mb, figures.fds_start = _rss_mb(), _open_fds()
            ends: dict[str, datetime] = {}  # active fault -> when it ends
            day = start - timedelta(days=1)

            def counts() -> tuple[int, int, int]:
                with app.sessions() as session:
                    return tuple(session.execute(text(
                        "SELECT (SELECT count(*) FROM observations), (SELECT count(*) FROM trade_flows), "
                        "(SELECT count(*) FROM series)")).one())

            while True:
                job_id, at = min(due.items(), key=lambda item: item[1])
                if at >= end:
                    break
                clock.now = at
                for fault, until in list(ends.items()):  # faults that are over
                    if at >= until:
                        del ends[fault]
                        if fault == "upstream":
                            upstream.fault = None
                        elif fault == "receiver":
                            hook_gate.up()
                        elif fault == "database" and db_gate is not None:
                            db_gate.up()
                while at >= day + timedelta(days=1):  # a new simulated day: samples and new faults
                    day += timedelta(days=1)
                    figures.samples.append(((day - start).days, round(_rss_mb(), 1), _open_fds()))
                    if "upstream" not in ends and rng.random() < 0.25 * fault_rate:
                        upstream.fault = rng.choice(UPSTREAM_FAULTS)
                        ends["upstream"] = day + timedelta(days=rng.choice((1, 2)))
                        figures.faults[f"upstream_{upstream.fault}"] = figures.faults.get(
                            f"upstream_{upstream.fault}", 0) + 1
                    if "receiver" not in ends and rng.random() < 0.15 * fault_rate:
                        hook_gate.down()
                        ends["receiver"] = day + timedelta(hours=rng.randint(2, 20))
                        figures.faults["receiver_down"] = figures.faults.get("receiver_down", 0) + 1
                    if db_gate is not None and "database" not in ends and rng.random() < 0.1 * fault_rate:
                        db_gate.down()
                        ends["database"] = day + timedelta(hours=rng.randint(1, 6))
                        figures.faults["database_down"] = figures.faults.get("database_down", 0) + 1
                watch = job_id.startswith("collect:") and "database" not in ends
                before = counts() if watch else None
                failures_before = app.registry.get_sample_value(
                    "chainwatch_job_runs_total", {"job": job_id, "outcome": "failure"}) or 0
                runner(job_id)
                failed = (app.registry.get_sample_value(
                    "chainwatch_job_runs_total", {"job": job_id, "outcome": "failure"}) or 0) > failures_before
                if watch and not failed:  # a failed collection is recorded, not a job failure
                    failed = not _last_collection_ok(app, job_id)
                if watch and failed and counts() != before:
                    figures.partial_writes += 1
                figures.jobs_run[job_id] = figures.jobs_run.get(job_id, 0) + 1
                if failed:
                    figures.jobs_failed[job_id] = figures.jobs_failed.get(job_id, 0) + 1
                figures.connections_left_checked_out = max(figures.connections_left_checked_out,
                                                           app.engine.pool.checkedout())
                following = triggers[job_id].get_next_fire_time(at, at + timedelta(microseconds=1))
                if following is None:  # a one-off job (the start-up bootstrap) is done
                    del due[job_id]
                else:
                    due[job_id] = following

            # Every fault is over: the dispatcher drains the outbox (hourly ticks, at most two days).
            upstream.fault = None
            hook_gate.up()
            if db_gate is not None:
                db_gate.up()
            for _ in range(48):
                with app.sessions() as session:
                    pending = session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
                if not pending:
                    break
                clock.now += timedelta(hours=1)
                runner("dispatch")
            figures.rss_end_mb, figures.fds_end = _rss_mb(), _open_fds()
            with app.sessions() as session:
                messages = list(session.scalars(select(OutboxMessage)))
            delivered = {m.idempotency_key for m in messages if m.status == "delivered"}
            figures.notifications = len(messages)
            figures.delivered = len(delivered)
            figures.dead = sum(m.status == "dead" for m in messages)
            pending = sum(m.status == "pending" for m in messages)
            figures.lost = pending + len(delivered - set(receiver.acknowledged))
            figures.duplicates_sent = sum(receiver.duplicates.values())
            figures.duplicates_accepted = sum(n - 1 for n in receiver.acknowledged.values())
            figures.orphans = sum(orphan_rows(db_url).values())
        finally:
            app.close()
            hook_gate.close()
            if db_gate is not None:
                db_gate.close()
            if schema is not None:
                admin = create_engine(postgres_url)
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    figures.wall_seconds = time.perf_counter() - started
    return figures


def _last_collection_ok(app, job_id: str) -> bool:  # noqa: ANN001
    """Whether the last collection of the job's source succeeded (a failed one is not a job failure)."""
    source = job_id.split(":", 1)[1]
    with app.sessions() as session:
        status = session.execute(text("SELECT status FROM collector_runs WHERE source = :s ORDER BY id DESC LIMIT 1"),
                                 {"s": source}).scalar()
    return status == "succeeded"


def run(quick: bool = False, db: str | None = None) -> list[BenchRow]:
    """The soak at 90 simulated days (``quick``: 4), on SQLite or the given PostgreSQL URL."""
    days = 4 if quick else 90
    with tempfile.TemporaryDirectory() as tmp:
        figures = soak(Path(tmp), days, postgres_url=db if db and db.startswith("postgresql") else None)
    case = f"{figures.backend}, {days} simulated days"
    faults = sum(figures.faults.values())
    return [
        BenchRow("soak", f"{case}: jobs run", sum(figures.jobs_run.values()), "jobs",
                 note=f"failed {sum(figures.jobs_failed.values())} ({figures.jobs_failed})"),
        BenchRow("soak", f"{case}: faults injected", faults, "bursts", note=str(figures.faults)),
        BenchRow("soak", f"{case}: notifications", figures.notifications, "messages",
                 note=f"delivered {figures.delivered}, dead {figures.dead}, duplicates sent "
                      f"{figures.duplicates_sent} (accepted {figures.duplicates_accepted})"),
        BenchRow("soak", f"{case}: notifications lost", figures.lost, "messages", "0"),
        BenchRow("soak", f"{case}: partial writes", figures.partial_writes, "batches", "0"),
        BenchRow("soak", f"{case}: orphan rows", figures.orphans, "rows", "0"),
        BenchRow("soak", f"{case}: RSS after warm-up → end", figures.rss_end_mb - figures.rss_start_mb, "MB",
                 "flat", f"{figures.rss_start_mb:.0f} → {figures.rss_end_mb:.0f} MB"),
        BenchRow("soak", f"{case}: open fds after warm-up → end", figures.fds_end - figures.fds_start, "fds", "0",
                 f"{figures.fds_start} → {figures.fds_end}"),
        BenchRow("soak", f"{case}: pooled connections left checked out", figures.connections_left_checked_out,
                 "connections", "0"),
        BenchRow("soak", f"{case}: wall time", figures.wall_seconds, "s"),
    ]
