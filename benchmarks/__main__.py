"""Run the benchmarks and print one table: ``python -m benchmarks [--quick] [--nodes N] [--months M] [NAME ...]``."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import platform
import sys
from pathlib import Path

from benchmarks.table import format_table


def main() -> int:
    """Discover ``bench_*.py`` modules, run them, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. concentration")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmarks run")
    parser.add_argument("--nodes", type=int, help="ingest/assessment: synthetic catalog nodes (×100 series each)")
    parser.add_argument("--months", type=int, help="ingest/assessment: months per series")
    parser.add_argument("--db", help="assessment: measure this database URL only (default: a temporary SQLite file and a "
                        "schema of CHAINWATCH_BENCH_POSTGRES_URL, side by side)")
    args = parser.parse_args()
    sizes = {k: v for k, v in (("nodes", args.nodes), ("months", args.months), ("db", args.db)) if v is not None}
    available = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = args.names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    rows = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        bench = importlib.import_module(f"benchmarks.bench_{name}").run
        accepted = inspect.signature(bench).parameters
        rows += bench(quick=args.quick, **{k: v for k, v in sizes.items() if k in accepted})
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
