"""Reading a long monthly-series file (``series_id,period,value``; CSV or Parquet) for the command line.

Problems are found per series and reported with the file, the series and the row
(CSV: header = row 1; Parquet: rows counted from 1); a bad series is skipped and
never stops the others. Problems that make the whole file unusable (missing,
unreadable, empty, no such columns) raise :class:`SeriesFileError`.

The checks are vectorised (docs/cli.md, "Input files"): the file is read as Arrow
columns (:mod:`monitor.collect.columnar`), each distinct period text is parsed once,
series ids become integer codes, and the rules below are masks over the rows sorted
by series; Python runs only to word the problem of a skipped series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from indicators.screening import SeriesMatrix
from monitor.collect.columnar import TableFileError, as_text, read_columns

__all__ = ["VINTAGE_COLUMN", "SeriesFileError", "SeriesInput", "SeriesProblem", "parse_series_rows",
           "read_series_file"]

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
#: A decimal number as Arrow's string-to-double cast reads it (used only when a cell is not).
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


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
    """The usable series of a file and what was skipped, as columns.

    Attributes
    ----------
    ids : numpy.ndarray
        Series ids (str objects), one per code, in order of first appearance.
    codes : numpy.ndarray
        int32 code (index into ``ids``) of each kept row; rows are grouped by series,
        in file order within a series.
    months : numpy.ndarray
        int64 month number (``year * 12 + month - 1``) of each kept row.
    values : numpy.ndarray
        float64 value of each kept row (NaN = missing observation).
    vintages : numpy.ndarray or None
        datetime64[ns] publication date of each kept row, when the file has that column.
    problems : list of SeriesProblem
        One entry per skipped series (its first problem) or skipped row.
    """

    ids: np.ndarray
    codes: np.ndarray
    months: np.ndarray
    values: np.ndarray
    vintages: np.ndarray | None = None
    problems: list[SeriesProblem] = field(default_factory=list)

    @property
    def skipped(self) -> list[str]:
        """Ids of the skipped series."""
        return sorted({p.series_id for p in self.problems if p.series_id is not None})

    @property
    def empty(self) -> bool:
        """No usable row."""
        return len(self.codes) == 0

    @property
    def frame(self) -> pd.DataFrame:
        """``series_id, period, value`` (+ ``vintage``): ``period`` month-start Timestamps."""
        columns = {"series_id": self.ids[self.codes] if len(self.ids) else np.array([], dtype=object),
                   "period": _month_stamps(self.months), "value": self.values}
        if self.vintages is not None:
            columns[VINTAGE_COLUMN] = pd.to_datetime(self.vintages)
        return pd.DataFrame(columns)

    def matrices(self, chunk_size: int | None = None):
        """The screen's matrices of the kept series, ``chunk_size`` series at a time.

        Rows are sorted by id (as :meth:`SeriesMatrix.from_long` sorts them) and every
        chunk has the calendar of the whole file, so judging chunk by chunk gives the
        verdicts of judging everything at once. Values go from the columns straight
        into the matrix, without a long frame. Without vintages only (a vintaged file
        goes through :attr:`frame` and :func:`indicators.real_time.latest_values`).

        Yields
        ------
        SeriesMatrix
        """
        if self.vintages is not None:
            raise ValueError("a file with vintages has no single matrix; use the frame")
        if self.empty:
            return
        present = np.unique(self.codes)
        names = self.ids[present].astype(str)
        by_name = np.argsort(names, kind="stable")
        rank_of_code = np.full(len(self.ids), -1, dtype=np.int32)
        rank_of_code[present[by_name]] = np.arange(len(present))
        rank = rank_of_code[self.codes]
        # a file sorted by series id (the usual case) needs no row permutation
        order = None if len(rank) < 2 or bool((rank[1:] >= rank[:-1]).all()) else np.argsort(rank, kind="stable")
        if order is not None:
            rank = rank[order]
        first, last = int(self.months.min()), int(self.months.max())
        calendar = pd.date_range(_month_stamps(np.array([first]))[0], periods=last - first + 1, freq="MS")
        size = len(present) if not chunk_size or chunk_size <= 0 else int(chunk_size)
        for start in range(0, len(present), size):
            stop = min(start + size, len(present))
            lo, hi = np.searchsorted(rank, [start, stop])
            rows = slice(lo, hi) if order is None else order[lo:hi]
            out = np.full((stop - start, len(calendar)), np.nan)
            out[rank[lo:hi] - start, self.months[rows] - first] = self.values[rows]
            yield SeriesMatrix(tuple(names[by_name[start:stop]]), calendar, out)

    @property
    def series_count(self) -> int:
        """Number of kept series."""
        return len(np.unique(self.codes))


def _month_stamps(months: np.ndarray) -> pd.DatetimeIndex:
    """Month numbers (``year * 12 + month - 1``) as month-start Timestamps."""
    return pd.DatetimeIndex((np.asarray(months, dtype="int64") - 1970 * 12).astype("datetime64[M]")
                            .astype("datetime64[ns]"))


def read_series_file(path: Path) -> SeriesInput:
    """Read and check a ``series_id,period,value`` CSV or Parquet file.

    Raises
    ------
    SeriesFileError
        Missing or unreadable file, no header, no data rows, missing columns.
    """
    path = Path(path)
    try:
        table = read_columns(path, REQUIRED_COLUMNS, (VINTAGE_COLUMN,), what="series_id,period,value")
    except TableFileError as err:
        raise SeriesFileError(str(err)) from None
    problems = [SeriesProblem(None, number, f"{cells} cell(s) where the header has {expected}; row skipped")
                for number, cells, expected in table.ragged]
    columns = {name: as_text(table.columns.pop(name)) for name in list(table.columns)}
    data = check_series_columns(columns, table.first_row)
    # The file's text is gone: hand the pages Arrow's allocator keeps to the OS, so the
    # engine's arrays do not come on top of them in the peak RSS.
    pa.default_memory_pool().release_unused()
    data.problems[:0] = problems
    if data.empty and not data.problems:
        raise SeriesFileError(f"{path}: no data rows after the header")
    return data


def parse_series_rows(records: list[tuple]) -> SeriesInput:
    """Check ``(row number, series_id, period, value[, vintage])`` records (see :func:`check_series_columns`)."""
    width = len(records[0]) if records else 4
    cells = list(zip(*records)) if records else [()] * width
    text = [pa.array([str(c) for c in column], type=pa.string()) for column in cells[1:]]
    names = (*REQUIRED_COLUMNS, VINTAGE_COLUMN)[:width - 1]
    return check_series_columns(dict(zip(names, text)), numbers=np.asarray(cells[0], dtype=np.int64))


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


_KIND_NAMES = {"M": "monthly", "D": "a date", "Q": "quarterly", "A": "annual"}
#: Period kind codes: 0 unparsable, then M (YYYY-MM), D (a date), Q, A.
_KINDS = ("", "M", "D", "Q", "A")
_BAD_PERIOD, _MIXED, _BAD_VALUE, _DUPLICATE, _BACKWARDS = 1, 2, 3, 4, 5
_GROUP_REASONS = {"not-monthly": 6, "coarse": 7, "run": 8, "no-value": 9}


def check_series_columns(columns: dict[str, pa.Array], first_row: int = 2,
                         numbers: np.ndarray | None = None) -> SeriesInput:
    """Check text columns ``series_id, period, value[, vintage]`` series by series.

    A series is skipped (with one :class:`SeriesProblem`, its first in file order) for:
    an unparsable period, a non-numeric or infinite value, a period that is not later
    than the one before it in the file (non-monotonic) or repeats a month (duplicate;
    two dates in one month are daily or weekly data), periods of different
    frequencies, quarterly / annual periods (monthly data are needed), periods all 3
    or 12 months apart or runs of them among monthly rows, or no numeric value. A row
    without ``series_id`` is skipped on its own; a row with every cell blank is ignored.

    With ``vintage`` (the date the value was published, ``YYYY-MM-DD`` or ``YYYY-MM``),
    a series may repeat a month in different vintages (revisions); the checks above
    apply to the rows of each vintage (in order of first appearance), and an empty or
    unparsable vintage skips the series.

    ``columns`` is emptied as the columns are turned into arrays (so that a large
    file's text is freed early). Row ``i`` is numbered ``numbers[i]``, by default
    ``first_row + i``.
    """
    sid = pc.utf8_trim_whitespace(columns.pop("series_id"))
    no_id = _np(pc.equal(sid, ""))
    problems: list[SeriesProblem] = []
    if no_id.any():  # a row with every cell blank is ignored, one with cells but no id reported
        rest = [pc.utf8_trim_whitespace(pc.filter(c, pa.array(no_id))) for c in columns.values()]
        blank = np.ones(int(no_id.sum()), dtype=bool)
        for column in rest:
            blank &= _np(pc.equal(column, ""))
        all_numbers = np.arange(first_row, first_row + len(sid)) if numbers is None else np.asarray(numbers)
        problems = [SeriesProblem(None, int(n), "empty series_id; row skipped")
                    for n in all_numbers[no_id][~blank]]
        use = pa.array(~no_id)
        sid = pc.filter(sid, use)
        columns = {name: pc.filter(c, use) for name, c in columns.items()}
        numbers = all_numbers[~no_id]

    encoded = pc.dictionary_encode(sid)
    del sid
    ids = np.array(encoded.dictionary.to_pylist(), dtype=object)
    codes = _np(encoded.indices).astype(np.int32, copy=False)
    del encoded
    kind, month, period_text = _periods(columns.pop("period"))
    values, bad_value, bad_text = _values(columns.pop("value"))
    vintage = columns.pop(VINTAGE_COLUMN, None)
    stamps = bad_vintage = None
    grouped = len(codes) < 2 or bool((np.diff(codes) >= 0).all())
    if vintage is not None:
        stamps, bad_vintage = _vintages(vintage)
        group = pd.factorize(codes.astype(np.int64) * (len(stamps) + 1) + pd.factorize(stamps)[0])[0]
        order = np.lexsort((group, codes))
    else:
        group = codes
        order = None if grouped else np.argsort(codes, kind="stable")

    def number(pos: int) -> int:
        return int(first_row + pos if numbers is None else numbers[pos])

    rows = _Rows(order, codes, group, kind, month, values, bad_value)
    bad_codes: dict[int, tuple[int, str]] = {}  # code -> (row number, message)
    if bad_vintage is not None and bad_vintage.any():
        for pos in np.flatnonzero(bad_vintage)[::-1]:  # keeps each series' first bad row
            bad_codes[int(codes[pos])] = (number(pos), f"vintage {vintage[int(pos)].as_py()!r} is not a date "
                                                       "(YYYY-MM-DD); series skipped")
    for code, (pos, reason) in rows.first_problems().items():
        if code not in bad_codes:
            bad_codes[code] = (number(rows.original(pos)),
                               _describe(rows, pos, reason, period_text, bad_text, number))
    problems += [SeriesProblem(str(ids[code]), row, message) for code, (row, message) in sorted(bad_codes.items())]

    if vintage is not None:
        order = np.argsort(codes, kind="stable")
    if not bad_codes and order is None:
        return SeriesInput(ids, codes, month, values, None, problems)
    good = np.ones(len(ids), dtype=bool)
    good[list(bad_codes)] = False
    keep = np.flatnonzero(good[codes]) if order is None else order[good[codes[order]]]
    return SeriesInput(ids, codes[keep], month[keep], values[keep],
                       None if stamps is None else stamps[keep], problems)


def _np(array) -> np.ndarray:  # noqa: ANN001 - a pyarrow Array
    return array.to_numpy(zero_copy_only=False)


def _periods(period: pa.Array) -> tuple[np.ndarray, np.ndarray, _Texts]:
    """Kind code, month number and text of each row's period; each distinct text is parsed once."""
    encoded = pc.dictionary_encode(period)
    texts = encoded.dictionary.to_pylist()
    kinds = np.zeros(len(texts), dtype=np.int8)
    months = np.zeros(len(texts), dtype=np.int32)
    for i, text in enumerate(texts):
        parsed = _parse_period(text)
        if parsed is not None:
            kinds[i], months[i] = _KINDS.index(parsed[0]), parsed[1].year * 12 + parsed[1].month - 1
    index = _np(encoded.indices)
    return kinds[index], months[index], _Texts(texts, index)


class _Texts:
    """The period text of a row, looked up only for the rows a message quotes."""

    def __init__(self, texts: list[str], index: np.ndarray) -> None:
        self.texts, self.index = texts, index

    def __getitem__(self, pos: int) -> str:
        return self.texts[self.index[pos]]


def _values(value: pa.Array) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """float64 values (NaN for a missing marker), the mask of cells that are not finite
    numbers, and the text of those cells by row."""
    missing = _np(pc.is_in(value, value_set=pa.array(sorted(MISSING_MARKERS))))
    try:  # the common case: every cell a plain number or a missing marker
        numbers = _np(pc.cast(pc.if_else(pa.array(missing), "0", value) if missing.any() else value, pa.float64()))
    except pa.ArrowInvalid:
        text = pc.utf8_trim_whitespace(value)
        missing = _np(pc.is_in(text, value_set=pa.array(sorted(MISSING_MARKERS))))
        number_like = _np(pc.match_substring_regex(text, _NUMBER)) & ~missing
        numbers = _np(pc.cast(pc.if_else(pa.array(number_like), text, "nan"), pa.float64()))
    numbers = np.array(numbers, dtype=np.float64)  # writable
    bad = ~np.isfinite(numbers) & ~missing
    numbers[missing] = np.nan
    where = np.flatnonzero(bad)
    return numbers, bad, dict(zip(where.tolist(), pc.take(value, pa.array(where)).to_pylist()))


def _vintages(vintage: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """datetime64[ns] publication date of each row (NaT when bad) and the mask of bad cells."""
    encoded = pc.dictionary_encode(vintage)
    texts = encoded.dictionary.to_pylist()
    parsed = [_parse_vintage(text) for text in texts]
    stamps = np.array([np.datetime64("NaT", "ns") if p is None else np.datetime64(p.to_datetime64(), "ns")
                       for p in parsed], dtype="datetime64[ns]")
    index = _np(encoded.indices)
    return stamps[index], np.isnat(stamps)[index]


class _Rows:
    """The rows sorted by (series, vintage group, file order), with the per-row masks.

    ``order`` None: the file is already grouped by series in that order, and the
    arrays are used as they are (no copy of a large file's columns).
    """

    def __init__(self, order, codes, group, kind, month, values, bad_value) -> None:  # noqa: ANN001
        self.order = order

        def sort(a: np.ndarray) -> np.ndarray:
            return a if order is None else a[order]

        self.code = sort(codes)
        g = sort(group)
        self.kind, self.month = sort(kind), sort(month)
        self.start = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, dtype=bool)
        self.gidx = np.cumsum(self.start, dtype=np.int64) - 1
        self.first = np.flatnonzero(self.start)
        self.cls = np.where(self.kind == 2, 1, self.kind).astype(np.int8)  # a date is a monthly period
        self.step = np.diff(self.month, prepend=self.month[:1])
        self.step[self.start] = 0
        self.values = sort(values)
        self.bad_value = sort(bad_value)

    def original(self, pos: int) -> int:
        """The file position of sorted position ``pos``."""
        return int(pos if self.order is None else self.order[pos])

    def first_problems(self) -> dict[int, tuple[int, int]]:
        """code -> (sorted position, reason) of each bad series' first problem."""
        if len(self.code) == 0:
            return {}
        reason = np.zeros(len(self.code), dtype=np.int8)
        later = ~self.start
        reason[self.step < 0] = _BACKWARDS
        reason[later & (self.step == 0)] = _DUPLICATE
        reason[self.bad_value] = _BAD_VALUE
        reason[self.cls != self.cls[self.first][self.gidx]] = _MIXED
        reason[self.kind == 0] = _BAD_PERIOD
        n_groups = len(self.first)
        found_pos = np.full(n_groups, -1, dtype=np.int64)
        found_reason = np.zeros(n_groups, dtype=np.int64)
        failing = np.flatnonzero(reason)
        groups, at = np.unique(self.gidx[failing], return_index=True)
        found_pos[groups], found_reason[groups] = failing[at], reason[failing[at]]
        self._group_end_problems(found_pos, found_reason)
        problems: dict[int, tuple[int, int]] = {}
        for g in np.flatnonzero(found_pos >= 0):
            code = int(self.code[self.first[g]])
            problems.setdefault(code, (int(found_pos[g]), int(found_reason[g])))
        return problems

    def _group_end_problems(self, found_pos: np.ndarray, found_reason: np.ndarray) -> None:
        """The checks on a whole (series, vintage) group, for groups without a row problem."""
        later = ~self.start
        coarse = later & ((self.step == 3) | (self.step == 12))
        sizes = np.diff(np.r_[self.first, len(self.code)])
        n_coarse = np.bincount(self.gidx, weights=coarse, minlength=len(sizes))
        monthly_steps = np.bincount(self.gidx, weights=later & (self.step == 1), minlength=len(sizes))
        observed = np.bincount(self.gidx, weights=np.isfinite(self.values), minlength=len(sizes))
        run = coarse & np.r_[False, coarse[:-1]] & np.r_[False, False, coarse[:-2]]
        run_pos = np.full(len(sizes), -1, dtype=np.int64)
        hits = np.flatnonzero(run)
        groups, at = np.unique(self.gidx[hits], return_index=True)
        run_pos[groups] = hits[at]
        checks = [
            (np.isin(self.cls[self.first], (3, 4)), self.first, "not-monthly"),
            ((sizes - 1 >= 3) & (n_coarse == sizes - 1), self.first, "coarse"),
            ((sizes - 1 >= 3) & (run_pos >= 0) & (monthly_steps > 0), run_pos, "run"),
            (observed == 0, self.first, "no-value"),
        ]
        for mask, where, name in checks:
            hit = mask & (found_pos < 0)
            found_pos[hit], found_reason[hit] = where[hit], _GROUP_REASONS[name]



def _month_text(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _describe(rows: _Rows, pos: int, reason: int, period_text: _Texts, bad_text: dict[int, str], number) -> str:  # noqa: ANN001
    """The message of a series' first problem at sorted position ``pos``."""
    original = rows.original(pos)
    period = period_text[original]
    first = int(rows.first[rows.gidx[pos]])
    if reason == _BAD_PERIOD:
        return f"period {period!r} is not YYYY-MM or a date; series skipped"
    if reason == _MIXED:
        names = {1: "M", 3: "Q", 4: "A"}
        first_period = period_text[rows.original(first)]
        return (f"mixed frequencies: period {period!r} is {_KIND_NAMES[names[int(rows.cls[pos])]]} but row "
                f"{number(rows.original(first))} has {_KIND_NAMES[names[int(rows.cls[first])]]} period {first_period!r}; "
                "series skipped")
    if reason == _BAD_VALUE:
        return f"value {bad_text[original]!r} is not a number; series skipped"
    if reason in (_DUPLICATE, _BACKWARDS):
        before = period_text[rows.original(pos - 1)]
        if reason == _BACKWARDS:
            return (f"period {period!r} comes after {before!r} (row {number(rows.original(pos - 1))}): periods must increase; "
                    "series skipped")
        what = ("duplicate period" if period.strip() == before.strip()
                else "second observation in the same month (daily or weekly data?)")
        return f"{what} {_month_text(int(rows.month[pos]))} (row {number(rows.original(pos - 1))} has {before!r}); series skipped"
    if reason == _GROUP_REASONS["not-monthly"]:
        kind = "Q" if rows.cls[pos] == 3 else "A"
        return f"period {period!r} is {_KIND_NAMES[kind]}; monthly data are needed; series skipped"
    if reason == _GROUP_REASONS["coarse"]:
        return f"periods are {rows.step[pos + 1]} months apart: the series is not monthly; series skipped"
    if reason == _GROUP_REASONS["run"]:
        return (f"mixed frequencies: periods {rows.step[pos]} months apart from row {number(rows.original(pos - 3))} "
                "while other rows are one month apart; series skipped")
    return "no numeric value in the series; series skipped"
