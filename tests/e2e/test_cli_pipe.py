"""``chainwatch … | head``: a reader that closes the pipe early ends the command quietly (#25)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHAINWATCH = Path(sys.executable).with_name("chainwatch")


def _flows(path: Path, rows: int) -> Path:
    partners = ["AUS", "CHL", "ARG", "USA", "JPN"]
    lines = ["reporter,partner,product,period,value"]
    lines += [f"CHN,{partners[i % 5]},2825{i // 5 % 90:02d},{2000 + i // 450},{100 + i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# output within one pipe buffer, far beyond it, and in two processes (SPLIT_ROWS) where a CPU is free
@pytest.mark.parametrize("rows", [5, 4000, 250_000])
def test_closed_pipe_exits_quietly(tmp_path, rows):
    source = _flows(tmp_path / "flows.csv", rows)
    proc = subprocess.Popen([str(CHAINWATCH), "concentration", "--input", str(source)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first write, as `| head -0` would
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr
    assert code == 141, stderr


def test_help_to_a_closed_pipe_exits_quietly():
    proc = subprocess.Popen([str(CHAINWATCH), "run", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
