"""``concentration --input`` in two processes: the halves' text is the whole table's text."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_concentration import synthetic_flows
from monitor.cli.flows_concentration import write_concentration
from monitor.cli.forked import forked
from monitor.cli.main import _read_flows_csv

SPECIAL = ["WORLD", "W00", "0", "world", "Total", "_X", "EU27_2020", "OTHERS", "ROW", "other countries",
           "UNALLOCATED"]


def _flows_file(tmp_path, n: int, monthly: bool, seed: int = 3):
    """A flows CSV with World rows (above and below the named sum), other aggregates,
    residual partners, zero values and whole zero-total, World-only and _X-only groups."""
    flows = synthetic_flows(n, seed=seed, n_products=20)
    rng = np.random.default_rng(seed)
    pick = rng.random(n) < 0.08
    flows.loc[pick, "partner"] = np.array(SPECIAL)[rng.integers(0, len(SPECIAL), int(pick.sum()))]
    world = flows["partner"].str.upper().isin(["WORLD", "W00", "0", "TOTAL"]).to_numpy()
    flows.loc[world, "value"] *= rng.uniform(1, 80, int(world.sum()))
    flows.loc[rng.random(n) < 0.05, "value"] = 0.0
    flows.loc[(flows["product"] == "280000") & (flows["reporter"] == "R00"), "value"] = 0.0
    flows.loc[(flows["product"] == "280001") & (flows["reporter"] == "R01"), "partner"] = "WORLD"
    flows.loc[(flows["product"] == "280002") & (flows["reporter"] == "R19"), "partner"] = "_X"
    if monthly:
        flows["period"] = [f"{2018 + m // 12}-{m % 12 + 1:02d}" for m in rng.integers(0, 36, n)]
    path = tmp_path / "flows.csv"
    flows.to_csv(path, index=False)
    return path


def _written(tmp_path, frame, annual, fmt, split_rows):
    """The bytes write_concentration writes to a file, and its summary."""
    path = tmp_path / f"out-{split_rows}.{fmt}"
    with path.open("wb") as stream:
        stream.write(b"before:")  # buffered, not yet flushed: written once, first
        summary = write_concentration(frame, annual, fmt, stream, split_rows=split_rows)
    return path.read_bytes(), summary


@pytest.fixture(autouse=True)
def spare_cpu(monkeypatch):
    """The halves are computed whatever the machine's load (which decides it in the CLI)."""
    import monitor.cli.flows_concentration as module

    monkeypatch.setattr(module, "_spare_cpu", lambda: True)


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("monthly", [False, True])
def test_two_processes_write_the_one_process_text(tmp_path, fmt, monthly):
    frame, annual = _read_flows_csv(_flows_file(tmp_path, 20_000, monthly))
    whole, whole_summary = _written(tmp_path, frame, annual, fmt, split_rows=len(frame) + 1)
    halves, halves_summary = _written(tmp_path, frame, annual, fmt, split_rows=1)
    assert halves == whole
    assert halves_summary == whole_summary
    assert whole_summary.zero_total > 0 and whole_summary.groups > 100  # the zero-total groups are in it
    assert whole.startswith(b"before:") and whole.count(b"before:") == 1


def test_the_halves_text_is_the_text_of_plain_text_columns(tmp_path):
    """The reader's categorical columns give the table that text columns give."""
    frame, annual = _read_flows_csv(_flows_file(tmp_path, 5_000, monthly=False))
    plain = frame.assign(**{k: frame[k].astype(str) for k in ("reporter", "partner", "product")},
                         period=frame["period"].astype("datetime64[us]"))
    assert _written(tmp_path, frame, annual, "csv", 1) == _written(tmp_path, plain, annual, "csv", len(plain) + 1)


def test_one_series_over_the_middle_is_not_split(tmp_path, monkeypatch):
    import monitor.cli.flows_concentration as module

    calls = []
    monkeypatch.setattr(module, "forked", lambda *args: calls.append(args))
    frame = pd.DataFrame({"reporter": "R", "partner": ["A", "B"] * 50, "product": "p",
                          "period": pd.to_datetime(["2020-01-01"] * 100), "value": 1.0})
    _, summary = _written(tmp_path, frame, True, "csv", split_rows=1)
    assert not calls and summary.groups == 1


def test_values_that_could_pass_the_largest_float_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    """A total beyond the largest float: one process computes the table (no half is
    written before the other's error), and the error names the first group in key order."""
    import monitor.cli.flows_concentration as module

    calls = []
    monkeypatch.setattr(module, "forked", lambda *args: calls.append(args))
    rows = [(r, p, "2805", "2023", v) for r in ("R1", "R2") for p, v in (("A", 1.5e308), ("B", 1e308))]
    frame = pd.DataFrame(rows, columns=["reporter", "partner", "product", "period", "value"])
    frame["period"] = pd.to_datetime(frame["period"])
    path = tmp_path / "out.csv"
    with path.open("wb") as stream, pytest.raises(ValueError, match="group reporter=R1, product=2805"):
        write_concentration(frame, True, "csv", stream, split_rows=1)
    assert not calls and path.read_bytes() == b""


def test_an_error_in_this_process_half_waits_for_the_child_and_is_raised(tmp_path, monkeypatch):
    import monitor.cli.flows_concentration as module

    frame, annual = _read_flows_csv(_flows_file(tmp_path, 2_000, monthly=False))
    real_text, reaped = module._text, []

    def failing_second_half(frame, annual, fmt, rows=None):
        if rows is not None and os.getpid() == parent:
            raise RuntimeError("this half failed")
        return real_text(frame, annual, fmt, rows)

    real_forked = module.forked

    def watched(*args):
        pending = real_forked(*args)
        return lambda: reaped.append(True) or pending()

    parent = os.getpid()
    monkeypatch.setattr(module, "_text", failing_second_half)
    monkeypatch.setattr(module, "forked", watched)
    with (tmp_path / "out.json").open("wb") as stream, pytest.raises(RuntimeError, match="this half failed"):
        write_concentration(frame, annual, "json", stream, split_rows=1)
    assert reaped == [True]


def test_forked_returns_the_result_or_raises_the_error():
    assert forked(os.getpid)() != os.getpid()
    assert forked(sum, [1, 2, 3])() == 6
    with pytest.raises(ValueError, match="bad"):
        forked(_fails, "bad")()


def _fails(message: str) -> None:
    raise ValueError(message)
