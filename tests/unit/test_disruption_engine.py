"""Two-stage disruption engine: screen + SARIMAX confirmation, no look-ahead, real disruptions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from indicators.disruption import DetectionResult
from indicators.disruption_engine import (
    METHOD_LEVEL_SHIFT,
    METHOD_SHOCK,
    DisruptionEngine,
    LevelShiftDetector,
)
from indicators.evaluation import evaluate_flags
from indicators.forecast_interval import (
    NONSEASONAL_MA_MODEL,
    NONSEASONAL_MODEL,
    fit_forecast_model,
    new_year_factors,
)
from indicators.naive_change import naive_change_flags
from indicators.screening import SeriesMatrix
from tests.shared_data import EVAL



def walk(n: int = 120, seed: int = 0, start: str = "2010-01-01", noise: float = 0.01, seasonal: float = 0.0) -> pd.Series:
    """Random walk with drift in logs (+0.2 %/month), optional +-seasonal, level 100."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    log_y = np.log(100.0) + 0.002 * t + np.cumsum(rng.normal(0.0, noise, n)) + seasonal * np.sin(2 * np.pi * t / 12)
    return pd.Series(np.exp(log_y), index=pd.date_range(start, periods=n, freq="MS"), name="S")


def long(**series: pd.Series) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"series_id": k, "period": s.index, "value": s.to_numpy()})
                      for k, s in series.items()], ignore_index=True)


@pytest.fixture(scope="module")
def engine() -> DisruptionEngine:
    return DisruptionEngine()


# --------------------------------------------------------------------------- verdicts


def test_one_month_break_is_flagged_as_a_shock(engine):
    s = walk(seed=1)
    s.iloc[-1] *= 0.85
    r = engine.judge(s, series_id="X")
    assert isinstance(r, DetectionResult)
    assert (r.series_id, r.status, r.direction, r.method) == ("X", "flagged", "down", METHOD_SHOCK)
    assert r.score <= -engine.threshold
    assert r.observed < r.lower < r.expected < r.upper
    assert r.expected == pytest.approx(s.iloc[-2] * 1.002, rel=0.03)
    assert "below the expected" in r.explanation_en and "one-month break" in r.explanation_en
    # a random walk: either non-seasonal model may fit its past better
    assert any(m in r.explanation_en and m in r.explanation_zh for m in (NONSEASONAL_MODEL, NONSEASONAL_MA_MODEL))
    assert "低" in r.explanation_zh and "单月骤降" in r.explanation_zh


@pytest.mark.parametrize("seed", range(4))
def test_clean_series_is_normal(engine, seed):
    r = engine.judge(walk(seed=seed))
    assert r.status == "normal" and r.direction is None
    assert r.score > -engine.threshold
    assert r.lower <= r.observed <= r.upper


def test_lasting_drop_is_a_level_shift_and_a_blip_is_not():
    rng = np.random.default_rng(7)
    n = 120
    # noisy level around a slow trend: the drop builds over three months
    base = np.exp(np.log(100) + 0.001 * np.arange(n) + rng.normal(0, 0.01, n))
    shifted = base.copy()
    shifted[-3:] *= np.array([0.975, 0.955, 0.94])
    s = pd.Series(shifted, index=pd.date_range("2010-01-01", periods=n, freq="MS"))
    det = LevelShiftDetector()
    r = det.judge(s, series_id="L")
    assert (r.status, r.direction, r.method) == ("flagged", "down", METHOD_LEVEL_SHIFT)
    assert "lasting drop, not a one-month blip" in r.explanation_en and "持续下降" in r.explanation_zh
    # a blip: one bad month, then back to normal
    blip = base.copy()
    blip[-2] *= 0.9
    b = pd.Series(blip, index=s.index)
    assert DisruptionEngine().judge(b.iloc[:-1]).status == "flagged"  # the blip month itself is a shock
    after = det.judge(b)
    assert after.status == "normal"


