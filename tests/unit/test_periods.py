"""Tests for indicators.periods: period grids and lags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.periods import format_period, lagged_values, period_ordinals


@pytest.mark.parametrize(
    ("periods", "freq", "expected", "expected_freq"),
    [
        (pd.Series([2021, 2023]), None, [2021, 2023], "Y"),
        (pd.Series(pd.to_datetime(["2023-01-01", "2023-03-01"])), None, [2023 * 12, 2023 * 12 + 2], "M"),
        (pd.Series(pd.to_datetime(["2022-01-01", "2023-01-01"])), None, [2022, 2023], "Y"),
        (pd.Series(pd.to_datetime(["2022-01-01", "2023-01-01"])), "M", [2022 * 12, 2023 * 12], "M"),
        (pd.Series(pd.to_datetime(["2023-04-15"])), "Q", [2023 * 4 + 1], "Q"),
        (pd.Series(pd.period_range("2023-01", periods=2, freq="M")), None, None, "M"),
        (pd.Series([pd.Period("2020", "Y"), pd.Period("2021", "Y")], dtype=object), None, None, "Y"),
    ],
)
def test_ordinals(periods, freq, expected, expected_freq):
    ordinals, got_freq = period_ordinals(periods, freq)
    assert got_freq == expected_freq
    if expected is not None:
        assert ordinals.tolist() == expected
    assert np.diff(ordinals).tolist() == ([1] if expected is None else np.diff(expected).tolist())


@pytest.mark.parametrize(
    ("periods", "freq", "message"),
    [
        (pd.Series(["2023-01"]), None, "must hold integer years"),
        (pd.Series([2023, None]), None, "missing entry at row 1"),
        (pd.Series([2023.5]), None, "not a whole year"),
        (pd.Series([2023]), "M", "freq must be 'Y'"),
        (pd.Series([2023]), "W", "freq must be one of"),
    ],
)
def test_ordinal_errors(periods, freq, message):
    with pytest.raises(ValueError, match=message):
        period_ordinals(periods, freq)


def test_lagged_values_do_not_bridge_gaps():
    frame = pd.DataFrame({"s": ["a", "a", "a", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    got = lagged_values(frame, ["s"], np.array([1, 2, 4, 3]), ["x"], 1)
    assert got["x"].tolist()[:2] == [None, 1.0] or np.isnan(got["x"].iloc[0])
    assert got["x"].iloc[1] == 1.0 and np.isnan(got["x"].iloc[2]) and np.isnan(got["x"].iloc[3])


def test_format_period():
    assert format_period(2023) == "2023"
    assert format_period(pd.Timestamp("2023-04-01")) == "2023-04"
    assert format_period(pd.Timestamp("2023-04-01"), "Q") == "2023Q2"
    assert format_period(pd.Timestamp("2023-01-01"), "Y") == "2023"
    assert format_period(pd.Period("2023-02", "M")) == "2023-02"
    assert format_period(None) == ""
