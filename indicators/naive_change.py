"""The naive baseline of the evaluation set: a z-score of the month-over-month change.

Pure computation, no I/O. This is the reference rule of the evaluation (docs/detection.md)
that a disruption detector has to beat; it is kept here so that the evaluation
command and the benchmark score it on exactly the same data and rules.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from indicators.real_time import has_vintages, replay_by_vintage
from indicators.screening import SeriesMatrix

__all__ = ["naive_change_flags"]


def naive_change_flags(data, threshold: float = 3.0, window: int = 60, min_changes: int = 24) -> pd.DataFrame:
    """Walk-forward flags of the naive rule on every month of every series.

    Parameters
    ----------
    data : pandas.DataFrame or SeriesMatrix
        Long table ``series_id, period, value`` (values > 0) or a matrix; with a
        ``vintage`` column each month is judged on the vintage that first published
        it (:mod:`indicators.real_time`).
    threshold : float, default 3.0
        Flag when :math:`|z_t| \\ge` ``threshold`` (README: -3, and -2 as the
        sensitive variant).
    window : int, default 60
        Previous month-over-month changes that give the mean and standard deviation.
    min_changes : int, default 24
        Changes needed in the window.

    Returns
    -------
    pandas.DataFrame
        ``series_id, period, direction, score`` for every flagged month.

    Notes
    -----
    .. math::

        r_t = \\log y_t - \\log y_{t-1}, \\qquad
        z_t = \\frac{r_t - \\bar r_{[t-w, t-1]}}{s_{[t-w, t-1]}}

    (mean and sample standard deviation of the previous *w* changes, so the month is
    judged with data up to it only). Non-positive values make :math:`r` undefined.
    The mean and standard deviation are not robust: one crisis in the window (2008,
    2020) inflates :math:`s` for five years, which is why this rule misses later
    shocks.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
        math.isfinite(threshold) and threshold > 0
    ):
        raise ValueError(f"threshold must be a positive number (the rule flags z <= -threshold), got {threshold!r}")
    if has_vintages(data):
        # each month judged on the vintage that first published it (indicators.real_time)
        def judge(snapshot: pd.DataFrame, cells: pd.DataFrame) -> list[pd.DataFrame]:
            flags = naive_change_flags(snapshot, threshold, window, min_changes)
            keys = cells.assign(period=pd.to_datetime(cells["period"]), series_id=cells["series_id"].astype(str))
            return [flags.merge(keys, on=["series_id", "period"], how="inner")]

        parts = replay_by_vintage(data, judge)
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["series_id", "period", "direction", "score"])
        return out.sort_values(["series_id", "period"]).reset_index(drop=True)
    matrix = data if isinstance(data, SeriesMatrix) else SeriesMatrix.from_long(data)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.where(matrix.values > 0, np.log(np.where(matrix.values > 0, matrix.values, 1.0)), np.nan)
    r = pd.DataFrame(np.diff(logs, axis=1, prepend=np.nan).T, index=matrix.months, columns=list(matrix.ids))
    past = r.shift(1).rolling(window, min_periods=min_changes)
    z = (r - past.mean()) / past.std()
    stacked = z.stack()
    stacked = stacked[np.abs(stacked) >= threshold]
    out = pd.DataFrame({
        "series_id": stacked.index.get_level_values(1).astype(str),
        "period": stacked.index.get_level_values(0),
        "direction": np.where(stacked.to_numpy() < 0, "down", "up"),
        "score": stacked.to_numpy(),
    })
    return out.sort_values(["series_id", "period"]).reset_index(drop=True)