def test_payback_after_a_surge_is_not_a_disruption(engine):
    s = walk(seed=3, noise=0.01)
    s.iloc[-2] *= 1.12  # a one-month surge (e.g. an incentive programme) ...
    r = engine.judge(s)  # ... and the month after it returns to normal: -11 % m/m
    assert r.status == "normal"
    # the score is the evidence against the level before the surge, so it agrees
    # with the verdict (it was the -11 % one-month z before the payback rule)
    assert -engine.threshold < r.score < 0
    assert "payback, not a disruption" in r.explanation_en and "回吐" in r.explanation_zh


def test_payback_after_a_two_month_surge_is_not_a_disruption(engine):
    # e.g. sales pulled forward ahead of a tax change: two strong months, then back
    s = walk(seed=5, noise=0.01)
    s.iloc[-3:-1] *= np.array([1.08, 1.18])
    r = engine.judge(s)
    assert r.status == "normal" and r.score > -engine.threshold
    assert "the 2 months before had surged" in r.explanation_en


def test_fall_well_below_the_level_before_a_surge_is_still_a_disruption(engine):
    s = walk(seed=3, noise=0.01)
    s.iloc[-2] *= 1.12
    s.iloc[-1] *= 0.75  # a strike right after an incentive month: 25 % below the pre-surge path
    r = engine.judge(s)
    assert (r.status, r.direction) == ("flagged", "down")
    assert r.score <= -engine.threshold
    assert "follows a surge of 1 month(s)" in r.explanation_en and f"z = {r.score:.1f}" in r.explanation_en


def test_flow_that_stops_is_flagged(engine):
    s = walk(seed=4)
    s.iloc[-1] = 0.0
    r = engine.judge(s)
    assert (r.status, r.direction) == ("flagged", "down")
    assert r.observed == 0.0


def test_seasonal_series_uses_the_airline_model(engine):
    s = walk(seed=5, seasonal=0.2)
    assert engine.judge(s).status == "normal"
    shocked = s.copy()
    shocked.iloc[-1] *= 0.8
    r = engine.judge(shocked)
    assert r.status == "flagged" and "SARIMA(0,1,1)(0,1,1)12" in r.explanation_en


# --------------------------------------------------------------------------- history, gaps, input


def test_insufficient_history_and_missing_month(engine):
    r = engine.judge(walk(n=30))
    assert r.status == "insufficient_history" and math.isnan(r.score)
    assert "30" in r.explanation_en and "36" in r.explanation_en
    s = walk()
    gap = s.index[-4]
    assert engine.judge(s.drop(gap), at=gap).status == "missing"
    assert engine.judge(s, at="2040-01").status == "missing"


def test_gap_before_the_judged_month_is_bridged(engine):
    s = walk(seed=6)
    s.iloc[-1] *= 0.85
    r = engine.judge(s.drop(s.index[-2]))
    assert (r.status, r.direction) == ("flagged", "down")
    long_gap = s.drop(s.index[-6:-1])
    r = engine.judge(long_gap)
    assert r.status == "insufficient_history" and "No observation in the 3 months" in r.explanation_en


def test_series_that_start_and_stop_at_different_months(engine):
    a = walk(n=130, seed=1, start="2010-01-01")  # to 2020-10
    b = walk(n=60, seed=2, start="2014-01-01")
    b.iloc[-1] *= 0.8  # stops in 2018-12 with a collapse
    results = engine.detect(long(a=a, b=b))
    assert [r.series_id for r in results] == ["a", "b"]
    assert results[0].period == a.index[-1] and results[0].status == "normal"
    assert results[1].period == b.index[-1] and results[1].status == "flagged"
    at = engine.detect(long(a=a, b=b), at=a.index[-1])
    assert [r.status for r in at] == ["normal", "missing"]


