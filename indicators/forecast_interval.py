"""The forecast model of the disruption engine's confirmation stage: how far is each
month from what a statsmodels SARIMAX model, fitted on the months before it, forecast?

Pure computation, no I/O. :func:`fit_forecast_model` is the statsmodels part of the
two-stage engine (:mod:`indicators.disruption_engine`): it fits the model on a
window that ends *before* the months under test and returns their standardised
one-step forecast errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from indicators.disruption import MAD_TO_SIGMA

__all__ = [
    "ForecastFit",
    "fit_forecast_model",
    "fit_from_errors",
]

#: Significance level of the test "January-February errors are more spread out".
NEW_YEAR_ALPHA = 0.01
#: January-February errors needed for that test (four years).
MIN_NEW_YEAR_ERRORS = 8

#: Model names as they appear in explanations.
NONSEASONAL_MODEL = "ARIMA(1,1,0) with drift"
NONSEASONAL_MA_MODEL = "ARIMA(0,1,1) with drift"
SEASONAL_MODEL = "SARIMA(0,1,1)(0,1,1)12"
#: ``nonseasonal`` choices of :func:`fit_forecast_model`.
NONSEASONAL_CHOICES = ("ar", "ma", "auto")


@dataclass(frozen=True)
class ForecastFit:
    """The model's view of the last ``len(z)`` months of a window.

    Attributes
    ----------
    model : str
        ``"ARIMA(1,1,0) with drift"`` or ``"SARIMA(0,1,1)(0,1,1)12"``.
    z : numpy.ndarray
        ``z[k-1]``: standardised sum of the one-step forecast errors of the last *k*
        months, :math:`\\sum v / \\sqrt{\\sum F}` (NaN when a month is missing).
    expected : float
        One-step forecast of the last month (transformed scale).
    sd : float
        Its standard deviation :math:`\\sqrt{F_t}` (transformed scale).
    n_fit : int
        Observations the parameters were estimated on.
    """

    model: str
    z: np.ndarray
    expected: float
    sd: float
    n_fit: int


def fit_forecast_model(x: np.ndarray, seasonal: bool, holdout: int = 1, max_lag: int = 1,
                       last_month: int | None = None, nonseasonal: str = "ar") -> ForecastFit | None:
    """Fit SARIMAX on ``x[:-holdout]`` and standardise the forecast errors of the end.

    Parameters
    ----------
    x : numpy.ndarray
        Values on a log-like scale (:func:`indicators.screening.scaled_log`), the
        last entry being the judged month; NaN = missing (or a masked outlier).
    seasonal : bool
        Seasonal airline model instead of the non-seasonal one.
    holdout : int, default 1
        Months at the end kept out of the parameter estimate (so a shock under test
        does not widen its own interval).
    max_lag : int, default 1
        Return ``z`` for ``k = 1..max_lag``.
    last_month : int, optional
        Calendar month (1-12) of the last entry of ``x``. With it, a seasonal model
        gets its own error variance for January-February when those months are
        significantly noisier (see Notes); without it, one variance for all months.
    nonseasonal : {"ar", "ma", "auto"}, default "ar"
        Non-seasonal model: ARIMA(1,1,0), ARIMA(0,1,1), or whichever of the two fits
        the estimation window better (see Notes).

    Returns
    -------
    ForecastFit or None
        None when there is too little data (fewer than 24 usable differences for the
        fit) or the model cannot be estimated.

    Notes
    -----
    Models (on the transformed scale, so errors are relative):

    * non-seasonal: ARIMA(1,1,0) with drift,
      :math:`\\Delta x_t = \\mu + \\phi(\\Delta x_{t-1} - \\mu) + \\varepsilon_t`
      (``nonseasonal="ar"``), or ARIMA(0,1,1) with drift,
      :math:`\\Delta x_t = \\mu + \\varepsilon_t + \\theta\\varepsilon_{t-1}` (``"ma"``: a
      level observed with noise, forecast by an exponentially weighted level; Muth
      1960, *JASA* 55, 299-306). With ``"auto"`` both are estimated on the same window
      and the one with the higher maximised log-likelihood is used: they have the
      same number of parameters (:math:`\\mu`, one coefficient, the variance), so this
      is the choice by AIC (Akaike 1974, *IEEE TAC* 19, 716-723), as in automatic
      ARIMA identification (Hyndman & Khandakar 2008, *J. Stat. Softw.* 27(3)); a tie
      keeps ARIMA(1,1,0). Output hit now and then by one-month blips that are made up
      the next month (strikes, retooling, storms) is a level plus noise, an MA(1) in
      differences: an AR(1) fitted to it leaves autocorrelated one-step errors and a
      larger error variance, and understates a drop that lasts two months;
    * seasonal: the airline model SARIMA(0,1,1)(0,1,1)\\ :sub:`12`,
      :math:`\\Delta\\Delta_{12} x_t = (1+\\theta B)(1+\\Theta B^{12})\\varepsilon_t`
      (Box & Jenkins 1970), the standard model for seasonal trade series.

    Parameters are estimated by exact maximum likelihood (Kalman filter; statsmodels
    ``SARIMAX``, differencing done beforehand, variance concentrated out) on
    ``x[:-holdout]``; the model is then run with those parameters through the end.
    With one-step forecast errors :math:`v_s` and their variances :math:`F_s`, the
    *k*-month statistic is

    .. math:: z_k = \\sum_{s=t-k+1}^{t} v_s \\Big/ \\sqrt{\\sum_{s=t-k+1}^{t} F_s}

    which is :math:`N(0, 1)` when the model holds (the errors are independent): for
    ``k = 1`` the forecast-interval breach, for ``k > 1`` the CUSUM of recursive
    residuals over the last *k* months (Brown, Durbin & Evans 1975, *JRSS B* 37,
    149-192), which is how a level shift shows up in one-step errors.

    *New-Year variance* (seasonal model, ``last_month`` given): Lunar New Year moves
    between January and February (and the Western New Year sits at their edge), so
    in trade with East Asia those two months are far noisier than the rest; one
    pooled variance then overstates the spread of every other month and hides a real
    drop in it. The standardised errors :math:`r_s = v_s/\\sqrt{F_s}` of the
    estimation window are split into January-February and the other months; when a
    Brown-Forsythe test (Levene's test on deviations from the median; Brown &
    Forsythe 1974, *JASA* 69, 364-367) rejects equal spread at ``NEW_YEAR_ALPHA``
    (0.01) and January-February are the noisier group, each group *g* gets

    .. math:: f_g = \\hat\\sigma_g^2 \\Big/ \\tfrac{1}{12}\\left(2\\hat\\sigma_{JF}^2
        + 10\\hat\\sigma_{rest}^2\\right), \\qquad
        \\hat\\sigma_g = 1.4826\\,\\operatorname{median}_{s \\in g}|r_s|

    (robust group scale, normalised so the factors average 1 over a year and the
    model's overall variance is kept) and :math:`F_s \\leftarrow f_{g(s)} F_s`. It is
    the two-group form of X-11's calendar-month sigma (``calendarsigma = signif``,
    U.S. Census Bureau, *X-13ARIMA-SEATS Reference Manual*, x11 spec): twelve
    separate month variances from ten years of data are too noisy to use, two groups
    are not. Series without the effect keep :math:`f = 1` (the test does not reject).
    """
    x = np.asarray(x, dtype="float64")
    if holdout < 1 or max_lag < 1 or max_lag > len(x):
        raise ValueError("holdout and max_lag must be >= 1 and max_lag at most len(x)")
    if nonseasonal not in NONSEASONAL_CHOICES:
        raise ValueError(f"nonseasonal must be one of {NONSEASONAL_CHOICES}, got {nonseasonal!r}")
    if seasonal:
        specs = [(SEASONAL_MODEL, dict(order=(0, 1, 1), seasonal_order=(0, 1, 1, 12), trend="n"))]
        lost = 13
    else:
        models = ((NONSEASONAL_MODEL, (1, 1, 0), "ar"), (NONSEASONAL_MA_MODEL, (0, 1, 1), "ma"))
        specs = [(label, dict(order=order, seasonal_order=(0, 0, 0, 0), trend="c"))
                 for label, order, kind in models if nonseasonal in (kind, "auto")]
        lost = 1
    fit_part = x[:-holdout]
    usable = np.isfinite(fit_part[lost:]) & np.isfinite(fit_part[:-lost] if lost else fit_part)
    if seasonal:
        usable = _seasonal_diff_ok(fit_part)
    if int(usable.sum()) < 24:
        return None
    # statsmodels and scipy.stats cost ~0.7 s CPU to import; only a process that fits pays it
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        best = None  # (log-likelihood, fitted, name, spec) of the best fit, the first on a tie
        for label, candidate in specs:
            try:
                fitted = SARIMAX(fit_part, simple_differencing=True, concentrate_scale=True, **candidate).fit(
                    disp=False, maxiter=100)
            except (ValueError, np.linalg.LinAlgError):
                continue
            llf = float(fitted.llf) if math.isfinite(fitted.llf) else -math.inf
            if best is None or llf > best[0]:
                best = (llf, fitted, label, candidate)
        if best is None:
            return None
        _, fitted, name, spec = best
        try:
            params = np.r_[fitted.params, fitted.scale]
            # Gaps near the end make simple differencing lose the judged months; the
            # undifferenced state space handles missing values exactly.
            simple = bool(np.isfinite(x[-(max_lag + lost):]).all())
            run = SARIMAX(x, simple_differencing=simple, **spec).filter(params)
        except (ValueError, np.linalg.LinAlgError):
            return None
    kf = run.filter_results
    v = np.asarray(kf.forecasts_error[0], dtype="float64")
    F = np.asarray(kf.forecasts_error_cov[0, 0], dtype="float64")
    endog = np.asarray(run.model.endog[:, 0], dtype="float64")
    v = np.where(np.isfinite(endog), v, np.nan)
    if not simple:
        # the first d + D*s states are diffuse: their errors say nothing
        v[:lost] = np.nan
    if not (np.isfinite(F[-1]) and F[-1] > 0) or not math.isfinite(fitted.scale) or fitted.scale <= 0:
        return None
    return fit_from_errors(name, x, v, F, int(usable.sum()), holdout, max_lag,
                           last_month if seasonal else None)


def fit_from_errors(name: str, x: np.ndarray, v: np.ndarray, F: np.ndarray, n_fit: int, holdout: int,
                    max_lag: int, last_month: int | None) -> ForecastFit:
    """The :class:`ForecastFit` of one-step errors ``v`` and their variances ``F`` (scale
    included) ending at the last entry of ``x``: New-Year variance when ``last_month`` is
    given, then the k-month z of :func:`fit_forecast_model`'s Notes."""
    if last_month is not None:
        F = F * new_year_factors(v, F, len(x) - holdout, last_month)
    z = np.full(max_lag, np.nan)
    for k in range(1, max_lag + 1):
        vk, Fk = v[-k:], F[-k:]
        if np.isfinite(vk).all() and np.all(Fk > 0):
            z[k - 1] = float(vk.sum() / math.sqrt(Fk.sum()))
    expected = float(x[-1] - v[-1]) if np.isfinite(v[-1]) else math.nan
    return ForecastFit(name, z, expected, float(math.sqrt(F[-1])), int(n_fit))


