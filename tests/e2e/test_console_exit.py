"""The console script ends one-shot commands without the interpreter's teardown
(``monitor.cli.main.console``): what they write and the exit code are those of
:func:`monitor.cli.main.main` run with the teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
WITH_TEARDOWN = "import sys; from monitor.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _flows(path: Path, rows: int, bad_row: int | None = None) -> Path:
    partners = ["AUS", "CHL", "ARG", "USA", "JPN", "World"]
    lines = ["reporter,partner,product,period,value"]
    lines += [f"R{i % 7},{partners[i % 6]},2825{i // 6 % 90:02d},{2000 + i // 5400},{100 + i % 977}"
              for i in range(rows)]
    if bad_row is not None:
        lines[bad_row] = "R1,AUS,282500,2001,-5"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("rows, bad_row, fmt", [(250_000, None, "json"), (250_000, None, "csv"),
                                                (3_000, 1_200, "json")])
def test_console_writes_and_exits_as_main_does(tmp_path, rows, bad_row, fmt):
    source = _flows(tmp_path / "flows.csv", rows, bad_row)
    args = ["concentration", "--input", str(source), "--format", fmt]
    console = subprocess.run([str(CHAINWATCH), *args], capture_output=True, timeout=300)
    reference = subprocess.run([sys.executable, "-c", WITH_TEARDOWN, *args], capture_output=True, timeout=300)
    assert (console.returncode, console.stderr) == (reference.returncode, reference.stderr)
    assert console.stdout == reference.stdout
    if bad_row is None:
        assert console.returncode == 0 and console.stdout.count(b"\n") > 1000
    else:
        assert console.returncode == 2 and b"is negative" in console.stderr and console.stdout == b""
