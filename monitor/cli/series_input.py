"""Reading a long monthly-series CSV (``series_id,period,value``) for the command line.

Problems are found per series and reported with the file, the series and the CSV
row (header = row 1); a bad series is skipped and never stops the others. Problems
that make the whole file unusable (missing, unreadable, empty, no such columns)
raise :class:`SeriesFileError`.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["VINTAGE_COLUMN", "SeriesFileError", "SeriesInput", "SeriesProblem", "parse_series_rows",
           "read_series_csv"]

REQUIRED_COLUMNS = ("series_id", "period", "value")
#: Optional column: when the value was published (revisions of a month are rows
#: with later vintages; see indicators/real_time.py).
VINTAGE_COLUMN = "vintage"
#: Value cells read as a missing observation (not an error).
MISSING_MARKERS = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})([ T].*)?$")
_QUARTER = re.compile(r"^\s*(\d{4})-?Q([1-4])\s*$", re.IGNORECASE)
_YEAR = re.compile(r"^\s*(\d{4})\s*$")


class SeriesFileError(ValueError):
    """The whole file is unusable; the message names the file."""


@dataclass(frozen=True)
class SeriesProblem:
    """Why one series (or one row without a series) was skipped."""

    series_id: str | None
    row: int | None
    message: str

    def describe(self, path: Path | str) -> str:
        """One line: file, series, row and what is wrong."""
        where = f"{path}: "
        if self.series_id is not None:
            where += f"series {self.series_id!r}: "
        if self.row is not None:
            where += f"row {self.row}: "
        return where + self.message


@dataclass
class SeriesInput:
    """The usable series of a file and what was skipped.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``series_id, period, value`` of the good series: ``period`` month-start
        Timestamps, ``value`` float (NaN = missing observation); plus ``vintage``
        (Timestamps) when the file has that column.
    problems : list of SeriesProblem
        One entry per skipped series (its first problem) or skipped row.
    """

    frame: pd.DataFrame
    problems: list[SeriesProblem] = field(default_factory=list)

    @property
    def skipped(self) -> list[str]:
        """Ids of the skipped series."""
        return sorted({p.series_id for p in self.problems if p.series_id is not None})


def read_series_csv(path: Path) -> SeriesInput:
    """Read and check a ``series_id,period,value`` CSV.

    Raises
    ------
    SeriesFileError
        Missing or unreadable file, no header, no data rows, missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise SeriesFileError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SeriesFileError(f"{path}: not a readable CSV file: {err}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise SeriesFileError(f"{path}: empty file (expected a header series_id,period,value and data rows)")
    header = [cell.strip() for cell in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise SeriesFileError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(header)})")
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise SeriesFileError(f"{path}: no data rows after the header")
    columns = (*REQUIRED_COLUMNS, VINTAGE_COLUMN) if VINTAGE_COLUMN in header else REQUIRED_COLUMNS
    idx = {name: header.index(name) for name in columns}
    records = []
    for number, row in body:
        cells = [row[idx[name]] if idx[name] < len(row) else "" for name in columns]
        records.append((number, *cells))
    return parse_series_rows(records)


def _parse_period(text: str) -> tuple[str, pd.Timestamp] | None:
    """(kind, month start) of a period cell; kind is M (YYYY-MM), D (date), Q, A."""
    if (m := _MONTH.match(text)) and 1 <= int(m.group(2)) <= 12:
        return "M", pd.Timestamp(year=int(m.group(1)), month=int(m.group(2)), day=1)
    if m := _DATE.match(text):
        try:
            stamp = pd.Timestamp(text.strip())
        except (ValueError, TypeError):
            return None
        month = _month_start(stamp)
        return None if month is None else ("D", month)
    if m := _QUARTER.match(text):
        return "Q", pd.Timestamp(year=int(m.group(1)), month=3 * int(m.group(2)) - 2, day=1)
    if m := _YEAR.match(text):
        return "A", pd.Timestamp(year=int(m.group(1)), month=1, day=1)
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        return None
    month = _month_start(stamp)
    return None if month is None else ("D", month)


def _month_start(stamp: pd.Timestamp) -> pd.Timestamp | None:
    """The first day of ``stamp``'s month; None for NaT or a year pandas cannot hold (e.g. -1)."""
    if stamp is pd.NaT:
        return None
    try:
        return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)
    except (ValueError, OverflowError):
        return None


def _parse_value(text: str) -> float | None:
    """Float, NaN for a missing marker, None when not a number."""
    stripped = text.strip()
    if stripped in MISSING_MARKERS:
        return math.nan
    try:
        value = float(stripped)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_KIND_NAMES = {"M": "monthly", "D": "a date", "Q": "quarterly", "A": "annual"}


