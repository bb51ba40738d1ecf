"""Tests for indicators.disruption: synthetic shocks, no look-ahead, gaps, real INDPRO data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from indicators.disruption import (
    STATUSES,
    DetectionResult,
    StlResidualDetector,
    detect_latest,
    replay,
)
from tests.shared_data import EVAL



def seasonal_series(n: int = 96, seed: int = 0, start: str = "2015-01-01", noise: float = 0.01) -> pd.Series:
    """Level 100, +0.2 %/month trend, +-10 % seasonality, 1 % multiplicative noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    log_y = np.log(100.0) + 0.002 * t + 0.10 * np.sin(2 * np.pi * t / 12) + rng.normal(0.0, noise, n)
    return pd.Series(np.exp(log_y), index=pd.date_range(start, periods=n, freq="MS"), name="synthetic")


# --------------------------------------------------------------------------- synthetic


def test_injected_30pct_drop_is_flagged_down():
    clean = seasonal_series()
    shocked = clean.copy()
    shocked.iloc[-1] *= 0.70
    r = StlResidualDetector().judge(shocked, series_id="S1")
    assert isinstance(r, DetectionResult)
    assert (r.series_id, r.method, r.status, r.direction) == ("S1", "stl_residual", "flagged", "down")
    assert r.period == pd.Timestamp("2022-12-01")
    assert r.score < -3.5
    assert r.observed == pytest.approx(shocked.iloc[-1])
    assert r.observed < r.lower < r.expected < r.upper
    # expected is what the month would have been without the shock (noise 1 %)
    assert r.expected == pytest.approx(clean.iloc[-1], rel=0.04)
    assert "2022-12" in r.explanation_en and "below the expected" in r.explanation_en
    assert "%" in r.explanation_en and f"{r.score:.1f}" in r.explanation_en
    assert "2022年12月" in r.explanation_zh and "低" in r.explanation_zh


@pytest.mark.parametrize("seed", range(5))
def test_clean_series_is_not_flagged(seed):
    r = StlResidualDetector().judge(seasonal_series(seed=seed))
    assert r.status == "normal"
    assert r.direction is None
    assert abs(r.score) < 3.5
    assert r.lower <= r.observed <= r.upper
    assert "within the expected range" in r.explanation_en and "之内" in r.explanation_zh


def test_spike_is_flagged_up():
    s = seasonal_series(seed=3)
    s.iloc[-1] *= 1.4
    r = StlResidualDetector().judge(s)
    assert (r.status, r.direction) == ("flagged", "up")
    assert r.score > 3.5 and r.observed > r.upper
    assert "above" in r.explanation_en and "高" in r.explanation_zh


def test_flag_iff_outside_bounds_over_a_replay():
    s = seasonal_series(n=90, seed=11, noise=0.02)
    s.iloc[60] *= 0.8
    s.iloc[75] *= 1.25
    results = [r for r in replay(s) if r.status in ("flagged", "normal")]
    assert len(results) == 90 - 35
    for r in results:
        outside = r.observed < r.lower or r.observed > r.upper
        # equality up to float rounding at the boundary is not expected with real noise
        assert outside == (r.status == "flagged"), r
    flagged = {r.period: r.direction for r in results if r.status == "flagged"}
    assert flagged.get(s.index[60]) == "down"
    assert flagged.get(s.index[75]) == "up"


# --------------------------------------------------------------------------- history / gaps


def test_insufficient_history():
    det = StlResidualDetector()
    r = det.judge(seasonal_series(n=30))
    assert r.status == "insufficient_history"
    assert r.direction is None
    assert math.isnan(r.score) and math.isnan(r.expected)
    assert not math.isnan(r.observed)
    assert "30" in r.explanation_en and "36" in r.explanation_en
    assert "30" in r.explanation_zh and "36" in r.explanation_zh


def test_min_history_boundary():
    det = StlResidualDetector(min_history=36)
    assert det.judge(seasonal_series(n=35)).status == "insufficient_history"
    assert det.judge(seasonal_series(n=36)).status in ("normal", "flagged")


