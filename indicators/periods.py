"""Period arithmetic for long tables: regular calendar positions, lags, labels.

Pure functions, no I/O. Indicators that compare a period with an earlier one (change
vs the previous period, vs the same period last year, persistence over the last three
years, trends) need to know what "one period earlier" means for a column that may
hold integer years, :class:`pandas.Period` values or timestamps. This module turns
such a column into integer positions on a regular grid (years, quarters or months),
so that "one year earlier" is a subtraction and a missing period stays missing
instead of silently becoming the previous row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_numeric_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_object_dtype,
)

__all__ = ["FREQUENCIES", "PERIODS_PER_YEAR", "period_ordinals", "lagged_values", "format_period", "month_start",
           "to_month", "monthly_series", "prepare_judgement"]

#: Supported frequencies: years, quarters, months.
FREQUENCIES: tuple[str, ...] = ("Y", "Q", "M")

#: Number of periods in one year for each frequency (the lag of a year-on-year change).
PERIODS_PER_YEAR: dict[str, int] = {"Y": 1, "Q": 4, "M": 12}


def _check_freq(freq: str | None) -> str | None:
    if freq is None:
        return None
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {', '.join(FREQUENCIES)} or None, got {freq!r}")
    return freq


def _period_freq(dtype: pd.PeriodDtype) -> str:
    code = dtype.freq.freqstr.upper()
    for prefix, freq in (("Y", "Y"), ("A", "Y"), ("Q", "Q"), ("M", "M")):
        if code.startswith(prefix) and not code.startswith("MS"):
            return freq
    raise ValueError(f"period frequency {dtype.freq.freqstr!r} is not supported (use years, quarters or months)")


def period_ordinals(periods: pd.Series, freq: str | None = None, *, name: str = "period") -> tuple[np.ndarray, str]:
    """Integer position of each period on a regular yearly, quarterly or monthly grid.

    Parameters
    ----------
    periods : pandas.Series
        Integer years (e.g. 2023), :class:`pandas.Period` values, or timestamps
        (``datetime64``; the month start is the usual convention). No missing entries.
    freq : {"Y", "Q", "M"} or None
        Grid to use. None infers it: integers are years; Periods use their own
        frequency; timestamps are months, unless every timestamp is 1 January, then
        years. Pass it explicitly for timestamps when the inference could be wrong
        (e.g. a monthly table that only holds January).
    name : str
        Column name used in error messages.

    Returns
    -------
    ordinals : numpy.ndarray of int64
        Position on the grid: ``year`` (Y), ``4*year + quarter - 1`` (Q),
        ``12*year + month - 1`` (M); for Periods, pandas' own ordinals. Consecutive
        periods differ by exactly 1, so ``ordinal - 1`` is the previous period and
        ``ordinal - PERIODS_PER_YEAR[freq]`` is the same period a year earlier.
    freq : str
        The grid used.

    Raises
    ------
    ValueError
        If ``freq`` is unknown, the column has missing entries, holds something else
        than years/Periods/timestamps, or integer years are combined with a sub-annual
        ``freq``; the message names the column and the first offending row.
    """
    freq = _check_freq(freq)
    if not isinstance(periods, pd.Series):
        periods = pd.Series(periods)
    if periods.isna().any():
        pos = int(np.flatnonzero(periods.isna().to_numpy())[0])
        raise ValueError(f"column {name!r} has a missing entry at row {pos}; every row needs a period")
    dtype = periods.dtype
    if is_object_dtype(dtype) and len(periods):
        first = periods.iloc[0]
        if isinstance(first, pd.Period) and all(isinstance(p, pd.Period) for p in periods):
            periods = periods.astype(pd.PeriodDtype(first.freq))
            dtype = periods.dtype
        elif all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in periods):
            periods = periods.astype("int64")
            dtype = periods.dtype
    if isinstance(dtype, pd.PeriodDtype):
        own = _period_freq(dtype)
        if freq is not None and freq != own:
            raise ValueError(f"column {name!r} holds {dtype.freq.freqstr} periods but freq={freq!r} was given")
        return pd.PeriodIndex(periods).asi8.astype("int64"), own
    if is_bool_dtype(dtype):
        raise ValueError(f"column {name!r} must hold years, Periods or dates, got booleans")
    if is_integer_dtype(dtype) or is_float_dtype(dtype):
        values = periods.to_numpy(dtype="float64")
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            pos = int(np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0])
            raise ValueError(f"column {name!r}: {periods.iloc[pos]!r} at row {pos} is not a whole year")
        if freq not in (None, "Y"):
            raise ValueError(f"column {name!r} holds integer years; freq must be 'Y' (got {freq!r})")
        return values.astype("int64"), "Y"
    if is_datetime64_any_dtype(dtype):
        stamps = periods.dt
        year = stamps.year.to_numpy().astype("int64")
        month = stamps.month.to_numpy().astype("int64")
        if freq is None:
            freq = "Y" if bool(np.all((month == 1) & (stamps.day.to_numpy() == 1))) else "M"
        if freq == "Y":
            return year, "Y"
        if freq == "Q":
            return year * 4 + (month - 1) // 3, "Q"
        return year * 12 + month - 1, "M"
    example = periods.iloc[0] if len(periods) else None
    raise ValueError(
        f"column {name!r} must hold integer years, pandas Periods or timestamps; "
        f"got dtype {dtype} (e.g. {example!r}); convert it first, e.g. with pandas.to_datetime"
    )


def lagged_values(
    frame: pd.DataFrame,
    series_keys: Sequence[str],
    ordinals: np.ndarray,
    columns: Sequence[str],
    lag: int,
) -> pd.DataFrame:
    """Values of ``columns`` in the same series ``lag`` periods earlier (NaN if absent).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (series, period).
    series_keys : sequence of str
        Columns that identify a series (e.g. reporter, product); may be empty.
    ordinals : numpy.ndarray
        Period positions of ``frame``'s rows from :func:`period_ordinals`.
    columns : sequence of str
        Columns whose earlier values are wanted.
    lag : int
        Number of periods back, >= 1.

    Returns
    -------
    pandas.DataFrame
        Same index and row order as ``frame``, one column per name in ``columns``;
        NaN where the series has no row exactly ``lag`` periods earlier (a gap is
        never bridged by an older row).

    Raises
    ------
    ValueError
        If a series has two rows on the same period position.

    Notes
    -----
    A vectorised left join of the table on itself with ``ordinal + lag``:
    :math:`x^{lag}_{s,t} = x_{s,t-lag}` if that row exists, else NaN.
    """
    if lag < 1:
        raise ValueError(f"lag must be >= 1, got {lag}")
    keys = list(series_keys)
    base = frame[keys].reset_index(drop=True).assign(_ord=np.asarray(ordinals, dtype="int64"))
    if base.duplicated(keys + ["_ord"]).any():
        pos = int(np.flatnonzero(base.duplicated(keys + ["_ord"]).to_numpy())[0])
        subject = ", ".join(f"{k}={base[k].iloc[pos]!r}" for k in keys) or "the table"
        raise ValueError(
            f"two rows of {subject} fall on the same period (row {pos}); "
            "one row per series and period is needed"
        )
    earlier = base.assign(_ord=base["_ord"] + lag)
    for col in columns:
        earlier[f"_lag_{col}"] = frame[col].to_numpy()
    merged = base.merge(earlier, on=keys + ["_ord"], how="left", sort=False)
    out = pd.DataFrame({col: merged[f"_lag_{col}"].to_numpy() for col in columns}, index=frame.index)
    return out


def format_period(value, freq: str | None = None) -> str:
    """Short label of a period for messages: ``2023``, ``2023Q1``, ``2023-01``.

    Integers are years; timestamps are shown as years when ``freq == "Y"``, as
    quarters for ``"Q"`` and as ``YYYY-MM`` otherwise; Periods use pandas' own label.
    None or NaN gives ``""``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        if freq == "Y":
            return f"{stamp.year}"
        if freq == "Q":
            return f"{stamp.year}Q{(stamp.month - 1) // 3 + 1}"
        return stamp.strftime("%Y-%m")
    return str(value)


