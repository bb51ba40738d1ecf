"""End-to-end assessment of 100,000 monthly series × 240 months from the database.

Target (2 cores): ≤ 120 s with the local executor; the Dask executor on a 2-worker
``LocalCluster`` within 1.5× of that, with identical results.

The synthetic catalog (:mod:`benchmarks.synthetic`) has 1,000 nodes in 20 chains,
each with 20 HS codes imported from 5 partners: 100,000 bilateral series (24 million
trade-flow rows), all judged (``bilateral_series_top_partners: 5``) besides each
node's import aggregate, concentration window and main-supplier share. The data is
ingested first (not timed against the target), then each executor runs one complete
assessment (read per partition, concentration + disruption + scoring, findings and
scores written back), in a fresh process so that its peak memory is its own: the
assessing process's peak RSS (``getrusage``) and, sampled every 0.2 s with psutil,
the largest descendant process (pool worker, or Dask worker/nanny) and the sum over
all of them. Dask's cluster is started before the clock starts (an
existing cluster is what the executor targets). Results are compared by a digest of
every score, level, driver and finding.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.synthetic import SyntheticCatalog
from benchmarks.table import BenchRow
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)


def prepare(url: str, data: SyntheticCatalog) -> float:
    """Migrate the database at ``url`` and ingest ``data``; returns seconds taken."""
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    start = time.perf_counter()
    for batch in data.batches(nodes_per_batch=50):
        store_batch(sessions, batch, NOW)
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
    start = time.perf_counter()
    result = run_assessment(config, sessions, lambda: NOW)
    seconds = time.perf_counter() - start
    sampler.stop()
    if cluster is not None:
        cluster.close()
    engine.dispose()
    return {"seconds": seconds, "digest": digest(result), "findings": len(result.findings),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_rss_mb": sampler.largest_child / 2**20, "total_rss_mb": sampler.largest_total / 2**20}


class _MemorySampler(threading.Thread):
    """Samples the RSS of this process's descendants (pool workers, forkserver, Dask nannies and workers)."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.largest_child = 0
        self.largest_total = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil  # comes with distributed

        me = psutil.Process()
        while not self._stop_event.wait(self.interval):
            sizes = []
            for child in me.children(recursive=True):
                try:
                    sizes.append(child.memory_info().rss)
                except psutil.Error:
                    continue  # exited meanwhile
            self.largest_child = max([self.largest_child, *sizes])
            self.largest_total = max(self.largest_total, me.memory_info().rss + sum(sizes))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _child(queue, *args) -> None:
    queue.put(assess(*args))


def assess_in_fresh_process(*args) -> dict:
    """:func:`assess` in a new process, so its peak memory is measured alone."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, *args))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome


def run(quick: bool = False, nodes: int | None = None, months: int | None = None,
        db: str | None = None) -> list[BenchRow]:
    """Ingest the synthetic catalog, assess it with the local and the Dask executor."""
    data = SyntheticCatalog(nodes=nodes or (20 if quick else 1000), months=months or (60 if quick else 240),
                            chains=2 if quick else 20)
    size = f"{data.series:,} series × {data.months} months"
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'assessment.db'}"
        backend = url.split(":", 1)[0].split("+", 1)[0]
        loaded = prepare(url, data)
        cores = os.cpu_count() or 1
        local = assess_in_fresh_process(url, data, "local", cores)
        dask = assess_in_fresh_process(url, data, "dask")
    ratio = dask["seconds"] / local["seconds"]
    return [
        BenchRow("assessment", f"setup: ingest {data.rows:,} rows ({backend})", data.rows / loaded, "rows/s",
                 note=f"{loaded:.0f} s"),
        BenchRow("assessment", f"local executor ({cores} processes), {size}", local["seconds"], "s", "≤ 120 s",
                 f"{local['findings']:,} findings"),
        BenchRow("assessment", "dask executor (LocalCluster, 2 workers)", dask["seconds"], "s",
                 "≤ 1.5 × local", f"{ratio:.2f} × local"),
        BenchRow("assessment", "dask result identical to local", float(dask["digest"] == local["digest"]), "bool",
                 "1"),
        BenchRow("assessment", "peak RSS, assessing process (local)", local["rss_mb"], "MiB"),
        BenchRow("assessment", "peak RSS, largest pool worker (local)", local["worker_rss_mb"], "MiB",
                 note="sampled every 0.2 s"),
        BenchRow("assessment", "peak RSS, all processes together (local)", local["total_rss_mb"], "MiB",
                 note="sampled"),
        BenchRow("assessment", "peak RSS, largest Dask process", dask["worker_rss_mb"], "MiB", note="sampled"),
    ]