def test_missing_judged_month_is_not_guessed():
    s = seasonal_series()
    gap = s.index[-5]
    with_gap = s.drop(gap)
    r = StlResidualDetector().judge(with_gap, at=gap)
    assert r.status == "missing"
    assert math.isnan(r.observed) and math.isnan(r.expected) and math.isnan(r.score)
    assert r.direction is None
    assert gap.strftime("%Y-%m") in r.explanation_en
    # a NaN value is a missing month as well, and so is a month after the data
    nan_last = s.copy()
    nan_last.iloc[-1] = np.nan
    assert StlResidualDetector().judge(nan_last).status == "missing"
    assert StlResidualDetector().judge(s, at="2030-01").status == "missing"
    assert "missing" in STATUSES


def test_interior_gaps_are_interpolated_for_stl_only():
    s = seasonal_series(seed=5)
    s.iloc[-1] *= 0.7
    gappy = s.drop(s.index[[40, 41, 70]])
    r = StlResidualDetector().judge(gappy)
    assert (r.status, r.direction) == ("flagged", "down")
    clean = seasonal_series(seed=5).drop(s.index[[40, 41, 70]])
    assert StlResidualDetector().judge(clean).status == "normal"


def test_non_positive_values_use_linear_space():
    rng = np.random.default_rng(2)
    n = 72
    t = np.arange(n)
    # a balance that crosses zero: log space is impossible
    values = 5.0 * np.sin(2 * np.pi * t / 12) + 0.05 * t - 1.0 + rng.normal(0, 0.3, n)
    s = pd.Series(values, index=pd.date_range("2018-01-01", periods=n, freq="MS"))
    assert (s <= 0).any()
    r = StlResidualDetector().judge(s)
    assert r.status == "normal"
    s.iloc[-1] -= 6.0
    r = StlResidualDetector().judge(s)
    assert (r.status, r.direction) == ("flagged", "down")
    assert r.observed < r.lower < r.expected < r.upper


# --------------------------------------------------------------------------- no look-ahead


def test_appending_future_data_does_not_change_the_verdict():
    s = seasonal_series(n=120, seed=8)
    s.iloc[70] *= 0.75
    at = s.index[70]
    det = StlResidualDetector()
    truncated = det.judge(s.loc[:at], series_id="X", at=at)
    future = s.copy()
    future.loc[at + pd.offsets.MonthBegin(1):] *= 0.1  # wild future values
    for full in (s, future):
        assert det.judge(full, series_id="X", at=at) == truncated
    assert truncated.status == "flagged"
    # and for a normal month
    at2 = s.index[50]
    assert det.judge(s, at=at2) == det.judge(s.loc[:at2], at=at2)


def test_replay_equals_judging_truncated_series():
    s = seasonal_series(n=70, seed=9)
    det = StlResidualDetector()
    results = replay(s, det, start="2018-06")
    assert [r.period for r in results] == list(s.loc["2018-06":].index)
    for r in results[::7]:
        assert r == det.judge(s.loc[: r.period], at=r.period)


# --------------------------------------------------------------------------- input handling


def test_index_forms_are_normalised_to_month_start():
    s = seasonal_series(n=48, seed=4)
    det = StlResidualDetector()
    want = det.judge(s, series_id="a")
    end_of_month = pd.Series(s.to_numpy(), index=s.index + pd.offsets.MonthEnd(0))
    periods = pd.Series(s.to_numpy(), index=s.index.to_period("M"))
    strings = pd.Series(s.to_numpy(), index=s.index.strftime("%Y-%m"))
    for other in (end_of_month, periods, strings):
        got = det.judge(other, series_id="a")
        assert got == want


def test_bad_input_raises():
    s = seasonal_series(n=48)
    dup = pd.concat([s, s.iloc[[-1]]])
    with pytest.raises(ValueError, match="more than one value"):
        StlResidualDetector().judge(dup)
    with pytest.raises(ValueError, match="non-numeric"):
        StlResidualDetector().judge(s.astype(object).where(s.index != s.index[3], "x"))
    with pytest.raises(ValueError, match="dates"):
        StlResidualDetector().judge(pd.Series([1.0, 2.0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(threshold=0), "threshold"),
        (dict(min_history=24), "min_history"),
        (dict(seasonal_period=1), "seasonal_period"),
        (dict(seasonal_window=8), "seasonal_window"),
        (dict(max_history=30), "max_history"),
    ],
)
def test_constructor_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StlResidualDetector(**kwargs)


