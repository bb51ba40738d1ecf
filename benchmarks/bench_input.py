"""From file to finding: the CLI end to end on large input files, against peers.

Each contender runs in its own process (so that its peak RSS, read with ``wait4``, is
its own) on the same seeded file written to a temporary directory:

* ``chainwatch detect --input`` on N series x 240 months (10,000; 1,000 with
  ``--quick``) vs a plain per-series STL(robust)+MAD loop reading the same CSV with
  pandas (timed on a sample of series and extrapolated linearly, as bench_disruption).
* ``chainwatch concentration --input`` on 1,000,000 and 5,000,000 flow rows (500,000
  with ``--quick``), JSON and CSV output, vs polars and DuckDB computing the HHI per
  (reporter, product, period) from the same CSV (their result not written out):
  contenders that are not installed (``pip install .[bench]``) are listed as absent.
  Three runs each, contenders interleaved, medians.

Detect wall times are of one run each, with each process's CPU time (user + sys) beside them:
on a shared machine (docs/benchmarks.md says when it was) the CPU time is the fairer
figure. The STL loop is extrapolated from its per-series wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_concentration import synthetic_flows
from benchmarks.bench_disruption import synthetic
from benchmarks.table import BenchRow

STL_SAMPLE = 200
CONCENTRATION_REPEATS = 3

_STL_LOOP = """
import sys, time, pandas as pd
from indicators.disruption import StlResidualDetector
t0 = time.perf_counter()
frame = pd.read_csv(sys.argv[1], dtype={"series_id": str, "period": str})
frame["period"] = pd.to_datetime(frame["period"])
t1 = time.perf_counter()
stl = StlResidualDetector()
for i, (sid, s) in enumerate(frame.groupby("series_id", sort=False)):
    if i == int(sys.argv[2]):
        break
    stl.judge(s.set_index("period")["value"].asfreq("MS"), series_id=sid)
print(t1 - t0, time.perf_counter() - t1)
"""

_POLARS = """
import sys, polars as pl
flows = pl.read_csv(sys.argv[1], schema_overrides={"reporter": pl.Utf8, "partner": pl.Utf8, "product": pl.Utf8,
                                                  "period": pl.Utf8})
keys = ["reporter", "product", "period"]
by_partner = flows.group_by([*keys, "partner"]).agg(pl.col("value").sum())
out = (by_partner.with_columns((pl.col("value") / pl.col("value").sum().over(keys)).alias("share"))
       .group_by(keys).agg((pl.col("share") ** 2).sum().alias("hhi"), pl.col("share").max().alias("cr1")))
print(out.height)
"""

_DUCKDB = """
import sys, duckdb
rows = duckdb.sql(f'''
    WITH p AS (SELECT reporter, product, period, partner, sum(value) AS v
               FROM read_csv('{sys.argv[1]}', types={{'reporter': 'VARCHAR', 'partner': 'VARCHAR',
                                                     'product': 'VARCHAR', 'period': 'VARCHAR'}})
               GROUP BY ALL),
         s AS (SELECT *, v / sum(v) OVER (PARTITION BY reporter, product, period) AS share FROM p)
    SELECT reporter, product, period, sum(share * share) AS hhi, max(share) AS cr1 FROM s GROUP BY ALL
''').fetchall()
print(len(rows))
"""


def _timed(argv: list[str], one_blas_thread: bool = True) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, last line of stdout) of one process; its CPU seconds
    (user + sys, all threads) are appended to the last line as ``cpu=S``.

    ``one_blas_thread``: one BLAS/OpenMP thread (the detectors' models; two BLAS threads
    per process oversubscribe two cores). Off for the concentration contenders: pyarrow
    obeys ``OMP_NUM_THREADS`` too (its CSV parse on one thread) while DuckDB and polars
    ignore it, so each runs with its own defaults there."""
    env = dict(os.environ)
    if one_blas_thread:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        last = (out.read()[-4096:].decode(errors="replace").strip().splitlines() or [""])[-1]
        if proc.returncode not in (0, 1):
            tail = (err.read()[-4096:].decode(errors="replace").strip().splitlines() or [""])[-1]
            raise RuntimeError(f"{' '.join(argv[:4])} exited {proc.returncode}: {tail}")
    return elapsed, usage.ru_maxrss / 1024, f"{last} cpu={usage.ru_utime + usage.ru_stime:.1f}".strip()


