"""The confirmation models of :mod:`indicators.forecast_interval`, fitted for many series
at once in numpy.

Pure computation, no I/O. :func:`fit_forecast_models` gives, for a batch of candidate
windows, the same :class:`~indicators.forecast_interval.ForecastFit` as one
:func:`~indicators.forecast_interval.fit_forecast_model` call per window (statsmodels
SARIMAX, the reference): the same three models, the same exact Gaussian likelihood,
the same choice between the non-seasonal models and the same New-Year variance. Only
the maximiser differs: a shared grid over the model coefficients, a finer local grid
and quadratic steps instead of L-BFGS per window (see :func:`fit_forecast_models`).
Only windows with a missing month among their last ``max_lag`` + 1 (13 seasonal)
months, where the reference switches to the undifferenced model, or with fewer than
24 usable differences, go to statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from indicators.forecast_interval import (
    NONSEASONAL_CHOICES,
    NONSEASONAL_MA_MODEL,
    NONSEASONAL_MODEL,
    SEASONAL_MODEL,
    ForecastFit,
    fit_forecast_model,
    fit_from_errors,
)

__all__ = ["fit_forecast_models"]

#: Coefficients are searched as ``tanh(u)``, |u| <= U_MAX (|coefficient| <= 0.995):
#: a uniform grid in u is dense near the invertibility/stationarity boundary, where
#: over-differenced series (a fixed seasonal pattern, seasonally differenced) put the MA
#: coefficient.
U_MAX = 3.0
#: Fine grid step in u; the coarse grid takes every ``COARSE_EVERY``-th fine point.
FINE_STEP = 0.075
COARSE_EVERY = 4
#: Fine points either side of the best coarse point searched per window.
FINE_REACH = 4
#: The last quadratic step uses a grid ``REFINE_SHRINK`` times finer than the fine grid.
REFINE_SHRINK = 5.0
#: Windows with gaps: fine-grid steps either way of the estimate searched again on the
#: exact likelihood (the grids saw the gaps filled).
GAP_REACH = 3
#: Windows per numpy pass (bounds the (windows x grid points x state) arrays).
CHUNK = 128

_LOG_2PI = math.log(2.0 * math.pi)
_KINDS = {"ar": NONSEASONAL_MODEL, "ma": NONSEASONAL_MA_MODEL, "airline": SEASONAL_MODEL}


def fit_forecast_models(xs: Sequence[np.ndarray], seasonal: Sequence[bool], holdout: int = 1, max_lag: int = 1,
                        last_months: Sequence[int | None] | None = None,
                        nonseasonal: str = "ar") -> list[ForecastFit | None]:
    """:func:`~indicators.forecast_interval.fit_forecast_model` for every window, batched.

    Parameters
    ----------
    xs : sequence of numpy.ndarray
        One window per candidate (transformed scale, last entry the judged month).
    seasonal : sequence of bool
        Airline model for that window instead of the non-seasonal one.
    holdout, max_lag, nonseasonal
        As for :func:`~indicators.forecast_interval.fit_forecast_model`, for all windows.
    last_months : sequence of int or None, optional
        Calendar month of each window's last entry (New-Year variance), or None.

    Returns
    -------
    list of ForecastFit or None
        In the order of ``xs``.

    Notes
    -----
    Same models and likelihood as the reference: the differenced window
    (:math:`\\Delta x` or :math:`\\Delta\\Delta_{12} x`) is a stationary ARMA,
    AR(1) or MA(1) around a mean :math:`\\mu` (the drift) or the airline MA(13)
    :math:`(1+\\theta B)(1+\\Theta B^{12})` without one, and its exact Gaussian
    log-likelihood with the variance concentrated out is

    .. math:: \\ell = -\\tfrac{n}{2}\\left(\\log 2\\pi + 1 + \\log\\hat\\sigma^2\\right)
        - \\tfrac12 \\sum_t \\log f_t, \\qquad
        \\hat\\sigma^2 = \\tfrac1n \\sum_t (v_t - \\hat\\mu\\, w_t)^2 / f_t

    with :math:`v_t, f_t` the one-step errors and their unit-variance variances from
    the Kalman filter (stationary start; Harvey 1989, *Forecasting, Structural Time
    Series Models and the Kalman Filter*, 3.3) and :math:`w_t` the errors of a constant
    1, so the drift is profiled out by generalised least squares,
    :math:`\\hat\\mu = \\sum v_t w_t / f_t \\big/ \\sum w_t^2 / f_t`. Without gaps,
    :math:`f_t` and the filter's gains depend on the coefficients only, so one filter
    per grid point serves every window. A missing (or masked) month leaves its
    differences out of the likelihood, as in the reference (no update of the filter
    there); such windows are searched with their gaps filled by the zero-coefficient
    forecast, then searched again near that estimate and finished on their exact
    likelihood with the gaps.

    Maximiser: with coefficients :math:`\\tanh u`, :math:`\\ell` is evaluated on a
    coarse grid (step ``FINE_STEP * COARSE_EVERY`` = 0.3 in *u*, shared), then on the
    fine grid (step 0.075) within ``FINE_REACH`` points of the best coarse point, and a
    quadratic through the best fine point and its neighbours gives the estimate (kept
    only when its likelihood beats the best grid point). The grid finds the global
    maximum in :math:`|u| \\le 3`; statsmodels' L-BFGS a local one from its start
    values, so on a multi-modal likelihood the two can differ (the unit tests state
    the tolerance on the forecasts and z-scores).
    """
    xs = [np.asarray(x, dtype="float64") for x in xs]
    if nonseasonal not in NONSEASONAL_CHOICES:
        raise ValueError(f"nonseasonal must be one of {NONSEASONAL_CHOICES}, got {nonseasonal!r}")
    last_months = list(last_months) if last_months is not None else [None] * len(xs)
    out: list[ForecastFit | None] = [None] * len(xs)
    groups: dict[tuple[bool, int, bool], list[int]] = {}  # (seasonal, length, gaps)
    for i, x in enumerate(xs):
        if holdout < 1 or max_lag < 1 or max_lag > len(x):
            raise ValueError("holdout and max_lag must be >= 1 and max_lag at most len(x)")
        lost = 13 if seasonal[i] else 1
        d = np.diff(x)
        if seasonal[i]:
            d = d[12:] - d[:-12]
        usable = int(np.isfinite(d[:len(x) - holdout - lost]).sum())
        if usable >= 24 and np.isfinite(x[-(max_lag + lost):]).all():
            groups.setdefault((bool(seasonal[i]), len(x), not np.isfinite(x).all()), []).append(i)
        else:
            # too little data, or a gap at the end (the reference then filters the
            # undifferenced model): statsmodels
            out[i] = fit_forecast_model(x, bool(seasonal[i]), holdout=holdout, max_lag=max_lag,
                                        last_month=last_months[i], nonseasonal=nonseasonal)
    for (is_seasonal, length, gaps), idx in groups.items():
        X = np.stack([xs[i] for i in idx])
        search = _differences(_filled(X, is_seasonal), is_seasonal) if gaps else None
        kinds = ("airline",) if is_seasonal else tuple(k for k in ("ar", "ma") if nonseasonal in (k, "auto"))
        lost = 13 if is_seasonal else 1
        Y = _differences(X, is_seasonal)
        n_fit = length - holdout - lost
        first, *others = kinds
        llf, v, F = _fit_kind(first, Y, n_fit, search)
        best_kind = np.full(len(idx), first, dtype=object)
        for kind in others:  # the higher likelihood; a tie keeps the first (ARIMA(1,1,0))
            llf2, v2, F2 = _fit_kind(kind, Y, n_fit, search)
            better = llf2 > llf
            llf, best_kind = np.where(better, llf2, llf), np.where(better, kind, best_kind)
            v, F = np.where(better[:, None], v2, v), np.where(better[:, None], F2, F)
        for row, i in enumerate(idx):
            out[i] = _as_fit(_KINDS[best_kind[row]], xs[i], v[row], F[row], int(np.isfinite(Y[row, :n_fit]).sum()),
                             holdout, max_lag,
                             last_months[i] if is_seasonal else None)
    return out


def _differences(X: np.ndarray, seasonal: bool) -> np.ndarray:
    Y = X[:, 1:] - X[:, :-1]
    return Y[:, 12:] - Y[:, :-12] if seasonal else Y


def _filled(X: np.ndarray, seasonal: bool) -> np.ndarray:
    """Gaps filled for the grid search only (the likelihood keeps them missing): by the
    model's forecast with zero coefficients, x[t-1] (+ x[t-12] - x[t-13] when seasonal),
    so a filled month adds a zero difference; linearly where that is not defined."""
    out = X.copy()
    t = np.arange(X.shape[1])
    lag = 13 if seasonal else 1
    for row in out:
        for j in np.flatnonzero(np.isnan(row)):
            if j >= lag and np.isfinite(row[j - 1]):
                row[j] = row[j - 1] + (row[j - 12] - row[j - 13] if seasonal else 0.0)
        miss = np.isnan(row)
        if miss.any():
            row[miss] = np.interp(t[miss], t[~miss], row[~miss])
    return out


def _as_fit(name: str, x: np.ndarray, v: np.ndarray, F: np.ndarray, n_fit: int, holdout: int, max_lag: int,
            last_month: int | None) -> ForecastFit | None:
    # the reference's checks and post-processing, on the errors of the whole window
    if not (np.isfinite(F[-1]) and F[-1] > 0):
        return None
    return fit_from_errors(name, x, v, F, n_fit, holdout, max_lag, last_month)


# --------------------------------------------------------------------------- estimation


def _fit_kind(kind: str, Y: np.ndarray, n_fit: int, search: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(llf at the estimate, errors v, their variances F over all of Y) per window.

    Y with gaps (NaN): the grids search ``search`` (the windows with their gaps filled,
    where one filter per grid point still serves every window), then the
    quadratic steps and the final pass use the exact likelihood of Y with its gaps."""
    observed = ~np.isnan(Y)
    gaps = not observed.all()
    search = Y if search is None else search
    dims = 2 if kind == "airline" else 1
    fine = -U_MAX + FINE_STEP * np.arange(int(round(2 * U_MAX / FINE_STEP)) + 1)
    coarse_at = np.arange(0, len(fine), COARSE_EVERY)
    with_mean = kind != "airline"
    S = len(Y)
    # coarse grid, shared by all windows
    if dims == 1:
        coarse_pts = coarse_at[:, None]
    else:
        coarse_pts = np.stack(np.meshgrid(coarse_at, coarse_at, indexing="ij"), -1).reshape(-1, 2)
    phi, K, Fu = _gains(kind, np.tanh(fine[coarse_pts]), n_fit)
    llf_c = np.concatenate([_profile_llf(search[s:s + CHUNK, :n_fit], phi, K, Fu, with_mean, shared=True)
                            for s in range(0, S, CHUNK)])
    start = coarse_pts[np.argmax(llf_c, axis=1)]  # (S, dims) fine indices
    # fine grid around it, per window (filters computed once per distinct point)
    offsets = np.arange(-FINE_REACH, FINE_REACH + 1)
    if dims == 1:
        local = offsets[:, None]
    else:
        local = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), -1).reshape(-1, 2)
    pts = np.clip(start[:, None, :] + local[None], 0, len(fine) - 1)  # (S, L, dims)
    uniq, inverse = np.unique(pts.reshape(-1, dims), axis=0, return_inverse=True)
    inverse = inverse.reshape(S, -1)
    phi, K, Fu = _gains(kind, np.tanh(fine[uniq]), n_fit)
    llf_f = np.concatenate([_profile_llf(search[s:s + CHUNK, :n_fit], phi, K, Fu, with_mean, shared=False,
                                         which=inverse[s:s + CHUNK]) for s in range(0, S, CHUNK)])
    top = np.argmax(llf_f, axis=1)
    best_pt = pts[np.arange(S), top]  # fine indices (S, dims)
    u_grid = fine[best_pt]
    u_quad = u_grid + FINE_STEP * _quadratic_step(llf_f, local, top, dims)
    fit_obs = observed[:, :n_fit] if gaps else None
    if gaps:  # the search saw the gaps filled: search again on the exact likelihood
        u_quad = _local_search(kind, Y[:, :n_fit], u_quad, FINE_STEP, with_mean, fit_obs, GAP_REACH)
    # one more quadratic step on a per-window 3 x 3 grid a fifth as wide
    u_quad = _refine(kind, Y[:, :n_fit], u_quad, FINE_STEP / REFINE_SHRINK, with_mean, fit_obs)
    # final pass, per window, at the quadratic estimate and at the best grid point
    coefs = np.tanh(np.concatenate([u_quad, u_grid]))
    phi, K, Fu = _gains(kind, coefs, Y.shape[1], np.concatenate([observed, observed]) if gaps else None)
    llf, v, F = _final(np.concatenate([Y, Y]), phi, K, Fu, n_fit, with_mean)
    use_quad = llf[:S] >= llf[S:]
    pick = np.where(use_quad, np.arange(S), S + np.arange(S))
    return llf[pick], v[pick], F[pick]


