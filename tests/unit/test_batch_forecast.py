"""The batched confirmation models against statsmodels SARIMAX (the reference).

Tolerance (stated in docs/detection.md): the z-scores within 0.05, the one-step
forecast within 0.05 of its standard deviation, the standard deviation within 1 %. The
batched maximiser searches a grid (global maximum for |coefficient| <= 0.995), L-BFGS a
local maximum: on a flat or two-humped likelihood (a seasonal MA near -1) the two
estimates differ by a few thousandths of a log-likelihood unit, which moves z by a few
hundredths.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.batch_forecast import fit_forecast_models
from indicators.forecast_interval import fit_forecast_model

Z_TOL = 0.05
EXPECTED_TOL = 0.05  # in standard deviations of the forecast
SD_TOL = 0.01


def _series(seed: int, seasonal: bool, n: int = 120, ma: float = 0.0, ar: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_t(5, n + 1) * rng.uniform(0.005, 0.05)
    d = np.empty(n)
    prev = 0.0
    for t in range(n):
        d[t] = 0.002 + ar * prev + e[t + 1] + ma * e[t]
        prev = d[t]
    x = 3.0 + np.cumsum(d)
    if seasonal:
        x = x + rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * np.arange(n) / 12)
    return x


def _assert_close(ref, new):
    assert ref is not None and new is not None
    assert new.model == ref.model
    assert np.nanmax(np.abs(new.z - ref.z)) <= Z_TOL
    assert abs(new.expected - ref.expected) <= EXPECTED_TOL * ref.sd
    assert abs(new.sd / ref.sd - 1) <= SD_TOL
    assert new.n_fit == ref.n_fit


@pytest.mark.parametrize("nonseasonal", ["ar", "ma", "auto"])
def test_matches_statsmodels_on_fixture_series(nonseasonal):
    # AR-like, MA-like (blips made up next month) and seasonal windows, ending in a drop
    xs = [_series(1, False, ar=0.5), _series(2, False, ma=-0.6), _series(3, True), _series(4, True, n=80),
          _series(5, False, n=60)]
    xs[0][-1] -= 0.2
    xs[2][-2:] -= 0.15
    seasonal = [False, False, True, True, False]
    new = fit_forecast_models(xs, seasonal, holdout=3, max_lag=3, last_months=[12, 6, 1, 2, 9],
                              nonseasonal=nonseasonal)
    for x, s, m, fit in zip(xs, seasonal, [12, 6, 1, 2, 9], new):
        _assert_close(fit_forecast_model(x, s, holdout=3, max_lag=3, last_month=m, nonseasonal=nonseasonal), fit)


def test_auto_picks_the_model_statsmodels_picks():
    xs = [_series(11, False, ar=0.7), _series(12, False, ma=-0.7)]
    new = fit_forecast_models(xs, [False, False], holdout=3, max_lag=3, nonseasonal="auto")
    assert [f.model for f in new] == ["ARIMA(1,1,0) with drift", "ARIMA(0,1,1) with drift"]


def test_windows_with_a_gap_at_the_end_and_short_windows_are_the_reference_exactly():
    gappy = _series(21, True)
    gappy[-5] = np.nan  # within the last max_lag + 13 months: the reference's undifferenced filter
    short = _series(22, False, n=20)
    new = fit_forecast_models([gappy, short], [True, False], holdout=3, max_lag=3, last_months=[5, 5])
    ref = fit_forecast_model(gappy, True, holdout=3, max_lag=3, last_month=5)
    np.testing.assert_array_equal(new[0].z, ref.z)
    assert new[0].expected == ref.expected
    assert new[1] is None and fit_forecast_model(short, False, holdout=3, max_lag=3) is None


@pytest.mark.parametrize("seasonal", [False, True])
def test_windows_with_gaps_in_the_history_match_statsmodels(seasonal):
    # masked past outliers: their differences are left out of the likelihood, as in SARIMAX
    xs = [_series(40 + i, seasonal, ma=-0.4 * (i % 2)) for i in range(4)]
    for i, x in enumerate(xs):
        x[[20 + 7 * i, 61 - i]] = np.nan
    new = fit_forecast_models(xs, [seasonal] * 4, holdout=3, max_lag=3, last_months=[8] * 4, nonseasonal="auto")
    for x, fit in zip(xs, new):
        _assert_close(fit_forecast_model(x, seasonal, holdout=3, max_lag=3, last_month=8, nonseasonal="auto"), fit)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), seasonal=st.booleans(), n=st.integers(50, 120),
       coef=st.floats(-0.8, 0.8), nonseasonal=st.sampled_from(["ar", "ma", "auto"]))
def test_matches_statsmodels_on_generated_series(seed, seasonal, n, coef, nonseasonal):
    x = _series(seed, seasonal, n=n, ma=coef if seed % 2 else 0.0, ar=0.0 if seed % 2 else coef)
    new = fit_forecast_models([x], [seasonal], holdout=2, max_lag=2, last_months=[3], nonseasonal=nonseasonal)[0]
    _assert_close(fit_forecast_model(x, seasonal, holdout=2, max_lag=2, last_month=3, nonseasonal=nonseasonal), new)


def test_a_window_fit_does_not_depend_on_its_batch():
    # detect --chunk-size must not change a finding: each window is fitted on its own
    xs = [_series(30 + i, i % 3 == 0, ma=-0.3 * (i % 2)) for i in range(9)]
    seasonal = [i % 3 == 0 for i in range(9)]
    together = fit_forecast_models(xs, seasonal, holdout=3, max_lag=3, last_months=[4] * 9, nonseasonal="auto")
    apart = (fit_forecast_models(xs[:4], seasonal[:4], holdout=3, max_lag=3, last_months=[4] * 4, nonseasonal="auto")
             + fit_forecast_models(xs[4:], seasonal[4:], holdout=3, max_lag=3, last_months=[4] * 5,
                                   nonseasonal="auto"))
    for a, b in zip(together, apart):
        np.testing.assert_array_equal(a.z, b.z)
        assert (a.expected, a.sd, a.model) == (b.expected, b.sd, b.model)
