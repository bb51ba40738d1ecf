"""Backtest arithmetic (indicators/backtest.py): the actual path against a pre-shock trend, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.backtest import path_errors, trend_shortfall


def _growing(months: int, start: str = "2015-01-01") -> pd.Series:
    index = pd.date_range(start, periods=months, freq="MS")
    return pd.Series(100.0 * 1.002 ** np.arange(months), index=index)  # +0.2 % a month


def test_output_on_its_trend_has_no_shortfall_and_a_drop_below_it_is_its_share():
    series = _growing(96)
    series.loc["2021-03-01"] *= 0.9  # 10 % below what the trend says
    series.loc["2020-04-01"] *= 0.5  # a pandemic month outside the fit and the horizon changes nothing
    short = trend_shortfall(series, ("2015-01-01", "2019-12-01"), ("2021-01-01", "2021-06-01"))
    assert len(short) == 6
    assert short.loc["2021-03-01"] == pytest.approx(0.1)
    assert short.drop(pd.Timestamp("2021-03-01")).abs().max() < 1e-9


def test_a_short_fit_window_is_refused():
    with pytest.raises(ValueError, match="need at least 12"):
        trend_shortfall(_growing(24), ("2015-01-01", "2015-06-01"), ("2016-01-01", "2016-06-01"))


def test_path_errors_peak_timing_and_mean_absolute_error():
    actual = np.array([0.0, 0.10, 0.20, 0.05])
    model = np.array([0.0, 0.0, 0.10, 0.15])
    errors = path_errors(model, actual)
    assert errors.peak_difference_points == pytest.approx(-5.0)  # 15 % against 20 %
    assert errors.trough_timing_months == 1  # the model's worst month comes one month late
    assert errors.mean_absolute_error_points == pytest.approx(100 * (0 + 0.1 + 0.1 + 0.1) / 4)
    with pytest.raises(ValueError, match="same, non-zero length"):
        path_errors(model, actual[:3])
