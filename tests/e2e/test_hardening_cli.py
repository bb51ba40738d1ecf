"""Hostile or broken input to the ``chainwatch`` binary: one line per problem, exit 2,
no traceback, bounded time and memory (issue 25, hardening)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONFIG_DIR

CHAINWATCH = Path(sys.executable).with_name("chainwatch")

pytestmark = pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")


def chainwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHAINWATCH), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


BOMB = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))


@pytest.mark.parametrize(("text", "expected"), [
    (BOMB, "settings.yaml: not valid YAML: aliases expand to"),
    ("stress:\n  a: " + "[" * 50_000 + "]" * 50_000 + "\n", "settings.yaml: not valid YAML: line 2: nested more than"),
    ("assessment:\n  hysteresis_runs: 2\n  hysteresis_runs: 3\n", "settings.yaml: not valid YAML: line 3: duplicate"),
])
def test_check_config_refuses_hostile_yaml_with_one_line(tmp_path, config_dir, text, expected):
    assert len(BOMB) < 7_000  # the ~6 KB bomb that grew check-config past 700 MB
    (config_dir / "settings.yaml").write_text(text, encoding="utf-8")
    proc = chainwatch(tmp_path, "check-config", "--config", str(config_dir))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert f"  {expected}" in proc.stderr


def test_check_config_warns_of_a_literal_secret(tmp_path, config_dir):
    path = config_dir / "alerts.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('"${CHAINWATCH_WEBHOOK_SECRET:-}"', "topsecret-1"),
                    encoding="utf-8")
    proc = chainwatch(tmp_path, "check-config", "--config", str(config_dir))
    assert proc.returncode == 0, proc.stderr
    assert "warning: alerts.yaml: receivers[0].secret: a literal secret" in proc.stderr
    assert "topsecret-1" not in proc.stderr + proc.stdout


def test_concentration_refuses_an_overflowing_total(tmp_path):
    path = tmp_path / "flows.csv"
    path.write_text("reporter,partner,product,period,value\nUSA,CHN,2846,2022,1.5e308\nUSA,AUS,2846,2022,1e308\n",
                    encoding="utf-8")
    proc = chainwatch(tmp_path, "concentration", "--input", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"chainwatch: {path}: column 'value': the values of group reporter=USA, product=2846, period=2022-01-01 "
        "sum beyond the largest float (about 1.8e308); rescale the input (e.g. to thousands)"]


def _truncated_database(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.db"
    assert chainwatch(tmp_path, "migrate", "--db", f"sqlite:///{path}").returncode == 0
    path.write_bytes(path.read_bytes()[:6000])  # a copy cut off mid-way
    return path


@pytest.mark.parametrize("make", [
    lambda tmp: (tmp / "notes.txt", (tmp / "notes.txt").write_text("not a database\n" * 200)),
    lambda tmp: (_truncated_database(tmp), None),
])
def test_a_file_that_is_not_a_whole_sqlite_database_is_one_line(tmp_path, make):
    path, _ = make(tmp_path)
    proc = chainwatch(tmp_path, "alerts", "list", "--db", f"sqlite:///{path}")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chainwatch: sqlite:///{path} is not a usable database: ")


def test_a_non_numeric_postgresql_port_is_one_line_without_the_password(tmp_path):
    proc = chainwatch(tmp_path, "alerts", "list", "--db", "postgresql://ops:hunter2@db.example:54x2/chainwatch")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "chainwatch: 'postgresql://ops:***@db.example:54x2/chainwatch': the port is not a number"]
