"""Turning parsed API records into the common tables, one row judged at a time.

Collectors parse a response into plain records (dicts); the builders here check each
record and either keep it or reject it with a reason, counted per reason so the
runner can export ``chainwatch_collector_rows_rejected_total{source,reason}``.
Reasons: ``non_numeric`` (value missing or not a number), ``negative``,
``unknown_country``, ``unknown_product``, ``bad_period``, ``duplicate`` (an exact
repeat of a row already kept), ``conflicting_duplicate`` (same key, other value:
both are dropped since neither can be trusted). Collectors add their own:
``breakdown_row`` and ``unknown_flow`` (Comtrade), ``no_exchange_rate`` (Comext: a month
without a EUR→USD rate), and Comtrade's mirror rows count under ``mirror_<reason>``
(``mirror_not_requested``: a partner record outside the gaps asked for).

A response whose *structure* is wrong (a missing field, another shape) is not a row
problem: the collector raises :class:`~monitor.collect.http.PayloadError` instead.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date

import pandas as pd

from monitor.records import (
    ESTIMATE_FLAGS,
    OBSERVATION_COLUMNS,
    TRADE_FLOW_COLUMNS,
    estimate_flags,
    estimate_kinds,
)

_MONTH = re.compile(r"^(\d{4})[-M]?(0[1-9]|1[0-2])(?:-\d{2})?$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: object) -> date | None:
    """Month start of ``2024-03``, ``202403``, ``2024M03``, ``2024-03-01`` or (annual) ``2024``."""
    if isinstance(text, date):
        return date(text.year, text.month, 1)
    raw = str(text).strip()
    found = _MONTH.match(raw)
    if found:
        return date(int(found.group(1)), int(found.group(2)), 1)
    found = _YEAR.match(raw)
    if found:
        return date(int(found.group(1)), 1, 1)
    return None


def parse_number(value: object) -> float | None:
    """A finite float from a number or numeric string (``1,234.5`` allowed), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "")
        if text in {"", ".", "NA", "N/A", "na", "-", "null"}:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


class RowBuilder:
    """Collects checked rows of one table and counts rejections by reason."""

    def __init__(self, columns: tuple[str, ...], key: tuple[str, ...]):
        self._columns = columns
        self._flagged = False  # some kept row carries ESTIMATE_FLAGS
        self._key = key
        self._rows: dict[tuple, dict] = {}
        self._conflicts: set[tuple] = set()
        self.rejected: Counter[str] = Counter()

    def reject(self, reason: str) -> None:
        """Count one rejected row."""
        self.rejected[reason] += 1

    def add(self, row: dict, *, allow_negative: bool = False, sum_duplicates: bool = False) -> bool:
        """Keep ``row`` if its value is a non-negative number and its key is new.

        ``sum_duplicates``: rows with the same key are added up instead (several
        Comtrade "n.e.s." partner codes map to the one ``_X`` partner).
        """
        value = parse_number(row.get("value"))
        if value is None:
            self.reject("non_numeric")
            return False
        if value < 0 and not allow_negative:
            self.reject("negative")
            return False
        row = {**row, "value": value}
        if "quantity" in self._columns:
            quantity = parse_number(row.get("quantity"))
            row["quantity"] = quantity if quantity is not None and quantity >= 0 else math.nan
        key = tuple(row[k] for k in self._key)
        if key in self._conflicts:
            self.reject("conflicting_duplicate")
            return False
        existing = self._rows.get(key)
        if existing is not None:
            if sum_duplicates:
                existing["value"] += value
                if "quantity" in row:
                    existing["quantity"] = existing["quantity"] + row["quantity"]
                if row.get(ESTIMATE_FLAGS) or existing.get(ESTIMATE_FLAGS):
                    # a sum holding an estimate is an estimate: the union of the parts' kinds
                    existing[ESTIMATE_FLAGS] = estimate_flags(
                        [*estimate_kinds(existing.get(ESTIMATE_FLAGS)), *estimate_kinds(row.get(ESTIMATE_FLAGS))])
                    self._flagged = True
                return True
            if existing["value"] == value:
                self.reject("duplicate")
                return False
            del self._rows[key]
            self._conflicts.add(key)
            self.reject("conflicting_duplicate")
            self.reject("conflicting_duplicate")
            return False
        if row.get(ESTIMATE_FLAGS):
            self._flagged = True
        self._rows[key] = row
        return True

    def frame(self) -> pd.DataFrame:
        """The kept rows as a table with the contract's columns (``period`` as Timestamps).

        Plus ``estimate_flags`` (None: a reported figure) when some row carries one.
        """
        columns = [*self._columns, ESTIMATE_FLAGS] if self._flagged else list(self._columns)
        frame = pd.DataFrame(list(self._rows.values()), columns=columns)
        if self._flagged:
            frame[ESTIMATE_FLAGS] = frame[ESTIMATE_FLAGS].astype(object).where(frame[ESTIMATE_FLAGS].notna(), None)
        frame["period"] = pd.to_datetime(frame["period"])
        frame["value"] = frame["value"].astype(float)
        if "quantity" in frame:
            frame["quantity"] = frame["quantity"].astype(float)
        return frame.sort_values(list(self._key), ignore_index=True)

    def __len__(self) -> int:
        return len(self._rows)


def observation_builder() -> RowBuilder:
    """A builder of ``series_id, period, value`` rows."""
    return RowBuilder(OBSERVATION_COLUMNS, ("series_id", "period"))


def trade_flow_builder() -> RowBuilder:
    """A builder of ``reporter, partner, product, flow, period, value, quantity`` rows."""
    return RowBuilder(TRADE_FLOW_COLUMNS, ("reporter", "partner", "product", "flow", "period"))


def merge_counts(*counters: Counter[str]) -> dict[str, int]:
    """Sum rejection counters into a plain dict."""
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return dict(total)