def test_per_series_threshold(engine):
    s = walk(seed=8)
    s.iloc[-1] *= 0.93
    frame = long(a=s, b=s)
    default = {r.series_id: r.status for r in engine.detect(frame)}
    deaf = {r.series_id: r.status for r in engine.detect(frame, thresholds={"b": 50.0})}
    assert default == {"a": "flagged", "b": "flagged"}
    assert deaf == {"a": "flagged", "b": "normal"}
    with pytest.raises(ValueError, match="'b'"):
        engine.detect(frame, thresholds={"b": -1.0})
    assert engine.judge(s).status == "flagged" and engine.judge(s, threshold=50.0).status == "normal"


def test_judge_each_gives_judge_verdicts_series_by_series(engine):
    # Different calendars (starts, ends, a gap), a shock, a level shift, a stop, too short a
    # history, a repeated id with two thresholds: one batched run, the verdicts of judge().
    shock, shift, gap, seasonal = walk(seed=3), walk(150, seed=4, start="2008-06-01"), walk(seed=5), walk(
        seed=6, start="2012-03-01", seasonal=0.2)
    shock.iloc[-1] *= 0.8
    shift.iloc[-4:] *= 0.7
    gap.iloc[-5:-3] = np.nan
    seasonal = seasonal.iloc[:-7]  # ends months before the others
    stopped = walk(seed=7).copy()
    stopped.iloc[-1] = 0.0
    items = [("a", shock, None), ("b", shift, 2.5), ("c", gap, None), ("d", seasonal, 5.0), ("e", stopped, None),
             ("f", walk(10, seed=8), None), ("a", shock, 500.0)]
    batched = engine.judge_each(items)
    assert [r.series_id for r in batched] == ["a", "b", "c", "d", "e", "f", "a"]
    assert batched == [engine.judge(values, series_id=sid, threshold=t) for sid, values, t in items]
    assert {r.status for r in batched} >= {"flagged", "normal", "insufficient_history"}
    assert batched[0].status == "flagged" and batched[6].status == "normal"  # its own threshold each
    assert engine.judge_each([]) == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=0), "threshold"),
    (dict(max_lag=0), "max_lag"),
    (dict(max_history=30), "max_history"),
    (dict(outlier_threshold=0.0), "outlier_threshold"),
    (dict(directions=("sideways",)), "directions"),
    (dict(nonseasonal_model="arma"), "nonseasonal_model"),
])
def test_engine_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DisruptionEngine(**kwargs)


# --------------------------------------------------------------------------- no look-ahead


def test_replay_equals_live_detection_on_truncated_data(engine):
    a = walk(n=110, seed=11)
    a.iloc[70] *= 0.85
    b = walk(n=110, seed=12, seasonal=0.15)
    b.iloc[90:] *= 0.8
    frame = long(a=a, b=b)
    replayed = {(r.series_id, r.period): r for r in engine.replay(frame)}
    for month in [a.index[k] for k in (36, 60, 70, 71, 90, 91, 92, 109)]:
        live = engine.detect(frame[frame["period"] <= month], at=month)
        for r in live:
            assert replayed[(r.series_id, month)] == r


def test_future_data_never_changes_a_verdict(engine):
    s = walk(n=120, seed=13)
    s.iloc[80] *= 0.8
    at = s.index[80]
    truncated = engine.judge(s.loc[:at], series_id="X")
    assert truncated.status == "flagged"
    wild = s.copy()
    wild.iloc[81:] = np.linspace(1e6, 0.0, len(wild) - 81)  # absurd future values, incl. zero
    assert engine.judge(s, series_id="X", at=at) == truncated
    assert engine.judge(wild, series_id="X", at=at) == truncated
    replayed = {r.period: r for r in engine.replay(long(X=wild))}
    assert replayed[at] == truncated