def _installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def write_series_file(path: Path, n: int) -> None:
    """The detect contenders' input: ``n`` synthetic series (seed 2) x 240 months."""
    matrix = synthetic(n, seed=2)
    pd.DataFrame({"series_id": np.repeat(np.array(matrix.ids), len(matrix.months)),
                  "period": np.tile(matrix.months.strftime("%Y-%m").to_numpy(), n),
                  "value": np.round(matrix.values.ravel(), 4)}).to_csv(path, index=False)


def write_flows_file(path: Path, n_rows: int) -> None:
    """The concentration contenders' input: ``n_rows`` synthetic flow rows."""
    synthetic_flows(n_rows).to_csv(path, index=False)


def _written_in_child(writer: str, path: Path, size: int) -> None:
    """Write an input file in a child process: Linux carries a process's peak RSS over
    fork and exec into its children, so a file built here would be counted in every
    contender's peak (each showed this process's 1,058 MiB at 5,000,000 rows)."""
    subprocess.run([sys.executable, "-c", f"import sys; from benchmarks.bench_input import {writer}; "
                    f"{writer}(sys.argv[1], int(sys.argv[2]))", str(path), str(size)],
                   check=True, cwd=Path(__file__).resolve().parents[1])


def _detect_rows(directory: Path, n: int) -> list[BenchRow]:
    path = directory / "series.csv"
    _written_in_child("write_series_file", path, n)
    size = path.stat().st_size / 2**20
    cli = [sys.executable, "-m", "monitor.cli.main", "detect", "--input", str(path)]
    wall, rss, cpu = _timed(cli)
    sample = min(STL_SAMPLE, n)
    _, stl_rss, seconds = _timed([sys.executable, "-c", _STL_LOOP, str(path), str(sample)])
    read, loop = map(float, seconds.split()[:2])
    stl_total = read + loop * n / sample
    return [
        BenchRow("input", f"detect CLI, {n:,} series x 240 months ({size:.0f} MiB CSV)", wall, "s", "<= 60 (100k)",
                 f"{cpu.split()[-1]} s; peak RSS {rss:,.0f} MiB = {rss / size:.1f}x the file; "
                 f"{n / wall:,.0f} series/s; {stl_total / wall:.1f}x the STL loop"),
        BenchRow("input", f"per-series STL loop, {n:,} series (extrapolated from {sample})", stl_total, "s",
                 note=f"pandas read {read:.1f} s + {loop / sample * 1000:.0f} ms/series; peak RSS {stl_rss:,.0f} MiB "
                      f"(whole CSV read, {sample} series judged)"),
    ]


def _concentration_rows(directory: Path, n_rows: int, repeats: int = CONCENTRATION_REPEATS) -> list[BenchRow]:
    """Each contender ``repeats`` times, the contenders interleaved (a burst of load on a
    shared machine hits all of them), medians of wall, CPU and peak RSS."""
    path = directory / "flows.csv"
    _written_in_child("write_flows_file", path, n_rows)
    size = path.stat().st_size / 2**20
    cli = [sys.executable, "-m", "monitor.cli.main", "concentration", "--input", str(path)]
    contenders = [("chainwatch concentration CLI (JSON out)", None, cli),
                  ("chainwatch concentration CLI (CSV out)", None, [*cli, "--format", "csv"]),
                  ("polars read_csv + group_by (HHI, CR1; no output)", "polars",
                   [sys.executable, "-c", _POLARS, str(path)]),
                  ("DuckDB read_csv + SQL (HHI, CR1; no output)", "duckdb",
                   [sys.executable, "-c", _DUCKDB, str(path)])]
    present = [c for c in contenders if not c[1] or _installed(c[1])]
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in present}
    for _ in range(repeats):
        for name, _, argv in present:
            wall, rss, last = _timed(argv, one_blas_thread=False)
            runs[name].append((wall, float(last.rsplit("cpu=", 1)[1]), rss))
    rows = []
    for name, module, _ in contenders:
        label = f"{name}, {n_rows:,} rows ({size:.0f} MiB CSV)"
        if name not in runs:
            rows.append(BenchRow("input", label, float("nan"), "s", note=f"{module} not installed: not run"))
            continue
        wall, cpu, rss = np.median(np.array(runs[name]), axis=0)
        rows.append(BenchRow("input", label, float(wall), "s",
                             note=f"median of {repeats}: CPU {cpu:.1f} s; peak RSS {rss:,.0f} MiB"))
    return rows


def run(quick: bool) -> list[BenchRow]:
    with tempfile.TemporaryDirectory() as directory:
        rows = _detect_rows(Path(directory), 1_000 if quick else 10_000)
        for n_rows in (500_000,) if quick else (1_000_000, 5_000_000):
            rows += _concentration_rows(Path(directory), n_rows)
    return rows
