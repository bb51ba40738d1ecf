"""Tests for indicators.dependence: import dependence, the EU dependency test, single points of failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.concentration import (
    RESIDUAL_PARTNERS,
    concentration_table,
    residual_from_totals,
)
from indicators.dependence import (
    DEPENDENCE_COLUMNS,
    DependencyThresholds,
    dependency_findings,
    import_dependence,
    import_dependence_findings,
    single_point_of_failure,
    single_point_of_failure_findings,
    strategic_dependency_test,
)
from tests.shared_data import read_comtrade_us_china

KEYS = ["reporter", "product", "period"]


# --------------------------------------------------------------------------- import dependence


def test_import_dependence_hand_computed():
    frame = pd.DataFrame({
        "product": ["a", "b", "c", "d"],
        "production": [20.0, 100.0, np.nan, 0.0],
        "imports": [100.0, 10.0, 5.0, 10.0],
        "exports": [20.0, 60.0, 1.0, 30.0],
    })
    out = import_dependence(frame)
    assert list(out.columns[-4:]) == list(DEPENDENCE_COLUMNS)
    a, b, c, d = (out.iloc[i] for i in range(4))
    # a: C = 20 + 100 - 20 = 100; M/C = 1.0; (M - X)/C = 0.8; P/C = 0.2
    assert (a["apparent_consumption"], a["import_dependence"], a["net_import_reliance"], a["self_sufficiency"]) == (
        100.0, 1.0, 0.8, 0.2)
    # b: a net exporter: C = 50; M/C = 0.2; NIR = -1.0; SS = 2.0
    assert (b["import_dependence"], b["net_import_reliance"], b["self_sufficiency"]) == (0.2, -1.0, 2.0)
    assert c[list(DEPENDENCE_COLUMNS)].isna().all()  # production unknown
    assert d["apparent_consumption"] == -20.0 and np.isnan(d["import_dependence"])  # C <= 0: no ratio


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("imports", [1.0, -1.0], "'imports' has a negative entry -1.0 at row 1"),
        ("exports", ["1", "x"], "'exports': 'x' at row 1 is not a number"),
        ("imports", [1.0, np.nan], "'imports' has a missing entry at row 1"),
        ("production", [np.inf, 1.0], "'production' has a non-finite entry at row 0"),
    ],
)
def test_import_dependence_errors_name_column_and_row(column, values, message):
    frame = pd.DataFrame({"production": [1.0, 1.0], "imports": [1.0, 1.0], "exports": [0.0, 0.0]})
    frame[column] = values
    with pytest.raises(ValueError, match=message):
        import_dependence(frame)
    with pytest.raises(ValueError, match="missing column 'exports'"):
        import_dependence(frame.drop(columns="exports"))


def test_import_dependence_findings():
    frame = import_dependence(pd.DataFrame({
        "reporter": ["CHN", "CHN"], "product": ["2846", "8541"], "period": [2023, 2023],
        "production": [10.0, 90.0], "imports": [90.0, 10.0], "exports": [0.0, 0.0]}))
    names = {"CHN": ("China", "中国"), "2846": ("rare-earth compounds", "稀土化合物")}
    [finding] = import_dependence_findings(frame, names=names)
    assert finding.kind == "import_dependence" and finding.observed == pytest.approx(0.9)
    assert finding.explanation_en == ("In 2023, imports cover 90% of China's apparent consumption of "
                                      "rare-earth compounds (> 50%); self-sufficiency 10%.")
    assert finding.explanation_zh == "2023，进口满足中国稀土化合物表观消费量的90%（> 50%）；自给率10%。"


# --------------------------------------------------------------------------- the EU test


def eu_case():
    """A bloc (members DE, FR) importing product p from inside and outside, 2021-2023."""
    rows = []
    for year, (cn, us, de) in {2021: (30, 30, 40), 2022: (70, 10, 20), 2023: (80, 10, 10)}.items():
        rows += [("EU", "p", year, "CN", float(cn)), ("EU", "p", year, "US", float(us)),
                 ("EU", "p", year, "DE", float(de)), ("EU", "p", year, "WORLD", 100.0)]
    imports = pd.DataFrame(rows, columns=[*KEYS, "partner", "value"])
    exports = pd.DataFrame([("EU", "p", 2021, 50.0), ("EU", "p", 2022, 40.0)], columns=[*KEYS, "value"])
    return imports, exports


def test_eu_test_criteria_hand_computed():
    imports, exports = eu_case()
    out = strategic_dependency_test(imports, exports, bloc=["DE", "FR"]).set_index("period")
    # 2021: extra = CN 30 + US 30 = 60 of 100; HHI(extra) = 0.5^2 + 0.5^2 = 0.5; 60/50 = 1.2
    r = out.loc[2021]
    assert (r["total_imports"], r["extra_imports"], r["exports"]) == (100.0, 60.0, 50.0)
    assert r["hhi"] == pytest.approx(0.5) and r["extra_share"] == pytest.approx(0.6)
    assert r["import_export_ratio"] == pytest.approx(1.2) and r["dependent"]
    # 2022: extra 80; HHI = (70/80)^2 + (10/80)^2 = 0.78125; share 0.8; 80/40 = 2
    assert out.loc[2022, "hhi"] == pytest.approx(0.78125) and out.loc[2022, "dependent"]
    # 2023: no export row -> exports 0 -> ratio +inf (criterion holds, as CEPII's 9999)
    assert out.loc[2023, "exports"] == 0.0 and np.isinf(out.loc[2023, "import_export_ratio"])
    assert out.loc[2023, "top_partner"] == "CN" and out.loc[2023, "top_share"] == pytest.approx(80 / 90)
    assert out["periods_dependent"].tolist() == [1, 2, 3]
    assert out["persistent"].tolist() == [False, True, True]


def test_eu_test_each_criterion_can_fail_and_thresholds_are_configurable():
    imports, exports = eu_case()
    strict = DependencyThresholds(hhi=0.5)  # 2021's HHI is exactly 0.5: strict ">" fails
    out = strategic_dependency_test(imports, exports, bloc=["DE"], thresholds=strict).set_index("period")
    assert not out.loc[2021, "crit_concentration"] and not out.loc[2021, "dependent"]
    high = DependencyThresholds(extra_share=0.85, import_export_ratio=1.5)
    out = strategic_dependency_test(imports, exports, bloc=["DE"], thresholds=high).set_index("period")
    assert out["crit_extra_share"].tolist() == [False, False, True]  # 0.6, 0.8, 0.9
    assert out["crit_substitutability"].tolist() == [False, True, True]  # 1.2, 2.0, inf
    with pytest.raises(ValueError, match="min_periods"):
        DependencyThresholds(window=3, min_periods=4)


def test_eu_test_persistence_does_not_bridge_gaps_or_series():
    rows = [("EU", "p", 2019, "CN", 1.0), ("EU", "p", 2022, "CN", 1.0), ("EU", "q", 2021, "CN", 1.0)]
    imports = pd.DataFrame(rows, columns=[*KEYS, "partner", "value"])
    exports = pd.DataFrame(columns=[*KEYS, "value"])
    out = strategic_dependency_test(imports, exports)
    # 2019 and 2022 are 3 years apart: each counts alone; q's 2021 is another product
    assert out["dependent"].all() and out["periods_dependent"].tolist() == [1, 1, 1]
    assert not out["persistent"].any()


def test_eu_test_zero_imports_and_bad_exports():
    imports = pd.DataFrame([("EU", "p", 2023, "DE", 5.0), ("EU", "q", 2023, "WORLD", 5.0)], columns=[*KEYS, "partner", "value"])
    out = strategic_dependency_test(imports, pd.DataFrame(columns=[*KEYS, "value"]), bloc="DE").set_index("product")
    assert out.loc["p", "extra_imports"] == 0 and np.isnan(out.loc["p", "import_export_ratio"])
    assert np.isnan(out.loc["p", "hhi"]) and not out.loc["p", "dependent"]
    assert out.loc["q", "total_imports"] == 0 and not out.loc["q", "dependent"]
    with pytest.raises(ValueError, match="no 'partner' column"):
        strategic_dependency_test(imports, imports)
    with pytest.raises(ValueError, match="'value'.*negative"):
        strategic_dependency_test(imports, pd.DataFrame([("EU", "p", 2023, -1.0)], columns=[*KEYS, "value"]))


def test_dependency_findings_sentences_and_honest_comparisons():
    imports, exports = eu_case()
    exports = pd.concat([exports, pd.DataFrame([("EU", "p", 2023, 1000.0)], columns=[*KEYS, "value"])])
    out = strategic_dependency_test(imports, exports, bloc=["DE"])
    findings = dependency_findings(out, names={"EU": ("the EU", "欧盟")})
    assert [f.period for f in findings] == ["2022", "2023"]
    assert findings[0].explanation_en == (
        "In 2022, the EU is strategically dependent on imports of p: HHI of imports 0.78 > 0.4 (top CN 88%), "
        "extra-bloc share 80% > 50%, imports/exports 2.00 > 1; all three held in 2 of the last 3 periods.")
    # 2023 persists (2021, 2022) but fails now (90 / 1000): the sentence must not claim "> 1"
    assert "imports/exports 0.09 ≤ 1" in findings[1].explanation_en
    assert "(not in the latest period)" in findings[1].explanation_en
    assert "进口/出口 0.09 ≤ 1" in findings[1].explanation_zh
    assert [f.period for f in dependency_findings(out, require_persistence=False)] == ["2021", "2022"]


def test_eu_test_on_us_artificial_graphite_comtrade():
    """US imports of artificial graphite (HS 380110), home = USA, bloc = USA alone."""
    flows = read_comtrade_us_china()
    us = flows[(flows["reporter"] == "842") & (flows["product"] == "380110")]
    imports = residual_from_totals(us[us["flow"] == "M"][[*KEYS, "partner", "value"]])
    exports = us[(us["flow"] == "X") & (us["partner"] == "0")][[*KEYS, "value"]]
    out = strategic_dependency_test(imports, exports, residual_partners=RESIDUAL_PARTNERS).set_index("period")
    # Only China is named; the rest of the world is a residual, so HHI = China's share^2 (lower bound).
    # 2022: 299,131,867 / 490,806,460 = 0.609470 -> HHI 0.371454 <= 0.4 (fails)
    # 2023: 297,818,999 / 449,107,163 = 0.663136 -> HHI 0.439749 > 0.4; extra share 1 (all imports
    #       are extra-bloc); imports / exports = 449,107,163 / 161,787,714 = 2.775904 > 1
    # 2024: 282,931,180 / 430,837,122 = 0.656701 -> HHI 0.431256; 430,837,122 / 162,200,265 = 2.656205
    assert out.loc[2022, "hhi"] == pytest.approx((299_131_867 / 490_806_460) ** 2, abs=1e-12)
    assert out.loc[2023, "hhi"] == pytest.approx(0.439749, abs=1e-6)
    assert out.loc[2023, "import_export_ratio"] == pytest.approx(449_107_163 / 161_787_714, abs=1e-12)
    assert out.loc[2024, "import_export_ratio"] == pytest.approx(2.656205, abs=1e-6)
    assert out["dependent"].tolist() == [False, False, False, True, True]
    # persistence: 2 of the 3 years 2022-2024 -> only 2024 is a persistent dependency
    assert out["persistent"].tolist() == [False, False, False, False, True]
    names = {"842": ("USA", "美国"), "156": ("China", "中国"), "380110": ("artificial graphite", "人造石墨")}
    [finding] = dependency_findings(out.reset_index(), names=names)
    assert finding.period == "2024" and finding.subject_dict() == {"reporter": "842", "product": "380110"}
    assert finding.explanation_en.startswith(
        "In 2024, USA is strategically dependent on imports of artificial graphite: HHI of imports 0.43 > 0.4 "
        "(top China 66%)")


# --------------------------------------------------------------------------- single point of failure


def test_single_point_of_failure_flag_and_findings():
    rows = [("842", "2846", 2023, p, v) for p, v in (("156", 70.0), ("36", 30.0))]
    rows += [("842", "8105", 2023, p, v) for p, v in (("156", 50.0), ("180", 50.0))]
    table = concentration_table(pd.DataFrame(rows, columns=[*KEYS, "partner", "value"]))
    flagged = single_point_of_failure(table)
    assert flagged["single_point_of_failure"].tolist() == [True, False]  # 0.70 > 0.65; 0.50 not
    assert single_point_of_failure(table, 0.5)["single_point_of_failure"].tolist() == [True, False]  # strict
    [finding] = single_point_of_failure_findings(table, names={"156": ("China", "中国"), "842": ("USA", "美国")})
    assert finding.explanation_en == "In 2023, single point of failure: China supplies 70% of USA's 2846 imports (> 65%)."
    assert finding.explanation_zh == "2023，单点依赖风险：中国供应了美国2846进口的70%（> 65%）。"
    with pytest.raises(ValueError, match="share in"):
        single_point_of_failure(table, 65)