def test_run_reports_stage_costs(engine):
    frame = long(**{f"s{i}": walk(seed=i) for i in range(5)})
    matrix = SeriesMatrix.from_long(frame)
    rows, cols = matrix.observed_cells()
    run = engine.run(matrix, rows, cols)
    assert run.cells == len(rows) == len(run.results)
    assert 0 <= run.candidates < run.cells and run.flagged <= run.candidates + 0
    assert run.screen_seconds >= 0 and run.confirm_seconds >= 0


# --------------------------------------------------------------------------- the model stage


def test_forecast_model_errors_are_standard_normal_on_its_own_process():
    rng = np.random.default_rng(21)
    zs = []
    for _ in range(40):
        eps = rng.normal(0, 0.01, 121)
        d = np.empty(121)
        d[0] = 0.002
        for t in range(1, 121):
            d[t] = 0.002 + 0.3 * (d[t - 1] - 0.002) + eps[t]
        fit = fit_forecast_model(np.cumsum(d), seasonal=False, holdout=1, max_lag=1)
        zs.append(fit.z[0])
    zs = np.array(zs)
    assert abs(zs.mean()) < 0.5 and 0.6 < zs.std() < 1.5
    assert fit_forecast_model(np.cumsum(d)[:20], seasonal=False) is None


def level_plus_noise(n: int = 150, seed: int = 0, theta: float = -0.6, noise: float = 0.02) -> np.ndarray:
    """Log level observed with noise: changes are an MA(1), 0.2 %/month drift."""
    e = np.random.default_rng(seed).standard_normal(n + 1) * noise
    return np.log(100.0) + np.cumsum(0.002 + e[1:] + theta * e[:-1])


def momentum(n: int = 150, seed: int = 0, phi: float = 0.8, noise: float = 0.01) -> np.ndarray:
    """Log level whose changes are an AR(1) around 0.2 %/month."""
    e = np.random.default_rng(seed).standard_normal(n) * noise
    d = np.zeros(n)
    for t in range(1, n):
        d[t] = phi * d[t - 1] + e[t]
    return np.log(100.0) + np.cumsum(0.002 + d)


def test_nonseasonal_model_is_chosen_by_likelihood_on_the_estimation_window():
    for seed in range(5):
        blips, trend = level_plus_noise(seed=seed), momentum(seed=seed)
        auto_blips = fit_forecast_model(blips, seasonal=False, holdout=3, max_lag=3, nonseasonal="auto")
        auto_trend = fit_forecast_model(trend, seasonal=False, holdout=3, max_lag=3, nonseasonal="auto")
        assert auto_blips.model == NONSEASONAL_MA_MODEL and auto_trend.model == NONSEASONAL_MODEL
        # "auto" is exactly the chosen model, not a blend
        ma = fit_forecast_model(blips, seasonal=False, holdout=3, max_lag=3, nonseasonal="ma")
        np.testing.assert_array_equal(auto_blips.z, ma.z)
        assert auto_blips.sd == ma.sd and auto_blips.expected == ma.expected
    # default unchanged (the stand-alone forecast-interval detector), seasonal unaffected
    assert fit_forecast_model(level_plus_noise(seed=9), seasonal=False).model == NONSEASONAL_MODEL
    seasonal = fit_forecast_model(level_plus_noise(seed=9), seasonal=True, nonseasonal="auto")
    assert seasonal.model == "SARIMA(0,1,1)(0,1,1)12"
    with pytest.raises(ValueError, match="nonseasonal"):
        fit_forecast_model(level_plus_noise(seed=9), seasonal=False, nonseasonal="arma")


def test_model_choice_never_reads_the_judged_window_or_the_future():
    # The likelihoods that pick the model come from x[:-holdout] only: changing the
    # judged months (or anything after them, which the engine never passes) cannot
    # switch the model.
    x = level_plus_noise(seed=3)
    base = fit_forecast_model(x, seasonal=False, holdout=3, max_lag=3, nonseasonal="auto")
    y = x.copy()
    y[-3:] -= np.array([0.05, 0.12, 0.3])
    assert fit_forecast_model(y, seasonal=False, holdout=3, max_lag=3, nonseasonal="auto").model == base.model


