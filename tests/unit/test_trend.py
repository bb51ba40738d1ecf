"""Tests for indicators.trend: OLS slope with Newey-West errors and the Mann-Kendall test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from indicators.trend import newey_west_lags, trend_findings, trend_table, trend_test


def test_newey_west_rule_of_thumb():
    assert [newey_west_lags(n) for n in (1, 3, 10, 100, 1000)] == [0, 1, 2, 4, 6]


def test_slope_and_pvalues_match_statsmodels_and_scipy():
    y = np.array([0.30, 0.33, 0.31, 0.36, 0.40, 0.39, 0.45, 0.47, 0.46, 0.52])
    result = trend_test(y)
    x = sm.add_constant(np.arange(10.0))
    ref = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": 2, "use_correction": True}, use_t=True)
    assert result.status == "ok" and result.n == 10 and result.maxlags == 2
    assert result.slope == pytest.approx(ref.params[1], rel=1e-12)
    assert result.slope_se == pytest.approx(ref.bse[1], rel=1e-12)
    assert result.slope_pvalue == pytest.approx(ref.pvalues[1], rel=1e-12)
    tau, p = stats.kendalltau(np.arange(10), y)
    assert (result.tau, result.tau_pvalue) == pytest.approx((tau, p), rel=1e-12)
    # the plain OLS slope by hand: cov(t, y) / var(t)
    t = np.arange(10.0)
    assert result.slope == pytest.approx(((t - t.mean()) * (y - y.mean())).sum() / ((t - t.mean()) ** 2).sum())
    assert result.slope_pvalue < 0.001 and result.tau_pvalue < 0.001


def test_window_gaps_and_degenerate_series():
    values = np.arange(20.0)
    r = trend_test(values, last_n=10)
    assert (r.n, r.start, r.end) == (10, 10, 19)
    # positions with a gap: window is in periods, so the gap shortens the sample
    r = trend_test([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], positions=[0, 1, 2, 8, 9, 10], last_n=5, min_n=3)
    assert (r.n, r.start) == (3, 8)
    assert trend_test([1.0, 2.0, 3.0], min_n=5).status == "insufficient_history"
    assert trend_test([0.4] * 8).status == "constant"
    exact = trend_test([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert exact.slope == pytest.approx(0.1) and exact.slope_pvalue == 0.0
    assert trend_test([1.0, np.nan, 2.0, 3.0, 4.0, 5.0]).n == 5
    with pytest.raises(ValueError, match="repeat"):
        trend_test([1.0, 2.0], positions=[1, 1])


def make_table():
    rng = np.random.default_rng(4)
    rows = []
    for year in range(2014, 2024):
        k = year - 2014
        rows.append(("842", "2846", year, 0.40 + 0.03 * k + rng.normal(0, 0.01)))  # rising
        rows.append(("842", "8105", year, 0.30 + rng.normal(0, 0.02)))  # flat noise
    rows.append(("156", "2846", 2023, 0.5))  # a single year: insufficient
    return pd.DataFrame(rows, columns=["reporter", "product", "period", "hhi"])


def test_trend_table_and_findings():
    table = trend_table(make_table())
    assert table[["reporter", "product"]].values.tolist() == [["156", "2846"], ["842", "2846"], ["842", "8105"]]
    assert table["status"].tolist() == ["insufficient_history", "ok", "ok"]
    assert table.loc[1, "slope"] == pytest.approx(0.03, abs=0.005) and table.loc[1, "freq"] == "Y"
    findings = trend_findings(table, names={"842": ("USA", "美国"), "2846": ("rare-earth compounds", "稀土化合物")})
    [finding] = findings
    assert finding.kind == "concentration_trend" and finding.period == "2023"
    assert finding.subject_dict() == {"reporter": "842", "product": "2846"}
    assert finding.explanation_en.startswith("The HHI of USA's rare-earth compounds imports is rising: +0.029")
    assert "Newey-West errors p < 0.001, Mann-Kendall tau = 0.96, p < 0.001" in finding.explanation_en
    assert "per year over 10 observations up to 2023" in finding.explanation_en
    assert finding.explanation_zh.startswith("美国稀土化合物进口的HHI呈上升趋势")
    assert finding.details_dict()["slope_pvalue"] < 0.05 and finding.details_dict()["tau_pvalue"] < 0.05


def test_trend_findings_require_both_tests_by_default():
    # a steady rise with one huge early outlier: OLS (HAC) may still see a slope, ranks disagree
    table = pd.DataFrame({"reporter": "R", "product": "p", "period": range(2015, 2023),
                          "hhi": [0.9, 0.30, 0.31, 0.30, 0.32, 0.31, 0.33, 0.32]})
    trends = trend_table(table)
    row = trends.iloc[0]
    assert row["tau_pvalue"] > 0.05
    assert trend_findings(trends) == []
    with pytest.raises(ValueError, match="alpha"):
        trend_findings(trends, alpha=5)


def test_monthly_trend_uses_month_positions():
    months = pd.date_range("2022-01-01", periods=12, freq="MS")
    table = pd.DataFrame({"reporter": "R", "product": "p", "period": months, "hhi": np.linspace(0.2, 0.42, 12)})
    row = trend_table(table, last_n=12).iloc[0]
    assert row["freq"] == "M" and row["slope"] == pytest.approx(0.02) and row["n"] == 12
