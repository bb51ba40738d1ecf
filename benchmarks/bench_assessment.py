"""End-to-end assessment of 100,000 monthly series × 240 months from the database.

Target (2 cores, issue #27): ≤ 60 s with the local executor (2 processes) on SQLite and
on PostgreSQL, PostgreSQL no slower than SQLite; the Dask executor on a 2-worker
``LocalCluster`` within 1.5× of the local one, with identical results.

The synthetic catalog (:mod:`benchmarks.synthetic`) has 1,000 nodes in 20 chains,
each with 20 HS codes imported from 5 partners: 100,000 bilateral series (24 million
trade-flow rows), all judged (``bilateral_series_top_partners: 5``) besides each
node's import aggregate, concentration window and main-supplier share. The data is
ingested first (not timed against the target), then each executor runs one complete
assessment (read per partition, concentration + disruption + scoring, findings and
scores written back), in a fresh process so that its peak memory is its own: the
assessing process's peak RSS (``getrusage``) and, sampled every 0.2 s with psutil,
the largest descendant process (pool worker, or Dask worker/nanny) and the sum over
all of them, and the CPU time (user + system) of the assessing process and of its
descendants (sampled likewise: up to 0.2 s of each worker's last moments is missed).
Both backends are measured side by side on the same data: a temporary SQLite file and
a schema of the PostgreSQL database at ``CHAINWATCH_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; reported as absent when
unreachable; ``--db`` measures that one database instead). Dask runs on the first
backend only. Dask's cluster is started before the clock starts (an existing cluster
is what the executor targets). Results are compared by a digest of every score,
level, driver and finding, across executors and backends.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.synthetic import SyntheticCatalog
from benchmarks.table import BenchRow
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
POSTGRES_URL = os.environ.get("CHAINWATCH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def prepare(url: str, data: SyntheticCatalog) -> float:
    """Migrate the database at ``url`` and ingest ``data``; returns seconds taken."""
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    start = time.perf_counter()
    for batch in data.batches(nodes_per_batch=50):
        store_batch(sessions, batch, NOW)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # planner statistics, as autovacuum would gather them
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - start


def configure(data: SyntheticCatalog, **assessment):
    """The default configuration with the synthetic catalog and these assessment settings."""
    from monitor.config.loader import load_config

    config = load_config(CONFIG_DIR, environ={})
    settings = config.settings.assessment.model_copy(
        update={"bilateral_series_top_partners": data.partners, **assessment})
    return config.model_copy(update={"catalog": data.catalog(),
                                     "settings": config.settings.model_copy(update={"assessment": settings})})


def digest(result) -> str:
    """sha256 of everything the run decided (scores, levels, drivers, findings)."""
    parts = []
    for chain in result.chains:
        parts.append(repr((chain.chain, chain.score, chain.level)))
        parts.extend(repr((n.node, n.score, n.level, n.dimensions, n.drivers)) for n in chain.nodes)
    parts.extend(repr((c, n, f.series_id, f.status, f.score, f.observed, f.expected)) for c, n, f in result.findings)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def assess(url: str, data: SyntheticCatalog, executor: str, workers: int | None = None) -> dict:
    """One assessment with ``executor`` (``dask``: on a fresh 2-worker LocalCluster); time, digest, memory."""
    from monitor.assess.assessment import run_assessment

    engine = make_engine(url)
    sessions = session_factory(engine)
    cluster = None
    settings = {"executor": executor, "workers": workers}
    if executor == "dask":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        settings["dask_scheduler"] = cluster.scheduler_address
    config = configure(data, **settings)
    sampler = _MemorySampler()
    sampler.start()
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = own.ru_utime + own.ru_stime
    start = time.perf_counter()
    result = run_assessment(config, sessions, lambda: NOW)
    seconds = time.perf_counter() - start
    sampler.stop()
    if cluster is not None:
        cluster.close()
    engine.dispose()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "digest": digest(result), "findings": len(result.findings),
            "cpu_s": own.ru_utime + own.ru_stime - cpu_before + sum(sampler.child_cpu.values()),
            "rss_mb": own.ru_maxrss / 1024,
            "worker_rss_mb": sampler.largest_child / 2**20, "total_rss_mb": sampler.largest_total / 2**20}


class _MemorySampler(threading.Thread):
    """Samples the RSS and CPU time of this process's descendants (pool workers, forkserver, Dask nannies and
    workers): their CPU time is not in ``RUSAGE_CHILDREN``, as the forkserver, not this process, reaps them."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.largest_child = 0
        self.largest_total = 0
        self.child_cpu: dict[int, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil  # comes with distributed

        me = psutil.Process()
        while not self._stop_event.wait(self.interval):
            sizes = []
            for child in me.children(recursive=True):
                try:
                    sizes.append(child.memory_info().rss)
                    times = child.cpu_times()
                    self.child_cpu[child.pid] = times.user + times.system
                except psutil.Error:
                    continue  # exited meanwhile
            self.largest_child = max([self.largest_child, *sizes])
            self.largest_total = max(self.largest_total, me.memory_info().rss + sum(sizes))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _child(sender, *args) -> None:
    try:
        outcome = ("done", assess(*args))
    except Exception as err:  # reported to the parent, which raises it with this process's words
        outcome = ("failed", f"{type(err).__name__}: {err}")
    sender.send(outcome)
    sender.close()


def assess_in_fresh_process(*args) -> dict:
    """:func:`assess` in a new process, so its peak memory is measured alone.

    Raises RuntimeError when the assessment fails there, or when the process ends without
    a result (killed, out of memory): the parent never waits on a process that is gone.
    """
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, *args))
    process.start()
    sender.close()  # the child holds the only writer: its end closes the pipe, result or not
    try:
        status, outcome = receiver.recv()
    except EOFError:
        status, outcome = "ended", None
    finally:
        receiver.close()
        process.join()
    if status == "done":
        return outcome
    if status == "failed":
        raise RuntimeError(f"the assessment failed in its process: {outcome}")
    raise RuntimeError(f"the assessment's process ended (exit code {process.exitcode}) without a result")