def test_two_month_strike_in_level_plus_noise_output():
    """A strike that holds output down for two months in a series of one-month blips
    (the GM strike of Sep-Oct 2019 in G.17 motor-vehicle output): the level-plus-noise
    model confirms it, replay equals live detection and later data change nothing."""
    x = level_plus_noise(n=150, seed=12, theta=-0.5, noise=0.02)
    x[140] -= 0.05
    x[141] -= 0.11
    s = pd.Series(np.exp(x), index=pd.date_range("2008-01-01", periods=150, freq="MS"), name="MV")
    engine = DisruptionEngine()
    at = s.index[141]
    r = engine.judge(s.loc[:at], series_id="MV")
    assert (r.status, r.direction) == ("flagged", "down") and NONSEASONAL_MA_MODEL in r.explanation_en
    wild = s.copy()
    wild.iloc[142:] = 1e6
    assert engine.judge(wild, series_id="MV", at=at) == r
    assert {x.period: x for x in engine.replay(long(MV=wild))}[at] == r
    assert engine.detect(long(MV=s.loc[:at]))[0] == r


# --------------------------------------------------------------------------- real disruptions


@pytest.fixture(scope="module")
def eval_replay():
    frame = pd.read_csv(EVAL / "series.csv")
    events = pd.read_csv(EVAL / "events.csv")
    results = DisruptionEngine().replay(frame)
    return frame, events, results


def test_eval_set_meets_the_quality_target_and_beats_both_naive_rules(eval_replay):
    """Issue 5's target, computed by the evaluation harness on the walk-forward replay:
    >= 80 % caught within two months, <= 6 false alarms per 100 series-years, and better
    than both naive rules of the evaluation (docs/detection.md) on both numbers at once."""
    frame, events, results = eval_replay
    flags = pd.DataFrame([{"series_id": r.series_id, "period": r.period, "direction": r.direction}
                          for r in results if r.status == "flagged"])
    ours = evaluate_flags(flags, frame, events)
    naive3 = evaluate_flags(naive_change_flags(frame, 3.0), frame, events)
    naive2 = evaluate_flags(naive_change_flags(frame, 2.0), frame, events)
    assert ours.n_events == 7 and ours.series_years > 100
    assert ours.recall >= 0.8, ours.event_table()
    assert ours.false_alarms_per_100_series_years <= 6.0, ours.false_alarm_periods
    for naive in (naive3, naive2):
        assert ours.recall > naive.recall
        assert ours.false_alarms_per_100_series_years < naive.false_alarms_per_100_series_years


def test_winter_storm_uri_is_caught_despite_covid_in_the_window(eval_replay):
    """The mean/sd rule misses Uri: the 2020 swings inflate its scale for five years."""
    _, _, results = eval_replay
    by = {(r.series_id, r.period.strftime("%Y-%m")): r for r in results}
    uri = by[("INDPRO", "2021-02")]
    assert (uri.status, uri.direction, uri.method) == ("flagged", "down", METHOD_SHOCK)
    assert by[("INDPRO", "2021-01")].status == "normal"
    covid = by[("INDPRO", "2020-03")]
    assert covid.status == "flagged" and covid.observed == pytest.approx(97.606)


def test_tohoku_is_caught_once_new_year_noise_has_its_own_variance(eval_replay):
    """Japan's exports to China: Lunar New Year makes January-February far noisier than
    the rest; with one pooled variance the model saw Tohoku (Mar-May 2011) at z = -2.85."""
    _, _, results = eval_replay
    by = {(r.series_id, r.period.strftime("%Y-%m")): r for r in results}
    window = [by[("JP_EXP_CN", m)] for m in ("2011-04", "2011-05", "2011-06")]
    hit = [r for r in window if r.status == "flagged"]
    assert hit and hit[0].direction == "down" and hit[0].method == METHOD_LEVEL_SHIFT
    assert "SARIMA(0,1,1)(0,1,1)12" in hit[0].explanation_en


