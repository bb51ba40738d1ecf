"""Is concentration rising? Trend tests over the last N periods of each series.

Pure computation, no I/O. Two tests on the same window, because a short series of
concentration figures is autocorrelated and rarely normal:

- an OLS slope on time with heteroskedasticity- and autocorrelation-consistent
  (HAC, Newey-West) standard errors, via statsmodels;
- a rank-based test, Mann-Kendall (Kendall's tau between time and value), via scipy,
  which needs no distributional assumption and is insensitive to one outlier.

:func:`trend_test` judges one series and returns an immutable :class:`TrendResult`;
:func:`trend_table` runs it for every series of a long table (one statsmodels fit per
series: the number of series is small, one per reporter and product);
:func:`trend_findings` emits findings for significant upward trends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from indicators.concentration import DEFAULT_KEYS, _check_keys
from indicators.findings import IndicatorFinding, Names, name_en, name_zh
from indicators.periods import format_period, period_ordinals

__all__ = ["TREND_STATUSES", "TrendResult", "newey_west_lags", "trend_test", "trend_table", "trend_findings"]

#: ``TrendResult.status``: ``ok``; ``insufficient_history`` (fewer than ``min_n``
#: observations in the window); ``constant`` (no variation: no trend can be tested).
TREND_STATUSES: tuple[str, ...] = ("ok", "insufficient_history", "constant")


@dataclass(frozen=True)
class TrendResult:
    """Trend of one series over a window.

    Attributes
    ----------
    n : int
        Observations used.
    status : str
        One of :data:`TREND_STATUSES`.
    slope : float
        OLS slope, value units per period (e.g. HHI per year); NaN unless ``ok``.
    slope_se : float
        HAC (Newey-West) standard error of the slope.
    slope_pvalue : float
        Two-sided p-value of slope = 0 with the HAC standard error (t distribution,
        n - 2 degrees of freedom).
    maxlags : int
        Lags used by the HAC estimator.
    tau : float
        Kendall's tau-b between time and value (-1 ... 1).
    tau_pvalue : float
        Two-sided p-value of the Mann-Kendall test (tau = 0).
    start, end : int
        First and last period position (see :func:`indicators.periods.period_ordinals`).
    """

    n: int
    status: str
    slope: float
    slope_se: float
    slope_pvalue: float
    maxlags: int
    tau: float
    tau_pvalue: float
    start: int
    end: int

    def as_dict(self) -> dict:
        """Plain dict of the fields."""
        return asdict(self)


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) rule-of-thumb lag length :math:`\\lfloor 4 (n/100)^{2/9} \\rfloor`.

    Newey, W. K. and West, K. D. (1994), "Automatic lag selection in covariance
    matrix estimation", *Review of Economic Studies* 61(4), 631-653. At least 0 and at
    most n - 2.
    """
    if n < 1:
        return 0
    return int(max(0, min(n - 2, math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))))


def _nan_result(n: int, status: str, start: int, end: int) -> TrendResult:
    nan = float("nan")
    return TrendResult(n=n, status=status, slope=nan, slope_se=nan, slope_pvalue=nan, maxlags=0,
                       tau=nan, tau_pvalue=nan, start=start, end=end)