def parse_series_rows(records: list[tuple]) -> SeriesInput:
    """Check ``(row number, series_id, period, value[, vintage])`` records series by series.

    A series is skipped (with one :class:`SeriesProblem`) for: an unparsable period,
    a non-numeric or infinite value, a period that is not later than the one before
    it in the file (non-monotonic) or repeats a month (duplicate; two dates in one
    month are daily or weekly data), periods of different frequencies, or quarterly /
    annual periods (monthly data are needed). A row without ``series_id`` is skipped
    on its own.

    With a fifth field, ``vintage`` (the date the value was published, ``YYYY-MM-DD``
    or ``YYYY-MM``), a series may repeat a month in different vintages (revisions);
    the checks above apply to the rows of each vintage, and an empty or unparsable
    vintage skips the series. The frame then has a ``vintage`` column (Timestamps).
    """
    problems: list[SeriesProblem] = []
    with_vintage = bool(records) and len(records[0]) == 5
    by_series: dict[str, list[tuple]] = {}
    for number, sid, period, value, *vintage in records:
        sid = sid.strip()
        if not sid:
            problems.append(SeriesProblem(None, number, "empty series_id; row skipped"))
            continue
        by_series.setdefault(sid, []).append((number, period, value, *vintage))
    good = []
    for sid, rows in by_series.items():
        problem = _check_vintaged_series(sid, rows) if with_vintage else _check_series(sid, rows)
        if problem is not None:
            problems.append(problem)
            continue
        for _, period, value, *vintage in rows:
            good.append((sid, _parse_period(period)[1], _parse_value(value), *(_parse_vintage(v) for v in vintage)))
    columns = [*REQUIRED_COLUMNS, VINTAGE_COLUMN] if with_vintage else list(REQUIRED_COLUMNS)
    frame = pd.DataFrame(good, columns=columns)
    frame["value"] = frame["value"].astype("float64")
    frame["period"] = pd.to_datetime(frame["period"])
    if with_vintage:
        frame[VINTAGE_COLUMN] = pd.to_datetime(frame[VINTAGE_COLUMN])
    return SeriesInput(frame, problems)


def _parse_vintage(text: str) -> pd.Timestamp | None:
    """The publication date of a vintage cell (``YYYY-MM-DD``, or ``YYYY-MM`` = its first day)."""
    if m := _MONTH.match(text):
        if 1 <= int(m.group(2)) <= 12:
            return pd.Timestamp(year=int(m.group(1)), month=int(m.group(2)), day=1)
        return None
    if _DATE.match(text):
        try:
            stamp = pd.Timestamp(text.strip())
        except (ValueError, TypeError):
            return None
        return None if stamp is pd.NaT else stamp.tz_localize(None) if stamp.tzinfo else stamp
    return None


def _check_vintaged_series(sid: str, rows: list[tuple[int, str, str, str]]) -> SeriesProblem | None:
    by_vintage: dict[pd.Timestamp, list[tuple[int, str, str]]] = {}
    for number, period, value, vintage in rows:
        stamp = _parse_vintage(vintage)
        if stamp is None:
            return SeriesProblem(sid, number, f"vintage {vintage!r} is not a date (YYYY-MM-DD); series skipped")
        by_vintage.setdefault(stamp, []).append((number, period, value))
    for group in by_vintage.values():
        problem = _check_series(sid, group)
        if problem is not None:
            return problem
    return None


def _check_series(sid: str, rows: list[tuple[int, str, str]]) -> SeriesProblem | None:
    kinds: dict[str, tuple[int, str]] = {}
    previous: tuple[int, pd.Timestamp, str] | None = None
    seen_values = False
    months: list[pd.Timestamp] = []
    for number, period, value in rows:
        parsed = _parse_period(period)
        if parsed is None:
            return SeriesProblem(sid, number, f"period {period!r} is not YYYY-MM or a date; series skipped")
        kind, month = parsed
        kinds.setdefault("M" if kind in ("M", "D") else kind, (number, period))
        if len(kinds) > 1:
            (n1, p1), (_, p2) = list(kinds.values())[:2]
            k1, k2 = list(kinds)[:2]
            return SeriesProblem(
                sid, number,
                f"mixed frequencies: period {p2!r} is {_KIND_NAMES[k2]} but row {n1} has {_KIND_NAMES[k1]} "
                f"period {p1!r}; series skipped")
        number_value = _parse_value(value)
        if number_value is None:
            return SeriesProblem(sid, number, f"value {value!r} is not a number; series skipped")
        seen_values |= not math.isnan(number_value)
        if previous is not None:
            p_number, p_month, p_text = previous
            if month == p_month:
                what = ("duplicate period" if period.strip() == p_text.strip()
                        else "second observation in the same month (daily or weekly data?)")
                return SeriesProblem(sid, number, f"{what} {month:%Y-%m} (row {p_number} has {p_text!r}); "
                                                  "series skipped")
            if month < p_month:
                return SeriesProblem(sid, number, f"period {period!r} comes after {p_text!r} (row {p_number}): "
                                                  "periods must increase; series skipped")
        previous = (number, month, period)
        months.append(month)
    kind = next(iter(kinds))
    if kind in ("Q", "A"):
        number, period = kinds[kind]
        return SeriesProblem(sid, number, f"period {period!r} is {_KIND_NAMES[kind]}; monthly data are needed; "
                                          "series skipped")
    steps = [(b.year - a.year) * 12 + (b.month - a.month) for a, b in zip(months, months[1:])]
    if len(steps) >= 3:
        coarse = [s for s in steps if s in (3, 12)]
        if len(coarse) == len(steps):
            return SeriesProblem(sid, rows[0][0], f"periods are {steps[0]} months apart: the series is not "
                                                  "monthly; series skipped")
        run = 0
        for i, s in enumerate(steps):
            run = run + 1 if s in (3, 12) else 0
            if run >= 3 and 1 in steps:
                return SeriesProblem(sid, rows[i + 1][0],
                                     f"mixed frequencies: periods {s} months apart from row {rows[i - 2][0]} "
                                     "while other rows are one month apart; series skipped")
    if not seen_values:
        return SeriesProblem(sid, rows[0][0], "no numeric value in the series; series skipped")
    return None