def test_new_year_factors_only_when_january_february_are_noisier():
    rng = np.random.default_rng(4)
    n = 120  # ten years ending in December
    january_february = (np.arange(n) % 12) < 2
    noisy = rng.normal(0.0, 1.0, n) * np.where(january_february, 3.0, 1.0)
    f = new_year_factors(noisy, np.ones(n), n, last_month=12)
    assert f[january_february].min() > 2.0 and f[~january_february].max() < 1.0
    # the factors keep the model's average variance over a year
    assert (2 * f[0] + 10 * f[5]) / 12 == pytest.approx(1.0)
    assert (f[january_february] == f[0]).all() and (f[~january_february] == f[5]).all()
    # no effect: equal spread, a noisy month other than January-February, or too few years
    assert (new_year_factors(rng.normal(0.0, 1.0, n), np.ones(n), n, 12) == 1.0).all()
    july = noisy.copy()
    july[january_february] /= 3.0
    july[np.arange(n) % 12 == 6] *= 3.0
    assert (new_year_factors(july, np.ones(n), n, 12) == 1.0).all()
    assert (new_year_factors(noisy[-36:], np.ones(36), 36, 12) == 1.0).all()
    # only the estimation window (the first n_fit months) sets them
    tail = noisy.copy()
    tail[-12:] *= 50.0
    assert np.allclose(new_year_factors(tail, np.ones(n), n - 12, 12), new_year_factors(noisy, np.ones(n), n - 12, 12))


def test_model_with_new_year_variance_narrows_the_other_months():
    rng = np.random.default_rng(0)
    n = 124  # 2008-01 .. 2018-04
    month = np.arange(n) % 12 + 1
    shift = rng.normal(0.0, 0.12, n)  # volume moved between January and February
    x = (0.002 * np.arange(n) + 0.15 * np.sin(2 * np.pi * np.arange(n) / 12) + np.cumsum(rng.normal(0, 0.015, n))
         + np.where(month == 1, shift, 0.0) - np.where(month == 2, np.roll(shift, 1), 0.0))
    x[-1] -= 0.08  # an 8 % drop in April
    pooled = fit_forecast_model(x, seasonal=True)
    split = fit_forecast_model(x, seasonal=True, last_month=4)
    assert split.expected == pytest.approx(pooled.expected)
    assert split.sd < 0.6 * pooled.sd
    assert split.z[0] < -2.0 and split.z[0] < 2.0 * pooled.z[0]  # the drop stands out of April's own noise


def test_one_low_threshold_replay_gives_the_flags_of_every_higher_threshold():
    frames = {}
    for i in range(4):
        s = walk(n=100, seed=30 + i, noise=0.015)
        s.iloc[60 + i] *= 0.94 - 0.02 * i
        frames[f"s{i}"] = s
    for i in range(3):
        # a surge followed by a fall somewhat below the pre-surge level: the payback
        # evidence decides, and must not depend on the threshold either
        s = walk(n=100, seed=40 + i, noise=0.015)
        s.iloc[70] *= 1.15
        s.iloc[71:] *= 0.96 - 0.015 * i
        frames[f"p{i}"] = s
    frame = long(**frames)
    low = DisruptionEngine(threshold=2.5).replay(frame)
    for tau in (3.0, 3.5, 4.0):
        direct = {(r.series_id, r.period) for r in DisruptionEngine(threshold=tau).replay(frame) if r.status == "flagged"}
        derived = {(r.series_id, r.period) for r in low if r.status == "flagged" and r.score <= -tau}
        assert direct == derived


@pytest.fixture(scope="module")
def check_replay():
    from benchmarks.bench_disruption import CHECK_EVENTS, _check_series

    frame = _check_series()
    if frame is None:
        pytest.skip("check-set series not found under shared/data")
    return frame, CHECK_EVENTS, DisruptionEngine().replay(frame)