def test_detect_latest_long_frame():
    a = seasonal_series(seed=1)
    a.iloc[-1] *= 0.7
    b = seasonal_series(seed=2)
    c = seasonal_series(n=20, seed=3)
    frame = pd.concat(
        [
            pd.DataFrame({"series_id": sid, "period": s.index.strftime("%Y-%m"), "value": s.to_numpy()})
            for sid, s in (("b_clean", b), ("a_shock", a), ("c_short", c))
        ]
    )
    results = detect_latest(frame.sample(frac=1.0, random_state=0))
    assert [r.series_id for r in results] == ["a_shock", "b_clean", "c_short"]
    assert [r.status for r in results] == ["flagged", "normal", "insufficient_history"]
    assert results[0].direction == "down"
    assert results[0].period == a.index[-1]


def test_detect_latest_validation():
    frame = pd.DataFrame({"series_id": ["a", "a"], "period": ["2020-01", "2020-01"], "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="more than one value"):
        detect_latest(frame)
    with pytest.raises(ValueError, match="'value'"):
        detect_latest(frame.drop(columns="value"))


def test_to_record_is_plain():
    r = StlResidualDetector().judge(seasonal_series(n=20))
    rec = r.to_record()
    assert rec["period"] == "2016-08" and rec["score"] is None and rec["status"] == "insufficient_history"


# --------------------------------------------------------------------------- real data: INDPRO and COVID


@pytest.fixture(scope="module")
def indpro() -> pd.Series:
    df = pd.read_csv(EVAL / "series.csv")
    s = df[df["series_id"] == "INDPRO"].set_index("period")["value"]
    s.index = pd.to_datetime(s.index)
    return s


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return pd.read_csv(EVAL / "events.csv")


def test_indpro_covid_collapse_april_2020_is_flagged(indpro):
    at = pd.Timestamp("2020-04-01")
    r = StlResidualDetector().judge(indpro.loc[:at], series_id="INDPRO", at=at)
    assert (r.status, r.direction) == ("flagged", "down")
    assert r.observed == pytest.approx(84.6812)
    assert r.score < -20  # -47.6 at the time of writing
    assert 99 < r.expected < 103  # pre-COVID level ~101-102
    assert r.observed < r.lower


def test_indpro_covid_onset_is_caught_in_its_onset_month(indpro, events):
    covid = events[(events["series_id"] == "INDPRO") & events["cause"].str.contains("COVID") & (events["kind"] == "event")]
    onset = pd.Timestamp(covid["start"].iloc[0])
    assert onset == pd.Timestamp("2020-03-01")
    det = StlResidualDetector()
    results = replay(indpro.loc[: onset + pd.DateOffset(months=2)], det, series_id="INDPRO", start=onset - pd.DateOffset(months=1))
    verdict = {r.period: (r.status, r.direction) for r in results}
    assert verdict[onset - pd.DateOffset(months=1)] == ("normal", None)  # Feb 2020
    # March 2020 fell 4.0 % m/m; with the 13-month seasonal smoother the STL residual
    # is -3.3 % and z ~ -8.9, so the onset is caught with delay 0.
    assert verdict[onset] == ("flagged", "down")
    assert verdict[onset + pd.DateOffset(months=1)] == ("flagged", "down")


def test_indpro_short_seasonal_smoother_absorbs_march_2020(indpro):
    """Why seasonal_window defaults to 13: with statsmodels' default 7 the end-of-sample
    March subseries absorbs the March 2020 drop into the seasonal component, so the onset
    is not flagged (z ~ +0.1); April 2020 still is."""
    det7 = StlResidualDetector(seasonal_window=7)
    march = det7.judge(indpro, at="2020-03")
    assert march.status == "normal" and abs(march.score) < 1
    assert det7.judge(indpro, at="2020-04").direction == "down"


@pytest.mark.parametrize(
    "onset, caught",
    [
        ("2005-09", True),   # Katrina/Rita: -1.9 % m/m, flagged in the onset month
        ("2008-09", True),   # Gustav/Ike: -4.4 % m/m
        ("2020-03", True),   # COVID
        # Winter storm Uri: -3.3 % in Feb 2021, but the window still holds the 2020
        # swings and the robust trend bends to the last point: z ~ +0.2. Known miss.
        ("2021-02", False),
    ],
)
def test_indpro_documented_events(indpro, events, onset, caught):
    assert onset in set(events.loc[(events["series_id"] == "INDPRO") & (events["kind"] == "event"), "start"])
    start = pd.Timestamp(onset)
    det = StlResidualDetector()
    window = [start + pd.DateOffset(months=k) for k in range(3)]
    downs = [det.judge(indpro, at=m).direction == "down" for m in window]
    assert any(downs) is caught
