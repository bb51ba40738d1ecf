"""Stage-one robust screen on the series x month matrix: reference values, seasonality, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.screening import (
    RobustScreen,
    SeriesMatrix,
    from_scaled_log,
    scaled_log,
    transform_constants,
)


def matrix_of(rows: dict[str, np.ndarray], start: str = "2000-01-01") -> SeriesMatrix:
    n = max(len(v) for v in rows.values())
    values = np.full((len(rows), n), np.nan)
    for i, v in enumerate(rows.values()):
        values[i, : len(v)] = v
    return SeriesMatrix(tuple(rows), pd.date_range(start, periods=n, freq="MS"), values)


def test_from_long_builds_one_calendar_and_names_bad_series():
    frame = pd.DataFrame({
        "series_id": ["b", "a", "a", "b"],
        "period": ["2020-03", "2020-01", "2020-02-15", "2020-01-31"],
        "value": [3.0, 1.0, 2.0, 4.0],
    })
    m = SeriesMatrix.from_long(frame)
    assert m.ids == ("a", "b")
    assert list(m.months.strftime("%Y-%m")) == ["2020-01", "2020-02", "2020-03"]
    np.testing.assert_array_equal(m.values, [[1.0, 2.0, np.nan], [4.0, np.nan, 3.0]])
    assert list(m.last_observed()) == [1, 2]
    with pytest.raises(ValueError, match="series 'a' has more than one value for month 2020-01"):
        SeriesMatrix.from_long(pd.concat([frame, frame.iloc[[1]]]))
    with pytest.raises(ValueError, match="series 'b'.*non-numeric"):
        SeriesMatrix.from_long(frame.assign(value=["x", 1, 2, 3]))


def test_scaled_log_is_a_log_with_zero_allowed():
    c = transform_constants(np.array([[100.0, 110.0, 0.0], [5.0, -3.0, 4.0]]))
    assert c == pytest.approx([105.0, 4.0])  # a zero or a sign change early: nearly linear
    assert transform_constants(np.array([[100.0, 110.0, 90.0]])) == pytest.approx([1.0])
    x = scaled_log(np.array([100.0, 95.0]), 1.05)
    assert x[1] - x[0] == pytest.approx(np.log(0.95), abs=1e-4)  # error ~ (c/y)^2
    assert scaled_log(0.0, 1.0) == 0.0
    assert from_scaled_log(scaled_log(123.4, 2.0), 2.0) == pytest.approx(123.4)


def test_reference_z_of_a_known_drop():
    # changes +1, -1, +1, -1, 0 % repeating (not 12-periodic, so not seasonal):
    # median 0, MAD 1 % -> sigma 1.4826 %
    n = 80
    changes = np.tile([0.01, -0.01, 0.01, -0.01, 0.0], n // 5)
    changes[-1] = -0.05
    y = 100 * np.exp(np.cumsum(changes))
    m = matrix_of({"s": y})
    res = RobustScreen().screen(m, np.array([0]), np.array([n - 1]))
    # z1 = (-0.05 - 0) / (1.4826 * 0.01)
    assert res.z[0, 0] == pytest.approx(-0.05 / 0.014826, rel=1e-3)
    assert bool(res.candidate_down[0]) and not res.seasonal[0]
    assert from_scaled_log(res.expected[0, 0], res.c[0]) == pytest.approx(y[-2], rel=1e-6)


def test_seasonality_is_detected_from_two_years_and_removed():
    rng = np.random.default_rng(3)
    t = np.arange(96)
    seasonal = 100 * np.exp(0.3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.01, 96))
    flat = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 96)))
    m = matrix_of({"seasonal": seasonal, "flat": flat})
    res = RobustScreen().screen(m, np.array([0, 1]), np.array([95, 95]))
    assert list(res.seasonal) == [True, False]
    # the seasonal swing itself is not a disruption
    assert abs(res.z[0, 0]) < 3 and not res.candidate_down.any()


def test_payback_rule_judges_a_fall_after_a_surge_against_the_level_before_it():
    rng = np.random.default_rng(11)
    noise = rng.normal(0.0, 0.01, 80)  # 1 % a month, no seasonality
    plain, payback, deeper, two_month, rebound = (noise.copy() for _ in range(5))
    plain[-1] = -0.08            # an 8 % fall after an ordinary month
    payback[-2:] = 0.08, -0.085  # +8 % surge, then back to where it was
    deeper[-2:] = 0.08, -0.25    # +8 % surge, then far below the level before it
    two_month[-3:] = 0.06, 0.06, -0.125  # two surge months, then back
    rebound[-2:] = -0.08, 0.085  # a dip and its rebound (the upward mirror image)
    rows = {name: 100 * np.exp(np.cumsum(d)) for name, d in
            (("plain", plain), ("payback", payback), ("deeper", deeper), ("two_month", two_month),
             ("rebound", rebound))}
    m = matrix_of(rows)
    res = RobustScreen(directions=("down", "up")).screen(m, np.arange(5), np.full(5, 79))
    plain_, payback_, deeper_, two_, rebound_ = range(5)
    # no spike before the fall: the evidence is the robust z itself
    assert res.payback_down[plain_, 0] == 0 and res.z_down[plain_, 0] == res.z[plain_, 0] <= -3.5
    assert res.candidate_down[plain_]
    # a fall that only undoes a surge: z of one month is extreme, the evidence is the
    # two-month change from before the surge, which is ordinary
    assert res.z[payback_, 0] <= -5 and res.payback_down[payback_, 0] == 1
    assert res.z_down[payback_, 0] == pytest.approx(max(res.z[payback_, 0], res.z[payback_, 1]))
    assert abs(res.z_down[payback_, 0]) < 2 and not res.candidate_down[payback_]
    # a fall far below the pre-surge level is still a candidate
    assert res.payback_down[deeper_, 0] == 1 and res.z_down[deeper_, 0] <= -3.5 and res.candidate_down[deeper_]
    # two surge months are walked back over: the base is three months back
    assert res.payback_down[two_, 0] == 2
    assert res.z_down[two_, 0] == pytest.approx(max(res.z[two_, 0], res.z[two_, 2]))
    assert not res.candidate_down[two_]
    # the mirror image: a rebound after a dip is no surge
    assert res.z[rebound_, 0] >= 5 and res.payback_up[rebound_, 0] == 1
    assert res.z_up[rebound_, 0] == pytest.approx(min(res.z[rebound_, 0], res.z[rebound_, 1]))
    assert not res.candidate_up[rebound_]


def test_statuses_history_gap_missing():
    y = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 60)))
    y[50:55] = np.nan
    m = matrix_of({"s": y})
    sc = RobustScreen()
    res = sc.screen(m, np.zeros(5, dtype=int), np.array([20, 35, 52, 55, 59]))
    # 20: 21 obs < 36; 35: judged; 52: missing; 55: 5 months since the last observation
    assert list(res.status) == [1, 0, 2, 1, 0]
    assert list(res.n_obs) == [21, 36, 50, 51, 55]
    assert res.reason[3] == 2


def test_screen_is_the_same_on_truncated_data():
    rng = np.random.default_rng(5)
    y = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 150)))
    full = matrix_of({"s": y})
    sc = RobustScreen()
    all_cells = sc.screen(full, np.zeros(150, dtype=int), np.arange(150))
    for t in (40, 77, 149):
        cut = matrix_of({"s": y[: t + 1]})
        one = sc.screen(cut, np.array([0]), np.array([t]))
        np.testing.assert_array_equal(one.z[0], all_cells.z[t])
        np.testing.assert_array_equal(one.z_down[0], all_cells.z_down[t])
        np.testing.assert_array_equal(one.payback_down[0], all_cells.payback_down[t])
        assert one.status[0] == all_cells.status[t]


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=-1), "threshold"),
    (dict(max_lag=13), "max_lag"),
    (dict(window=6), "window"),
    (dict(min_changes=100), "min_changes"),
    (dict(seasonality_alpha=2), "seasonality_alpha"),
    (dict(directions=()), "directions"),
])
def test_screen_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RobustScreen(**kwargs)


def test_matrix_validation():
    with pytest.raises(ValueError, match="shape"):
        SeriesMatrix(("a",), pd.date_range("2020-01-01", periods=3, freq="MS"), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="unique"):
        SeriesMatrix(("a", "a"), pd.date_range("2020-01-01", periods=2, freq="MS"), np.zeros((2, 2)))