def test_vehicle_sales_paybacks_are_not_flagged(check_replay):
    """US light-vehicle sales (TOTALSA): GM's 2.9 % financing (Sep 1985), the 1986
    incentive war (Aug-Sep 1986) and the rush ahead of the 1986 Tax Reform Act
    (Dec 1986) pulled sales forward; the month after each falls back, not a disruption."""
    _, _, results = check_replay
    by = {(r.series_id, r.period.strftime("%Y-%m")): r for r in results}
    for month in ("1985-10", "1986-10", "1987-01"):
        r = by[("VEHICLE_SALES", month)]
        assert r.status == "normal", (month, r.explanation_en)
        assert "payback" in r.explanation_en
    assert by[("VEHICLE_SALES", "2020-03")].status == "flagged"  # COVID-19 still is


def test_gm_strike_2019_is_confirmed_by_the_level_plus_noise_model(check_replay):
    """G.17 motor-vehicle output: GM's UAW strike (16 Sep - 25 Oct 2019). Fitted on
    its past, ARIMA(0,1,1) beats ARIMA(1,1,0) in likelihood; with the AR(1) alone the
    model saw Sep-Oct at z = -3.34 and the strike was missed."""
    _, _, results = check_replay
    by = {(r.series_id, r.period.strftime("%Y-%m")): r for r in results}
    r = by[("MOTOR_VEHICLES", "2019-10")]
    assert (r.status, r.direction, r.method) == ("flagged", "down", METHOD_LEVEL_SHIFT)
    assert NONSEASONAL_MA_MODEL in r.explanation_en


def test_check_set_within_the_false_alarm_budget_and_beats_both_naive_rules(check_replay):
    """The series and labels not tuned on (benchmarks/bench_disruption.py CHECK_EVENTS)."""
    frame, events, results = check_replay
    flags = pd.DataFrame([{"series_id": r.series_id, "period": r.period, "direction": r.direction}
                          for r in results if r.status == "flagged"])
    ours = evaluate_flags(flags, frame, events)
    assert ours.false_alarms_per_100_series_years <= 6.0, ours.false_alarm_periods
    for threshold in (3.0, 2.0):
        naive = evaluate_flags(naive_change_flags(frame, threshold), frame, events)
        assert ours.recall > naive.recall
        assert ours.false_alarms_per_100_series_years < naive.false_alarms_per_100_series_years



@pytest.mark.parametrize("label_set, n_events", [("HOLDOUT_EVENTS", 7), ("POLICY_EVENTS", 8)])
def test_preregistered_events_are_all_judged_and_outside_their_ignore_windows(label_set, n_events):
    """The pre-registered labels (benchmarks/bench_disruption.py HOLDOUT_EVENTS on the
    eval set's INDPRO, POLICY_EVENTS on the check set's trade series) must each be
    scoreable: a label that fell before the 36-month burn-in, past the data or inside an
    ignore window would silently leave the recall it is meant to measure, and two
    events of one series whose windows overlap would share a flag."""
    import benchmarks.bench_disruption as bench
    from indicators.evaluation import read_events

    events = getattr(bench, label_set)
    if label_set == "HOLDOUT_EVENTS":
        frame = pd.read_csv(EVAL / "series.csv")  # the evaluation set's copy in tests/fixtures
    else:
        frame = bench._check_series()
        if frame is None:
            pytest.skip(f"trade series under {bench.DATA} not found")
    frame = frame[frame["series_id"].isin(events["series_id"])]
    labels = read_events(events)
    for sid, own in labels.groupby("series_id"):
        ignores = own[own["kind"] == "ignore"]
        onsets = own.loc[own["kind"] == "event", "start"].sort_values()
        assert (onsets.iloc[1:].to_numpy() > (onsets.iloc[:-1] + pd.DateOffset(months=2)).to_numpy()).all(), sid
        for onset in onsets:
            window_end = onset + pd.DateOffset(months=2)
            assert not ((ignores["start"] <= window_end) & (ignores["end"] >= onset)).any(), (sid, onset)
    empty = pd.DataFrame(columns=["series_id", "period", "direction"])
    outcome = evaluate_flags(empty, frame, events)
    assert outcome.n_events == n_events
    assert all(e.judged and not e.caught for e in outcome.events)


