"""``chainwatch concentration --input``'s table of a flows file, computed on two cores.

pandas and numpy hold the GIL (two threads ran no faster than one), so a large file's
rows are split in two at a (reporter, product) boundary near the middle row: a forked
child (:func:`monitor.cli.forked.forked`) computes the first half and writes its text
straight to the output while this process computes the second half, whose text follows
once the child is done. Every figure of a group depends only on the group's own rows
(``indicators.concentration``), and a series keeps all its periods in one half (the
changes against earlier periods), so the output is the one-process text byte for byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from indicators.concentration import concentration_against_totals, concentration_changes, key_places
from indicators.vocabulary import RESIDUAL_PARTNERS
from monitor.cli.forked import forked
from monitor.cli.frame_csv import frame_csv

__all__ = ["KEYS", "SPLIT_ROWS", "ConcentrationSummary", "write_concentration"]

KEYS = ("reporter", "product", "period")

#: Files with fewer rows are computed in one process: below this the fork and the
#: second process's page faults cost about what the halving saves.
SPLIT_ROWS = 200_000

#: The halves are computed only where the file's values sum to at most this: then no
#: group's total can pass the largest float (values are >= 0), the one error a half
#: could meet after the child has written its text (``_pairs`` refuses such a total).
#: A quarter of the largest float leaves room for rounding in any order of summing.
_SAFE_SUM = float(np.finfo("float64").max) / 4


@dataclass(frozen=True)
class ConcentrationSummary:
    """What the summary line says about the table written."""

    groups: int
    zero_total: int
    products: frozenset


def write_concentration(frame: pd.DataFrame, annual: bool, fmt: str, stream: BinaryIO,
                        split_rows: int = SPLIT_ROWS) -> ConcentrationSummary:
    """Write the concentration table of a flows frame (``reporter, partner, product,
    period, value``; values >= 0) to ``stream`` as ``fmt`` (``"csv"`` or ``"json"``)
    UTF-8 text (JSON without a final line end): shares of the World row where a group
    has one, every group reported (status ``zero_total`` without a positive total),
    changes against the previous period and a year earlier.

    Frames of at least ``split_rows`` rows are computed in two processes where a second
    CPU is free; the forked child writes the first half's text to ``stream``'s file
    descriptor (``stream`` is flushed first), so ``stream`` must have one. ValueError as
    :func:`concentration_against_totals` raises it, before anything is written.
    """
    halves = _halves(frame) if len(frame) >= split_rows and _spare_cpu() and _sums_safely(frame) else None
    if halves is None:
        text, summary = _text(frame, annual, fmt)
        stream.write(text)
        return summary
    first, second = halves
    stream.flush()  # the child's copy of the buffer must be empty: it writes too
    pending = forked(_write_first, frame, annual, fmt, first, stream)
    try:
        tail, own = _text(frame, annual, fmt, second)
    except BaseException:
        _reap(pending)
        raise
    head = pending()  # the child has written the first half's text
    if not head.groups:
        stream.write(tail)
    elif own.groups and fmt == "csv":
        stream.write(memoryview(tail)[tail.index(b"\n") + 1:])  # one header
    elif own.groups:  # "[\n  {...}" written, "[\n  {...}\n]" here: one list
        stream.write(b",\n")
        stream.write(memoryview(tail)[2:])
    elif fmt != "csv":
        stream.write(b"\n]")
    return ConcentrationSummary(head.groups + own.groups, head.zero_total + own.zero_total,
                                head.products | own.products)


def _spare_cpu() -> bool:
    """Whether a CPU beside this process's own is free now: two or more, and no more
    runnable tasks than CPUs - 1 (Linux's ``/proc/loadavg``, this process included;
    elsewhere the last minute's load). Where other jobs hold every CPU the halves cost
    more than the whole (5,000,000 rows at load 3.6-4.1 on 2 CPUs: 2.6-3.5 s against
    1.8-3.1 s, 2026-12-07). The count of the moment, not the minute's average: a job
    that just ended (a benchmark's previous contender) must not hold the split back."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        with open("/proc/loadavg") as handle:
            running = int(handle.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        running = 1 + int(os.getloadavg()[0])
    return cpus >= 2 and running <= cpus - 1


def _sums_safely(frame: pd.DataFrame) -> bool:
    """Whether the values sum to at most :data:`_SAFE_SUM`."""
    with np.errstate(over="ignore"):
        return float(np.sum(frame["value"].to_numpy())) <= _SAFE_SUM


def _halves(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Row positions of the (reporter, product) series up to the middle row and of the
    rest, each in row order; None when one series reaches from before the middle to the end."""
    (reporter, n_reporters), (product, n_products) = key_places(frame, ["reporter", "product"])  # the table's order
    series = reporter * n_products + product
    rows_before = np.cumsum(np.bincount(series, minlength=n_reporters * n_products))
    last = int(np.searchsorted(rows_before, len(frame) / 2))  # the series holding the middle row
    if rows_before[last] >= len(frame):
        return None
    first = series <= last
    return np.flatnonzero(first), np.flatnonzero(~first)


def _write_first(frame: pd.DataFrame, annual: bool, fmt: str, rows: np.ndarray,
                 stream: BinaryIO) -> ConcentrationSummary:
    """The child's part: the first half's text, written without the end of a JSON list
    (the second half's text closes it)."""
    text, summary = _text(frame, annual, fmt, rows)
    if summary.groups:
        stream.write(memoryview(text)[:-2] if fmt != "csv" else text)
        stream.flush()
    return summary


def _reap(pending) -> None:  # noqa: ANN001 - what forked() returned
    """Wait for the child, whatever it did: this process's own error is the one raised."""
    try:
        pending()
    except Exception:  # noqa: BLE001,S110 - superseded by the caller's error
        pass


def _text(frame: pd.DataFrame, annual: bool, fmt: str,
          rows: np.ndarray | None = None) -> tuple[bytes, ConcentrationSummary]:
    if rows is not None:
        frame = frame.iloc[rows].reset_index(drop=True)
    table = concentration_against_totals(frame, keys=KEYS, slices=(), residual_partners=RESIDUAL_PARTNERS,
                                         include_zero_total=True)
    for key in KEYS:  # categorical keys (see monitor.cli.main._read_flows_csv) as their values
        if isinstance(table[key].dtype, pd.CategoricalDtype):
            table[key] = table[key].astype(table[key].cat.categories.dtype)
    table = concentration_changes(table, keys=KEYS, freq="Y" if annual else "M")
    positive = table["total"].to_numpy() > 0
    table["status"] = np.where(positive, "ok", "zero_total")
    table["period"] = table["period"].dt.strftime("%Y" if annual else "%Y-%m")
    text = frame_csv(table) if fmt == "csv" else table.to_json(orient="records", force_ascii=False, indent=2)
    return text.encode(), ConcentrationSummary(len(table), int((~positive).sum()),
                                               frozenset(table["product"].dropna().unique()))
