"""The whole stress suite on the demo catalog (issue 22 target: under 10 s).

Setup (not timed): ``chainwatch assess --once`` stores the demo data in a temporary
SQLite file. Then, side by side: the engine alone (every scenario of
``config/scenarios`` on the stored baseline, without and with the ±50 % sensitivity
table, which re-runs the network 20 times per scenario), and the whole
``stress --all`` path (baseline read, engine, sensitivity, results stored). Wall
time and the process's CPU time: on a shared machine the CPU time is the steadier.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

from benchmarks.table import BenchRow
from monitor.clock import system_clock
from monitor.cli.main import main as chainwatch
from monitor.config.loader import load_config, load_scenarios
from monitor.store.database import make_engine, session_factory
from monitor.stress.runs import load_baseline, run_scenario, run_stress_suite

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def _timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(quick: bool = False) -> list[BenchRow]:
    """Time the suite three ways on the demo catalog (``quick`` changes nothing: it is small)."""
    config = load_config(CONFIG_DIR)
    scenarios = load_scenarios(config)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        with contextlib.redirect_stdout(io.StringIO()):
            if chainwatch(["assess", "--once", "--config", str(CONFIG_DIR), "--db", url]) != 0:
                raise RuntimeError("chainwatch assess --once failed on the demo catalog")
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                baseline = load_baseline(config, session)
            cases = {
                "engine, no sensitivity": lambda: [run_scenario(config, s, baseline, with_sensitivity=False)
                                                   for s in scenarios],
                "engine + ±50 % sensitivity": lambda: [run_scenario(config, s, baseline) for s in scenarios],
                "stress --all (read, engine, sensitivity, store)":
                    lambda: run_stress_suite(config, session_factory(engine), system_clock),
            }
            rows = []
            for case, work in cases.items():
                wall, cpu = _timed(work)
                rows.append(BenchRow("stress", f"{len(scenarios)} scenarios, demo catalog: {case}", wall, "s",
                                     "< 10 s", f"CPU {cpu:.2f} s"))
        finally:
            engine.dispose()
    return rows