def test_evidence_bounds_the_verdict_and_never_reads_ahead():
    """``evidence`` is the strongest each statistic says in the window, whatever the verdict:
    a flagged month's score is never stronger than the weaker of the two (the score is
    the weaker statistic of its best window), and a cell's evidence does not change when
    later months are appended (or wildly revised)."""
    engine = DisruptionEngine()
    s = walk(n=100, seed=11)
    s.iloc[80] *= 0.85  # a clear one-month break
    s.iloc[90] *= 0.97  # a small dip, within the noise
    frame = long(a=s)
    matrix = SeriesMatrix.from_long(frame)
    cols = np.array([matrix.column_of(s.index[i]) for i in (10, 80, 90)])
    z = engine.evidence(matrix, np.zeros(3, dtype=np.int64), cols)
    assert np.isnan(z[0]).all()  # 11 months: insufficient history, no evidence
    verdict = engine.judge(s.iloc[:81])
    assert verdict.status == "flagged" and verdict.score >= max(z[1]) - 1e-9
    assert z[1].max() <= -engine.threshold
    assert z[2].min() > -engine.threshold  # the dip stays within the noise on both statistics
    later = s.copy()
    later.iloc[91:] *= 0.5  # a future collapse must not move month 90's evidence
    moved = engine.evidence(SeriesMatrix.from_long(long(a=later)), np.zeros(3, dtype=np.int64), cols)
    np.testing.assert_array_equal(np.isnan(moved), np.isnan(z))
    np.testing.assert_allclose(moved[1:], z[1:])


def test_budget_critical_z_is_the_normal_quantile_of_the_allowed_share_of_months():
    from scipy.stats import norm

    from indicators.evaluation import budget_critical_z

    assert budget_critical_z() == pytest.approx(-2.5758, abs=1e-4)  # 6 per 100 series-years = 0.5 % of months
    for budget in (1.0, 6.0, 60.0):
        assert 1200 * norm.cdf(budget_critical_z(budget)) == pytest.approx(budget)
    assert budget_critical_z(1.0) < budget_critical_z(6.0) < budget_critical_z(60.0)
    with pytest.raises(ValueError, match="budget"):
        budget_critical_z(0.0)


def test_surge_outside_the_judged_direction_is_not_called_within_range():
    down_only = DisruptionEngine(directions=("down",))
    s = walk(seed=2)
    s.iloc[-1] *= 1.25
    r = down_only.judge(s, series_id="X")
    assert r.status == "normal" and r.observed > r.upper
    assert "above the expected range" in r.explanation_en and "within" not in r.explanation_en
    assert "only down moves are judged" in r.explanation_en
    assert "高于预期区间" in r.explanation_zh and "之内" not in r.explanation_zh


def test_confirmation_models_run_with_one_blas_thread(monkeypatch):
    # Small matrices (SARIMAX's, the batched filter's): more BLAS threads only
    # oversubscribe the cores.
    from threadpoolctl import threadpool_info

    import indicators.disruption_engine as engine_module

    seen = []
    real_fit = engine_module.fit_forecast_models

    def spying_fit(*args, **kwargs):
        seen.append(max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(engine_module, "fit_forecast_models", spying_fit)
    s = walk(seed=1)
    s.iloc[-1] *= 0.85
    assert DisruptionEngine().judge(s).status == "flagged"
    assert seen and set(seen) == {1}
