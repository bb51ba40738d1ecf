"""Backtest of a stress scenario against a real episode: the actual shortfall path and the errors.

Pure, no I/O. The actual shortfall of month *t* is :math:`1 - y_t / \\hat y_t`, with
:math:`\\hat y` a linear trend in :math:`\\log y` fitted on a pre-shock window and
extrapolated (share of trend output, dimensionless; negative above trend). The errors
compare the model's monthly shortfall path :math:`m_t` with it (protocol in
docs/stress.md, "Backtest").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PathErrors", "path_errors", "trend_shortfall"]


def trend_shortfall(series: pd.Series, fit: tuple[str, str], horizon: tuple[str, str]) -> pd.Series:
    """``1 - actual / trend`` over ``horizon`` (inclusive month labels), the trend a
    least-squares line in log levels over ``fit`` (a monthly series indexed by timestamps).

    Raises
    ------
    ValueError
        If the fit window has fewer than 12 positive observations or the horizon none.
    """
    fitted = series.loc[fit[0]:fit[1]].dropna()
    fitted = fitted[fitted > 0]
    if len(fitted) < 12:
        raise ValueError(f"trend fit {fit[0]}..{fit[1]}: {len(fitted)} positive months, need at least 12")
    target = series.loc[horizon[0]:horizon[1]].dropna()
    if target.empty:
        raise ValueError(f"horizon {horizon[0]}..{horizon[1]}: no observations")
    origin = fitted.index[0]

    def months(index: pd.DatetimeIndex) -> np.ndarray:
        return np.array([(d.year - origin.year) * 12 + d.month - origin.month for d in index], dtype=float)

    slope, intercept = np.polyfit(months(fitted.index), np.log(fitted.to_numpy(dtype=float)), 1)
    trend = np.exp(intercept + slope * months(target.index))
    return pd.Series(1.0 - target.to_numpy(dtype=float) / trend, index=target.index)


@dataclass(frozen=True)
class PathErrors:
    """How far a model's shortfall path is from the actual one (points = percentage points)."""

    peak_difference_points: float
    """max(model) − max(actual), in points of normal output."""
    trough_timing_months: int
    """month of the model's largest shortfall − month of the actual largest shortfall."""
    mean_absolute_error_points: float
    """mean |model − actual| over the months compared, in points."""


def path_errors(model: np.ndarray, actual: np.ndarray) -> PathErrors:
    """Errors of a model path against the actual path (same months, shares of normal output).

    Raises
    ------
    ValueError
        If the paths differ in length or are empty.
    """
    model, actual = np.asarray(model, dtype=float), np.asarray(actual, dtype=float)
    if model.shape != actual.shape or model.size == 0:
        raise ValueError(f"paths must have the same, non-zero length, got {model.size} and {actual.size}")
    return PathErrors(
        peak_difference_points=100.0 * float(model.max() - actual.max()),
        trough_timing_months=int(np.argmax(model)) - int(np.argmax(actual)),
        mean_absolute_error_points=100.0 * float(np.mean(np.abs(model - actual))),
    )