def _local_search(kind: str, Y: np.ndarray, u: np.ndarray, h: float, with_mean: bool, observed: np.ndarray,
                  reach: int) -> np.ndarray:
    """Best point of a per-window grid (step h, ``reach`` steps either way) around u, plus
    the quadratic step from it."""
    S, dims = u.shape
    offsets = np.arange(-reach, reach + 1)
    local = offsets[:, None] if dims == 1 else \
        np.stack(np.meshgrid(offsets, offsets, indexing="ij"), -1).reshape(-1, 2)
    L = len(local)
    pts = u[:, None, :] + h * local[None]
    phi, K, Fu = _gains(kind, np.tanh(pts.reshape(-1, dims)), Y.shape[1], np.repeat(observed, L, axis=0))
    which = np.arange(S * L).reshape(S, L)
    llf = np.concatenate([_profile_llf(Y[s:s + CHUNK], phi, K, Fu, with_mean, shared=False,
                                       which=which[s:s + CHUNK]) for s in range(0, S, CHUNK)])
    top = np.argmax(llf, axis=1)
    return u + h * (local[top] + _quadratic_step(llf, local, top, dims))


def _refine(kind: str, Y: np.ndarray, u: np.ndarray, h: float, with_mean: bool,
            observed: np.ndarray | None = None) -> np.ndarray:
    S, dims = u.shape
    d = np.array([[-1], [0], [1]]) if dims == 1 else \
        np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 2)
    pts = np.clip(u[:, None, :] + h * d[None], -U_MAX - 1.0, U_MAX + 1.0)  # (S, L, dims)
    L = len(d)
    phi, K, Fu = _gains(kind, np.tanh(pts.reshape(-1, dims)), Y.shape[1],
                        None if observed is None else np.repeat(observed, L, axis=0))
    which = np.arange(S * L).reshape(S, L)
    llf = np.concatenate([_profile_llf(Y[s:s + CHUNK], phi, K, Fu, with_mean, shared=False,
                                       which=which[s:s + CHUNK]) for s in range(0, S, CHUNK)])
    wide = np.array([[-2], [-1], [0], [1], [2]]) if dims == 1 else None
    # pad to the 5 (5 x 5) layout _quadratic_step reads, centre = the middle point
    if dims == 1:
        padded = np.full((S, 5), -np.inf)
        padded[:, 1:4] = llf
    else:
        padded = np.full((S, 25), -np.inf)
        for j, (a, b) in enumerate(d):
            padded[:, (a + 2) * 5 + (b + 2)] = llf[:, j]
        wide = np.stack(np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij"), -1).reshape(-1, 2)
    centre = np.full(S, 2 if dims == 1 else 12)
    return u + h * _quadratic_step(padded, wide, centre, dims)


def _quadratic_step(llf: np.ndarray, local: np.ndarray, top: np.ndarray, dims: int) -> np.ndarray:
    """Step (in fine-grid units, within +-1) to the maximum of a quadratic through the best
    point and its grid neighbours; 0 where that is not a maximum."""
    S = len(llf)
    step = np.zeros((S, dims))
    reach = int(local.max())
    centre = local[top]  # offsets of the best point
    inner = np.all(np.abs(centre) < reach, axis=1)
    side = 2 * reach + 1

    def at(d):  # llf at the best point + offset d (offsets d in {-1,0,1}^dims)
        pos = centre + d
        flat = pos[:, 0] + reach if dims == 1 else (pos[:, 0] + reach) * side + (pos[:, 1] + reach)
        return llf[np.arange(S), np.clip(flat, 0, llf.shape[1] - 1)]

    if dims == 1:
        lm, l0, lp = at(np.array([-1])), at(np.array([0])), at(np.array([1]))
        curv = lm - 2 * l0 + lp
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(curv < 0, 0.5 * (lm - lp) / curv, 0.0)
        step[:, 0] = np.where(inner, np.clip(s, -1, 1), 0.0)
        return step
    # 2-D: least-squares quadratic on the 3x3 neighbourhood, Newton step to its maximum
    d = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 2)
    vals = np.stack([at(di) for di in d], 1)  # (S, 9)
    A = np.column_stack([np.ones(9), d[:, 0], d[:, 1], d[:, 0] ** 2, d[:, 0] * d[:, 1], d[:, 1] ** 2])
    # row by row (no BLAS call across windows), so a window's estimate does not depend on
    # which other windows share its batch (``detect --chunk-size`` output is chunk-free)
    coef = (vals[:, :, None] * np.linalg.pinv(A).T[None]).sum(1)  # (S, 6)
    g = coef[:, 1:3]
    H = np.stack([np.stack([2 * coef[:, 3], coef[:, 4]], 1), np.stack([coef[:, 4], 2 * coef[:, 5]], 1)], 1)
    det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
    maximum = inner & (H[:, 0, 0] < 0) & (det > 0) & np.isfinite(vals).all(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s0 = -(H[:, 1, 1] * g[:, 0] - H[:, 0, 1] * g[:, 1]) / det
        s1 = -(H[:, 0, 0] * g[:, 1] - H[:, 0, 1] * g[:, 0]) / det
    step[:, 0] = np.where(maximum, np.clip(s0, -1, 1), 0.0)
    step[:, 1] = np.where(maximum, np.clip(s1, -1, 1), 0.0)
    return step


# --------------------------------------------------------------------------- the filter


def _model(kind: str, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi, R) per parameter set: transition ``T a = phi * a[0] + shift(a)``, disturbance
    loading R, of the Harvey state-space form of the ARMA (statsmodels' SARIMAX form)."""
    B = len(coefs)
    if kind == "ar":
        return coefs[:, :1].copy(), np.ones((B, 1))
    if kind == "ma":
        return np.zeros((B, 2)), np.column_stack([np.ones(B), coefs[:, 0]])
    theta, big = coefs[:, 0], coefs[:, 1]
    R = np.zeros((B, 14))
    R[:, 0], R[:, 1], R[:, 12], R[:, 13] = 1.0, theta, big, theta * big
    return np.zeros((B, 14)), R


def _transition(phi: np.ndarray, a: np.ndarray) -> np.ndarray:
    out = np.zeros_like(a)
    out[..., :-1] = a[..., 1:]
    return out + phi * a[..., :1]


def _gains(kind: str, coefs: np.ndarray, n: int, observed: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transition phi (B, m), Kalman gains K (B, n, m) and unit-variance error variances
    f (B, n) per parameter set; ``observed`` (B, n) False where the difference is missing
    (no update there: gain 0, the state covariance only propagates).

    Stationary start: P0 solves P = T P T' + R R' (AR(1): 1 / (1 - phi^2); pure MA: the
    finite sum over the nilpotent shift)."""
    phi, R = _model(kind, np.asarray(coefs, dtype="float64"))
    phi3 = phi[:, None, :]
    B, m = R.shape
    RR = R[:, :, None] * R[:, None, :]
    if kind == "ar":
        P = (1.0 / (1.0 - phi[:, 0] ** 2))[:, None, None] * np.ones((B, 1, 1))
    else:
        P = RR.copy()
        for _ in range(m - 1):
            P = _tpt(phi3, P) + RR
    K = np.empty((B, n, m))
    f = np.empty((B, n))
    for t in range(n):
        f[:, t] = P[:, 0, 0]
        TP = _transition(phi3, np.swapaxes(P, 1, 2))  # rows: T applied to each column of P
        k = TP[:, 0, :] / f[:, t, None]  # T P Z' / f
        if observed is not None:
            k = np.where(observed[:, t, None], k, 0.0)
        K[:, t] = k
        P = _tpt(phi3, P) + RR - f[:, t, None, None] * k[:, :, None] * k[:, None, :]
    return phi, K, f


def _tpt(phi: np.ndarray, P: np.ndarray) -> np.ndarray:
    TP = np.swapaxes(_transition(phi, np.swapaxes(P, 1, 2)), 1, 2)  # T P
    return _transition(phi, TP)  # (T P) T'


def _errors(Y: np.ndarray, phi_of, K_of, n: int, shape) -> np.ndarray:
    """One-step errors of the data Y (..., n) given per-step gains; zero initial state."""
    m = shape[-1]
    a = np.zeros(shape[:-1] + (m,))
    v = np.empty(shape[:-1] + (n,))
    for t in range(n):
        vt = Y[..., t] - a[..., 0]
        v[..., t] = vt
        a = _transition(phi_of, a) + K_of(t) * np.nan_to_num(vt)[..., None]
    return v


def _profile_llf(Y: np.ndarray, phi: np.ndarray, K: np.ndarray, f: np.ndarray, with_mean: bool, shared: bool,
                 which: np.ndarray | None = None) -> np.ndarray:
    """Concentrated log-likelihood (windows, points): every grid point for every window
    (``shared``) or the points ``which[s]`` of window s."""
    S, n = Y.shape
    m = K.shape[2]
    if shared:
        G = len(K)
        data = np.broadcast_to(Y[:, None, :], (S, G, n))
        phi_of = phi[None]
        K_of = lambda t: K[None, :, t]  # noqa: E731
        fw = np.broadcast_to(f[None], (S, G, n))
    else:
        G = which.shape[1]
        data = np.broadcast_to(Y[:, None, :], (S, G, n))
        phi_of = phi[which]
        K_of = lambda t: K[which, t]  # noqa: E731
        fw = f[which]
    return _concentrated(data, phi_of, K_of, fw, with_mean, (S, G, m))[0]


def _concentrated(data: np.ndarray, phi_of, K_of, fw: np.ndarray, with_mean: bool, shape):  # noqa: ANN001
    """(llf, errors with the drift removed) of data (..., n); NaN data = missing, left out of
    every sum (and of the count n)."""
    n = data.shape[-1]
    seen = ~np.isnan(data)
    if with_mean:
        stacked = np.stack([data, np.where(seen, 1.0, np.nan)])
        v = _errors(stacked, phi_of, K_of, n, (2,) + shape)
        vy, w = v[0], v[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.nansum(vy * w / fw, -1) / np.nansum(w * w / fw, -1)
        v = vy - mu[..., None] * w
    else:
        v = _errors(data, phi_of, K_of, n, shape)
    ssr = np.nansum(v * v / fw, -1)
    count = seen.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        llf = (-0.5 * count * (_LOG_2PI + 1.0 + np.log(ssr / count))
               - 0.5 * np.where(seen, np.log(fw), 0.0).sum(-1))
    return llf, v, ssr / count


def _final(Y: np.ndarray, phi: np.ndarray, K: np.ndarray, f: np.ndarray, n_fit: int, with_mean: bool):
    """llf on the first n_fit differences (drift and scale estimated there), errors and
    variances (scale included) over all."""
    B, m = K.shape[0], K.shape[2]
    K_of = lambda t: K[:, t]  # noqa: E731
    llf, _, scale = _concentrated(Y[:, :n_fit], phi, K_of, f[:, :n_fit], with_mean, (B, m))
    if with_mean:  # the fit part's drift, carried through the months after it
        v = _errors(np.stack([Y, np.where(np.isnan(Y), np.nan, 1.0)]), phi, K_of, Y.shape[1], (2, B, m))
        with np.errstate(invalid="ignore", divide="ignore"):
            fit = slice(0, n_fit)
            mu = (np.nansum(v[0, :, fit] * v[1, :, fit] / f[:, fit], 1)
                  / np.nansum(v[1, :, fit] ** 2 / f[:, fit], 1))
        v = v[0] - mu[:, None] * v[1]
    else:
        v = _errors(Y, phi, K_of, Y.shape[1], (B, m))
    return llf, v, f * scale[:, None]