def trend_test(values, positions=None, last_n: int = 10, min_n: int = 5, maxlags: int | None = None) -> TrendResult:
    """OLS slope with HAC standard errors and the Mann-Kendall test, over the last periods.

    Parameters
    ----------
    values : array_like
        Observations (e.g. HHI), finite; NaN entries are dropped.
    positions : array_like of int, optional
        Period positions of ``values`` on a regular grid (consecutive periods differ by
        1; gaps allowed), e.g. from :func:`indicators.periods.period_ordinals`.
        Default: 0, 1, 2, ...
    last_n : int, default 10
        Window length in periods: observations with position
        :math:`> p_{max} - last\\_n` are used (a gap shortens the sample, it does not
        pull older data in).
    min_n : int, default 5
        Fewest observations to test; fewer gives status ``insufficient_history``.
    maxlags : int, optional
        HAC lags; default :func:`newey_west_lags` of the sample size.

    Returns
    -------
    TrendResult

    Raises
    ------
    ValueError
        If lengths differ, positions repeat, or ``last_n``/``min_n`` are not >= 3.

    Notes
    -----
    With :math:`t` the period position and :math:`y_t` the value,

    .. math:: y_t = \\alpha + \\beta t + \\varepsilon_t, \\qquad
              \\hat\\beta_{OLS}, \\quad
              \\widehat{Var}(\\hat\\beta) \\text{ Newey-West (Bartlett kernel, L lags)}

    and the p-value of :math:`\\hat\\beta / se_{HAC}` from Student's t with
    :math:`n - 2` degrees of freedom (``use_t``; the normal approximation would
    overstate significance in a 10-point sample). Newey, W. K. and West, K. D.
    (1987), *Econometrica* 55(3), 703-708; statsmodels
    ``OLS.fit(cov_type="HAC")``.

    Mann-Kendall: :math:`S = \\sum_{i<j} \\mathrm{sgn}(y_j - y_i)`, tested through
    Kendall's :math:`\\tau_b` between :math:`t` and :math:`y` (``scipy.stats.kendalltau``,
    exact p-value for small samples without ties). Mann, H. B. (1945),
    *Econometrica* 13(3), 245-259; Kendall, M. G. (1975), *Rank Correlation Methods*.
    """
    if last_n < 3 or min_n < 3:
        raise ValueError(f"last_n and min_n must be >= 3 (a trend needs 3 points), got {last_n}, {min_n}")
    y = np.asarray(values, dtype="float64").reshape(-1)
    t = np.arange(len(y), dtype="int64") if positions is None else np.asarray(positions).astype("int64").reshape(-1)
    if len(t) != len(y):
        raise ValueError(f"values has {len(y)} entries but positions has {len(t)}")
    keep = np.isfinite(y)
    y, t = y[keep], t[keep]
    if len(np.unique(t)) != len(t):
        raise ValueError("positions must not repeat (one value per period)")
    order = np.argsort(t)
    y, t = y[order], t[order]
    if len(t) == 0:
        return _nan_result(0, "insufficient_history", 0, 0)
    window = t > t[-1] - last_n
    y, t = y[window], t[window]
    n = len(y)
    if n < min_n:
        return _nan_result(n, "insufficient_history", int(t[0]), int(t[-1]))
    if np.ptp(y) == 0:
        return _nan_result(n, "constant", int(t[0]), int(t[-1]))
    lags = newey_west_lags(n) if maxlags is None else int(maxlags)
    x = sm.add_constant((t - t[0]).astype("float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    slope = float(fit.params[1])
    se = float(fit.bse[1])
    if not np.isfinite(se) or se <= 64 * np.finfo(float).eps * abs(slope):
        # An exact line: no residual variance beyond rounding (which differs across
        # numpy/statsmodels builds), so the slope is certain.
        pvalue = 0.0 if slope != 0 else float("nan")
        se = 0.0
    else:
        pvalue = float(fit.pvalues[1])
    tau, tau_p = stats.kendalltau(t, y)
    return TrendResult(n=n, status="ok", slope=slope, slope_se=se, slope_pvalue=pvalue, maxlags=lags,
                       tau=float(tau), tau_pvalue=float(tau_p), start=int(t[0]), end=int(t[-1]))


def trend_table(
    table: pd.DataFrame,
    value: str = "hhi",
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
    last_n: int = 10,
    min_n: int = 5,
    maxlags: int | None = None,
) -> pd.DataFrame:
    """:func:`trend_test` of ``value`` for every series of a long table.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. :func:`indicators.concentration.concentration_table` output over several
        periods; one row per series and period.
    value : str, default ``"hhi"``
        Column to test (e.g. ``"top_share"``).
    keys, period, freq
        Series keys are ``keys`` without ``period``.
    last_n, min_n, maxlags
        As in :func:`trend_test`.

    Returns
    -------
    pandas.DataFrame
        One row per series (sorted by series keys): the series keys, ``value`` (the
        column tested), ``freq``, ``last_period`` (the series' latest period as in the
        table), ``last_value``, and the :class:`TrendResult` fields.

    Raises
    ------
    ValueError
        If a column is missing or the period column cannot be placed on a grid.
    """
    keys = _check_keys(keys)
    if period not in keys:
        raise ValueError(f"period {period!r} must be one of keys {keys!r}")
    missing = [c for c in (*keys, value) if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column {missing[0]!r}")
    series_keys = [k for k in keys if k != period]
    ordinals, freq = period_ordinals(table[period], freq, name=period)
    frame = table[keys + [value]].assign(_ord=ordinals).sort_values("_ord", kind="mergesort")
    rows = []
    groups = frame.groupby(series_keys, dropna=False, sort=True, observed=True) if series_keys else [((), frame)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        result = trend_test(group[value].to_numpy(dtype="float64"), group["_ord"].to_numpy(),
                            last_n=last_n, min_n=min_n, maxlags=maxlags)
        last = group.iloc[-1]
        rows.append({**dict(zip(series_keys, key)), "value": value, "freq": freq,
                     "last_period": last[period], "last_value": float(last[value]), **result.as_dict()})
    columns = [*series_keys, "value", "freq", "last_period", "last_value", *TrendResult.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


_PER = {"Y": ("per year", "每年"), "Q": ("per quarter", "每季度"), "M": ("per month", "每月")}


def trend_findings(
    trends: pd.DataFrame,
    alpha: float = 0.05,
    names: Names | None = None,
    require_both: bool = True,
    label: tuple[str, str] = ("HHI", "HHI"),
) -> list[IndicatorFinding]:
    """Findings (kind ``concentration_trend``) for significant upward trends.

    Parameters
    ----------
    trends : pandas.DataFrame
        :func:`trend_table` output.
    alpha : float, default 0.05
        Significance level, in (0, 1).
    names : Names, optional
        Display names of codes.
    require_both : bool, default True
        Flag only when both tests agree (HAC p < alpha and Mann-Kendall p < alpha, and
        slope > 0, tau > 0); with False the HAC test alone decides. Agreement keeps
        the false-alarm rate down on short, autocorrelated series.
    label : (str, str)
        Name of the tested quantity in English and Chinese.

    Returns
    -------
    list of IndicatorFinding
        observed = slope (units per period), threshold = 0; details hold the
        p-values, tau, n and the window.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    series_keys = [c for c in trends.columns if c not in
                   ("value", "freq", "last_period", "last_value", *TrendResult.__dataclass_fields__)]
    out = []
    for _, row in trends.iterrows():
        if row["status"] != "ok" or not row["slope"] > 0 or not row["slope_pvalue"] < alpha:
            continue
        mk_ok = row["tau"] > 0 and row["tau_pvalue"] < alpha
        if require_both and not mk_ok:
            continue
        freq = row["freq"]
        per_en, per_zh = _PER.get(freq, ("per period", "每期"))
        when = format_period(row["last_period"], freq)
        if "reporter" in series_keys and "product" in series_keys:
            rep, prod = row["reporter"], row["product"]
            if str(rep).strip().upper() == "WORLD":
                what_en, what_zh = f"world {name_en(names, prod)} production", f"全球{name_zh(names, prod)}生产"
            else:
                what_en = f"{name_en(names, rep)}'s {name_en(names, prod)} imports"
                what_zh = f"{name_zh(names, rep)}{name_zh(names, prod)}进口"
        else:
            what_en = what_zh = ", ".join(f"{k}={row[k]}" for k in series_keys)
        n = int(row["n"])
        out.append(IndicatorFinding(
            kind="concentration_trend",
            subject=tuple((k, str(row[k])) for k in series_keys), period=when,
            observed=float(row["slope"]), threshold=0.0,
            explanation_en=(f"The {label[0]} of {what_en} is rising: +{row['slope']:.3f} {per_en} over {n} "
                            f"observations up to {when} ({label[0]} now {row['last_value']:.2f}; OLS slope with "
                            f"Newey-West errors {_p(row['slope_pvalue'])}, Mann-Kendall tau = "
                            f"{row['tau']:.2f}, {_p(row['tau_pvalue'])})."),
            explanation_zh=(f"{what_zh}的{label[1]}呈上升趋势：截至{when}的{n}个观测值中{per_zh}上升"
                            f"{row['slope']:.3f}（当前{label[1]} {row['last_value']:.2f}；Newey-West稳健标准误"
                            f"OLS斜率 {_p(row['slope_pvalue'])}，Mann-Kendall tau = {row['tau']:.2f}，"
                            f"{_p(row['tau_pvalue'])}）。"),
            details=(("slope_se", float(row["slope_se"])), ("slope_pvalue", float(row["slope_pvalue"])),
                     ("tau", float(row["tau"])), ("tau_pvalue", float(row["tau_pvalue"])), ("n", n),
                     ("maxlags", int(row["maxlags"])), ("value", str(row["value"])),
                     ("last_value", float(row["last_value"]))),
        ))
    return out