@contextmanager
def _databases(db: str | None, tmp: str) -> Iterator[list[tuple[str, str | None]]]:
    """(backend, URL or None when absent) to measure: ``db`` alone, or SQLite and a fresh PostgreSQL schema."""
    if db is not None:
        yield [(db.split(":", 1)[0].split("+", 1)[0], db)]
        return
    sqlite = ("sqlite", f"sqlite:///{Path(tmp) / 'assessment.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except (OperationalError, ImportError):
        yield [sqlite, ("postgresql", None)]
        return
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield [sqlite, ("postgresql", f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")]
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(quick: bool = False, nodes: int | None = None, months: int | None = None,
        db: str | None = None) -> list[BenchRow]:
    """Ingest the synthetic catalog into each backend, assess it with the local executor (2 processes) on
    each, side by side, and with the Dask executor on the first."""
    data = SyntheticCatalog(nodes=nodes or (20 if quick else 1000), months=months or (60 if quick else 240),
                            chains=2 if quick else 20)
    size = f"{data.series:,} series × {data.months} months"
    workers = 2
    rows, local = [], {}
    with tempfile.TemporaryDirectory() as tmp, _databases(db, tmp) as databases:
        for backend, url in databases:
            if url is None:
                rows.append(BenchRow("assessment", f"{backend}: absent", 0.0, "-",
                                     note=f"unreachable: {POSTGRES_URL.split('@')[-1]}"))
                continue
            loaded = prepare(url, data)
            local[backend] = outcome = assess_in_fresh_process(url, data, "local", workers)
            per_10k = 10_000 / data.series
            rows += [
                BenchRow("assessment", f"{backend}: setup, ingest {data.rows:,} rows", data.rows / loaded, "rows/s",
                         note=f"{loaded:.0f} s"),
                BenchRow("assessment", f"{backend}: local executor ({workers} processes), {size}",
                         outcome["seconds"], "s", "≤ 60 s at 100k series", f"{outcome['findings']:,} findings"),
                BenchRow("assessment", f"{backend}: per 10,000 series (wall)", outcome["seconds"] * per_10k, "s",
                         "≤ 6 s"),
                BenchRow("assessment", f"{backend}: CPU time, all processes, per 10,000 series",
                         outcome["cpu_s"] * per_10k, "s", note="user + system, descendants sampled"),
                BenchRow("assessment", f"{backend}: peak RSS, assessing process", outcome["rss_mb"], "MiB"),
                BenchRow("assessment", f"{backend}: peak RSS, largest pool worker", outcome["worker_rss_mb"], "MiB",
                         note="sampled every 0.2 s"),
                BenchRow("assessment", f"{backend}: peak RSS, all processes together", outcome["total_rss_mb"],
                         "MiB", note="sampled"),
            ]
            if len(local) == 1:
                dask = assess_in_fresh_process(url, data, "dask")
                rows += [
                    BenchRow("assessment", f"{backend}: dask executor (LocalCluster, 2 workers)", dask["seconds"],
                             "s", "≤ 1.5 × local", f"{dask['seconds'] / outcome['seconds']:.2f} × local"),
                    BenchRow("assessment", f"{backend}: dask result identical to local",
                             float(dask["digest"] == outcome["digest"]), "bool", "1"),
                    BenchRow("assessment", f"{backend}: peak RSS, largest Dask process", dask["worker_rss_mb"],
                             "MiB", note="sampled"),
                ]
    if {"sqlite", "postgresql"} <= set(local):
        sqlite, postgres = local["sqlite"], local["postgresql"]
        rows += [
            BenchRow("assessment", "postgresql ÷ sqlite, wall", postgres["seconds"] / sqlite["seconds"], "×", "≤ 1"),
            BenchRow("assessment", "postgresql ÷ sqlite, CPU of the assessing processes",
                     postgres["cpu_s"] / sqlite["cpu_s"], "×", note="the server's CPU not included"),
            BenchRow("assessment", "postgresql result identical to sqlite",
                     float(postgres["digest"] == sqlite["digest"]), "bool", "1"),
        ]
    return rows