def new_year_factors(v: np.ndarray, F: np.ndarray, n_fit: int, last_month: int,
                     alpha: float = NEW_YEAR_ALPHA) -> np.ndarray:
    """Variance factor per position: New-Year months vs the rest (see :func:`fit_forecast_model`).

    Parameters
    ----------
    v, F : numpy.ndarray
        One-step forecast errors and their variances, one per month (NaN = none).
    n_fit : int
        Only the first ``n_fit`` months (the estimation window) set the factors.
    last_month : int
        Calendar month (1-12) of the last position.
    alpha : float
        Significance level of the test.

    Returns
    -------
    numpy.ndarray
        All ones unless the test finds January-February errors more spread out.
    """
    n = len(v)
    month = (np.arange(n) - (n - 1) + (last_month - 1)) % 12  # 0 = January
    new_year = month < 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = v / np.sqrt(F)
    use = np.isfinite(r) & (np.arange(n) < n_fit)
    jan_feb, rest = r[use & new_year], r[use & ~new_year]
    ones = np.ones(n)
    if len(jan_feb) < MIN_NEW_YEAR_ERRORS or len(rest) < 5 * MIN_NEW_YEAR_ERRORS:
        return ones
    s2_jan_feb = (MAD_TO_SIGMA * np.median(np.abs(jan_feb))) ** 2
    s2_rest = (MAD_TO_SIGMA * np.median(np.abs(rest))) ** 2
    from scipy.stats import levene  # lazily: see the SARIMAX import above

    if not (s2_jan_feb > s2_rest > 0) or not levene(jan_feb, rest, center="median").pvalue < alpha:
        return ones  # (a degenerate test gives p = NaN: no factors either)
    average = (2.0 * s2_jan_feb + 10.0 * s2_rest) / 12.0
    return np.where(new_year, s2_jan_feb, s2_rest) / average


def _seasonal_diff_ok(x: np.ndarray) -> np.ndarray:
    f = np.isfinite(x)
    return f[13:] & f[12:-1] & f[1:-12] & f[:-13]
