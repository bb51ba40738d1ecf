"""A real configuration on a database the demo filled: refused with exit 2 unless --allow-simulated (CLI, end to end)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.store.database import make_engine, session_factory
from monitor.store.tables import TradeFlow
from tests.conftest import CONFIG_DIR

CHAINWATCH = Path(sys.executable).with_name("chainwatch")

LIVE_SOURCES = """\
sources:
  - id: customs
    kind: file
    location: {csv}
    table: trade_flows
    columns: {{partner: partner, product: hs, period: month, value: usd, estimate_flags: status}}
    constants: {{reporter: CHN, flow: M}}
    released: 2025-03-01
"""


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHAINWATCH), *args, "--db", f"sqlite:///{cwd / 'cw.db'}"], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    """A working directory whose database the demo source filled, and a live config beside it."""
    cwd = tmp_path_factory.mktemp("refusal")
    seeded = _cli(cwd, "collect", "--config", str(CONFIG_DIR))
    assert seeded.returncode == 0, seeded.stderr
    live = cwd / "live"
    shutil.copytree(CONFIG_DIR, live, ignore=shutil.ignore_patterns("sources.yaml", "live", "compose", "grafana",
                                                                     "prometheus"))
    (cwd / "imports.csv").write_text("partner,hs,month,usd,status\nCOD,8105,2025-01,1000,p\nZAF,8105,2025-01,500,\n",
                                     encoding="utf-8")
    (live / "sources.yaml").write_text(LIVE_SOURCES.format(csv=cwd / "imports.csv"), encoding="utf-8")
    return cwd, live


def _real_rows(cwd: Path) -> int:
    engine = make_engine(f"sqlite:///{cwd / 'cw.db'}")
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(TradeFlow).where(TradeFlow.source == "customs"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["collect"], ["assess", "--once"]])
def test_live_config_on_simulated_database_refuses_with_exit_2(demo_database, command):
    cwd, live = demo_database
    proc = _cli(cwd, *command, "--config", str(live))
    assert proc.returncode == 2, proc.stderr
    # one line from chainwatch (log warnings of unrelated settings, e.g. a receiver without URL, may precede it)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("chainwatch:")]
    assert len(lines) == 1, proc.stderr
    assert "simulated" in lines[0] and "separate database" in lines[0] and "--allow-simulated" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert _real_rows(cwd) == 0  # nothing was collected


def test_allow_simulated_proceeds_and_the_real_rows_keep_their_flags(demo_database):
    cwd, live = demo_database
    proc = _cli(cwd, "collect", "--config", str(live), "--allow-simulated")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("customs: 2 new, 0 revised, ")
    assert _real_rows(cwd) == 2
    engine = make_engine(f"sqlite:///{cwd / 'cw.db'}")
    try:
        with session_factory(engine)() as session:
            flags = dict(session.execute(select(TradeFlow.partner, TradeFlow.estimate_flags)
                                         .where(TradeFlow.source == "customs")).all())
    finally:
        engine.dispose()
    assert flags == {"COD": "provisional", "ZAF": None}


def test_the_demo_config_itself_is_not_refused(demo_database):
    cwd, _ = demo_database
    proc = _cli(cwd, "collect", "--config", str(CONFIG_DIR))
    assert proc.returncode == 0, proc.stderr
