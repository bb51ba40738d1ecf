"""Bulk ingest rows/s through ``store_batch`` (target: PostgreSQL ≥ 200,000 rows/s).

Synthetic trade flows (:mod:`benchmarks.synthetic`) are written in batches of about
1.2 million rows (50 nodes × 20 HS codes × 5 partners × 240 months), as a collector
would hand them over: the time covers building the rows, sorting them by key with
the duplicate-key check, on PostgreSQL the probe for stored keys and the ``COPY``
straight into the table (first pass) or ``COPY`` into staging and ``INSERT … ON
CONFLICT`` (second pass), on SQLite the batched ``executemany``, index maintenance
and commit. A second pass re-ingests the same batches (nothing changes, nothing is
written). PostgreSQL is the server at
``CHAINWATCH_BENCH_POSTGRES_URL`` (default the test server), in a fresh schema that is
dropped afterwards; without one its rows say so.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, text

from benchmarks.synthetic import SyntheticCatalog
from benchmarks.table import BenchRow
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch

POSTGRES_URL = os.environ.get("CHAINWATCH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)


def _server_cpu_seconds(pids: set[int]) -> float | None:
    """CPU seconds the PostgreSQL backends ``pids`` used so far, when the server runs on this machine."""
    total = 0.0
    try:
        for pid in pids:
            if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"postgres"):
                return None  # a remote server: that process id here is someone else
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, ValueError, IndexError):
        return None
    return total


def ingest(url: str, data: SyntheticCatalog, nodes_per_batch: int = 50,
           cpu: list[float] | None = None, server_cpu: list[float | None] | None = None) -> tuple[float, float]:
    """Seconds to store ``data`` into a fresh database at ``url``, and to re-ingest it.

    ``cpu``, if given, receives this process's CPU seconds of each pass (on a shared
    machine the wall time also counts waiting for a core); ``server_cpu`` those of
    the PostgreSQL backends, or None where the server's processes cannot be read.
    """
    engine = make_engine(url)
    backends: set[int] = set()
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", lambda connection, _record: backends.add(connection.info.backend_pid))
    migrate(engine)
    sessions = session_factory(engine)
    batches = list(data.batches(nodes_per_batch))
    timings = []
    for _ in range(2):
        start, start_cpu, start_server = time.perf_counter(), time.process_time(), _server_cpu_seconds(backends)
        for batch in batches:
            store_batch(sessions, batch, NOW)
        timings.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
        if server_cpu is not None:
            end_server = _server_cpu_seconds(backends)
            server_cpu.append(None if start_server is None or end_server is None else end_server - start_server)
    engine.dispose()
    return timings[0], timings[1]


def _postgres_schema_url() -> tuple[str, str] | None:
    try:
        admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    except Exception as err:  # noqa: BLE001 - any failure means "no server to measure"
        print(f"PostgreSQL not measured: {type(err).__name__}")
        return None
    separator = "&" if "?" in POSTGRES_URL else "?"
    return schema, f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def run(quick: bool = False, nodes: int | None = None, months: int | None = None) -> list[BenchRow]:
    """Ingest rows/s into SQLite and PostgreSQL."""
    data = SyntheticCatalog(nodes=nodes or (4 if quick else 50), months=months or (60 if quick else 240))
    size = f"{data.rows:,} rows"
    rows = []
    cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        first, again = ingest(f"sqlite:///{Path(tmp) / 'ingest.db'}", data, cpu=cpu)
    rows.append(BenchRow("ingest", f"SQLite, {size}", data.rows / first, "rows/s",
                         note=f"{first:.1f} s; {data.rows / cpu[0]:,.0f} rows per CPU-second"))
    rows.append(BenchRow("ingest", f"SQLite, same {size} again", data.rows / again, "rows/s",
                         note=f"nothing written; {again:.1f} s; {data.rows / cpu[1]:,.0f} rows per CPU-second"))
    postgres = _postgres_schema_url()
    if postgres is None:
        rows.append(BenchRow("ingest", "PostgreSQL", float("nan"), "rows/s", "≥ 200,000", "no server"))
        return rows
    schema, url = postgres
    cpu, server = [], []
    try:
        first, again = ingest(url, data, cpu=cpu, server_cpu=server)
    finally:
        _drop_schema(schema)
    rows.append(BenchRow("ingest", f"PostgreSQL, {size}", data.rows / first, "rows/s", "≥ 200,000",
                         f"{first:.1f} s; CPU: client {cpu[0]:.1f} s, {_server_note(server[0], data.rows)}"))
    rows.append(BenchRow("ingest", f"PostgreSQL, same {size} again", data.rows / again, "rows/s",
                         note=f"nothing written; {again:.1f} s; CPU: client {cpu[1]:.1f} s, "
                              f"{_server_note(server[1], data.rows)}"))
    return rows


def _server_note(seconds: float | None, rows: int) -> str:
    if seconds is None:
        return "server not measured (not on this machine)"
    return f"server {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows per server CPU-second)"
