"""Loading the three USGS MCS world-production releases (target, issue 21: under 5 s).

The real files of the shared data folder (``tests/shared_data.py``: MCS 2022 selected,
MCS 2023 and MCS 2024 world files, 167 CSVs), side by side:

* ``pandas.read_csv`` of every file as strings: reading only, the floor any parser pays;
* ``usgs_observations`` file by file (each a one-file batch): what parsing cost when every
  small file paid pandas' per-call overhead on its own (about 90 ms CPU each before the
  batch parser);
* the ``usgs`` collector (:class:`monitor.collect.usgs.UsgsCollector`): reading, the
  per-file header quirks, ``W``/``NA``/footnote handling, country codes, units,
  observations, all files' cells parsed in one pass (``usgs_observations_batch``);
* the same plus ``store_batch`` into a fresh SQLite file: what "loading" means for the
  product (``chainwatch collect``), first write.

Without the shared folder the rows say so instead of a number.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from benchmarks.table import BenchRow
from indicators.production import usgs_production_fields, usgs_release
from monitor.collect.usgs import UsgsCollector, read_world_file, usgs_observations, usgs_world_files
from monitor.config.models import UsgsSource
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch
from tests.shared_data import USGS

RELEASES = ("mcs2022_world_selected", "mcs2023_world", "mcs2024_world")
TARGET = "< 5 s (all three releases)"


def _best(function, repeats: int) -> tuple[float, float, object]:
    """Fastest of ``repeats`` runs, wall clock and this process's CPU seconds (on a shared
    machine the wall time also counts waiting for a core), and the last result."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def run(quick: bool = False) -> list[BenchRow]:
    """Seconds to read, parse and store the releases (best of 3 runs, 1 with ``--quick``; wall clock)."""
    places = [USGS / r for r in RELEASES]
    absent = [str(p) for p in places if not p.is_dir()]
    if absent:
        return [BenchRow("usgs", "load MCS 2022-2024 world files", float("nan"), "s", TARGET,
                         f"not run: shared data not found at {', '.join(absent)}")]
    repeats = 1 if quick else 3
    files = [path for _, path in usgs_world_files([str(p) for p in places])]
    source = UsgsSource(id="usgs-mcs", kind="usgs", location=[str(p) for p in places])

    plain, plain_cpu, _ = _best(lambda: [pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
                              for p in files], repeats)
    ours_read, ours_read_cpu, _ = _best(lambda: [read_world_file(p) for p in files], repeats)
    # (code, file as read, release: the Source column, else the file name's mcsYYYY)
    raws = [(code, raw, usgs_release(raw, fallback=f"MCS{path.name[3:7]}"))
            for code, path, raw in ((code, path, read_world_file(path))
                                    for code, path in usgs_world_files([str(p) for p in places]))
            if not usgs_production_fields(raw).empty]
    one_by_one, one_by_one_cpu, _ = _best(lambda: [usgs_observations(raw, code, release=release)
                                                   for code, raw, release in raws], repeats)
    parsed, parsed_cpu, batch = _best(lambda: UsgsCollector(source).collect(), repeats)

    stored, stored_cpu, written = float("inf"), float("inf"), 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'usgs.db'}")
            try:
                migrate(engine)  # schema set-up is not part of loading
                sessions = session_factory(engine)
                start, start_cpu = time.perf_counter(), time.process_time()
                written = store_batch(sessions, UsgsCollector(source).collect(), now=datetime.now(timezone.utc))
                stored = min(stored, time.perf_counter() - start)
                stored_cpu = min(stored_cpu, time.process_time() - start_cpu)
            finally:
                engine.dispose()
    n_files, n_obs = len(files), len(batch.observations)
    load = f"load average {os.getloadavg()[0]:.1f} at the end"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return [
        BenchRow("usgs", f"pandas.read_csv, {n_files} files (reading only)", plain, "s", "",
                 f"CPU {plain_cpu:.2f} s"),
        BenchRow("usgs", f"read_world_file, {n_files} files (reading only)", ours_read, "s", "",
                 f"CPU {ours_read_cpu:.2f} s"),
        BenchRow("usgs", f"usgs_observations file by file, {len(raws)} files (parsing only)", one_by_one, "s", "",
                 f"CPU {one_by_one_cpu:.2f} s"),
        BenchRow("usgs", f"usgs collector: read + parse, {n_obs:,} observations", parsed, "s", TARGET,
                 f"CPU {parsed_cpu:.2f} s"),
        BenchRow("usgs", "collector + store_batch into SQLite (new file)", stored, "s", TARGET,
                 f"CPU {stored_cpu:.2f} s; {written:,} rows written; peak RSS {peak:.0f} MiB; {load}"),
    ]
