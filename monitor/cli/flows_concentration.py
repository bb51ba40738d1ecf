"""``chainwatch concentration --input``'s table of a flows file, computed on two cores.

pandas and numpy hold the GIL (two threads ran no faster than one), so a large file's
rows are split in two at a (reporter, product) boundary near the middle row: a forked
child (:func:`monitor.cli.forked.forked`) computes and writes out the first half while
this process does the second, and the two texts are joined. Every figure of a group
depends only on the group's own rows (``indicators.concentration``), and a series keeps
all its periods in one half (the changes against earlier periods), so the joined text
is the one-process text byte for byte.
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

__all__ = ["KEYS", "SPLIT_ROWS", "ConcentrationText", "concentration_text"]

KEYS = ("reporter", "product", "period")

#: Files with fewer rows are computed in one process: below this the fork and the
#: second process's page faults cost about what the halving saves.
SPLIT_ROWS = 200_000


@dataclass(frozen=True)
class ConcentrationText:
    """The table as the CLI writes it, and what the summary line says about it."""

    parts: tuple[bytes | memoryview, ...]
    """The UTF-8 text, written one part after the other: CSV, or JSON records without the
    final line end. Kept in parts, so that the halves' texts (33 MB each at 5,000,000 rows)
    are neither decoded nor joined into one more copy before they are written."""
    groups: int
    zero_total: int
    products: frozenset

    @property
    def text(self) -> str:
        """The whole text, decoded (one more copy of it)."""
        return b"".join(self.parts).decode()

    def write(self, stream: BinaryIO) -> None:
        """Write the parts to a binary stream, in order."""
        for part in self.parts:
            stream.write(part)


def concentration_text(frame: pd.DataFrame, annual: bool, fmt: str, split_rows: int = SPLIT_ROWS) -> ConcentrationText:
    """The concentration table of a flows frame (``reporter, partner, product, period,
    value``) as ``fmt`` (``"csv"`` or ``"json"``) text: shares of the World row where a
    group has one, every group reported (status ``zero_total`` without a positive total),
    changes against the previous period and a year earlier.

    Frames of at least ``split_rows`` rows are computed in two processes where a second
    CPU is free. ValueError as :func:`concentration_against_totals` raises it (the first
    group's in key order).
    """
    halves = _halves(frame) if len(frame) >= split_rows and _spare_cpu() else None
    if halves is None:
        return _text(frame, annual, fmt)
    first, second = halves
    pending = forked(_text, frame, annual, fmt, first)
    try:
        own = _text(frame, annual, fmt, second)
    except ValueError:
        pending()  # the first half's error is the one a single pass would raise
        raise
    return _joined(pending(), own, fmt)


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


def _text(frame: pd.DataFrame, annual: bool, fmt: str, rows: np.ndarray | None = None) -> ConcentrationText:
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
    return ConcentrationText((text.encode(),), len(table), int((~positive).sum()),
                             frozenset(table["product"].dropna().unique()))


def _joined(first: ConcentrationText, second: ConcentrationText, fmt: str) -> ConcentrationText:
    """The text of both halves' rows, as one table's (each half is one part)."""
    (head,), (tail,) = first.parts, second.parts
    if not first.groups or not second.groups:
        parts = first.parts if first.groups else second.parts
    elif fmt == "csv":
        parts = (head, memoryview(tail)[tail.index(b"\n") + 1:])  # one header
    else:  # "[\n  {...}\n]" twice: one list
        parts = (memoryview(head)[:-2], b",\n", memoryview(tail)[2:])
    return ConcentrationText(parts, first.groups + second.groups, first.zero_total + second.zero_total,
                             first.products | second.products)