# ---------------------------------------------------------------------------
# monthly series (the detectors' input)


def month_start(index: pd.Index, what: str) -> pd.DatetimeIndex:
    """Convert an index of dates/periods/strings to month-start Timestamps."""
    if isinstance(index, pd.PeriodIndex):
        return index.asfreq("M").to_timestamp(how="start")
    if is_numeric_dtype(index) or is_bool_dtype(index):
        raise ValueError(f"{what} must hold dates or 'YYYY-MM' periods, got numbers ({index.dtype})")
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(index, format="mixed"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must hold dates or 'YYYY-MM' periods: {err}") from err
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    if dates.isna().any():
        raise ValueError(f"{what} has {int(dates.isna().sum())} missing dates")
    return dates.to_period("M").to_timestamp(how="start")


def to_month(at) -> pd.Timestamp:
    """The month start of a date or period ``at``; ValueError naming ``at`` otherwise."""
    if isinstance(at, pd.Period):
        return at.asfreq("M").to_timestamp(how="start")
    try:
        ts = pd.Timestamp(at)
    except (TypeError, ValueError) as err:
        raise ValueError(f"at must be a date or 'YYYY-MM' period, got {at!r}") from err
    if ts is pd.NaT:
        raise ValueError("at must be a date, got NaT")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.to_period("M").to_timestamp(how="start")


def prepare_judgement(series: pd.Series, series_id: str, at) -> tuple[pd.Series, str, pd.Timestamp]:
    """The monthly series, the result's id (default ``series.name``) and the month to judge.

    Shared by every single-series detector so they validate input and pick the judged
    month (default: the last one) the same way.
    """
    monthly = monthly_series(series)
    if not series_id and series.name is not None:
        series_id = str(series.name)
    if at is None:
        if monthly.empty:
            raise ValueError("series is empty and no 'at' month was given")
        return monthly, series_id, monthly.index[-1]
    return monthly, series_id, to_month(at)


def monthly_series(series: pd.Series, what: str = "series") -> pd.Series:
    """Float series on a complete month-start calendar; gaps and NaN values are NaN.

    Raises ValueError on duplicate months, non-numeric or infinite values.
    """
    if not isinstance(series, pd.Series):
        raise TypeError(f"{what} must be a pandas Series indexed by month, got {type(series).__name__}")
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = values.isna() & series.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{what} has non-numeric value {series.iloc[pos]!r} at position {pos}")
    if np.isinf(values.to_numpy()).any():
        raise ValueError(f"{what} has infinite values")
    months = month_start(series.index, f"{what} index")
    values = pd.Series(values.to_numpy(), index=months)
    if months.has_duplicates:
        dup = months[months.duplicated()][0]
        raise ValueError(f"{what} has more than one value for month {dup:%Y-%m}")
    values = values.sort_index()
    if values.empty:
        return values
    calendar = pd.date_range(values.index[0], values.index[-1], freq="MS")
    return values.reindex(calendar)
