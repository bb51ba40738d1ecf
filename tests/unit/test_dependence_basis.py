"""Issue #20 items 1 and 6: imports and exports on one basis; the EU test as the method states.

Pure tests on small frames: the indicator's tri-state criteria (no bloc, partial partner
coverage, persistence) and the dependence/value dimensions with World rows.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from indicators.concentration import DEFAULT_RESIDUAL
from indicators.dependence import (
    criteria_met,
    dependency_findings,
    persistence_status,
    strategic_dependency_test,
)
from indicators.dimension_scores import NET_IMPORT_RATIO_ANCHORS, UNIT_VALUE_RATIO_ANCHORS
from monitor.assess.dimensions import home_bloc, measure_dependence, measure_value

KEYS = ["reporter", "product", "period"]
AS_OF = date(2025, 12, 1)


def _imports(rows):
    return pd.DataFrame(rows, columns=[*KEYS, "partner", "value"])


def _exports(rows):
    return pd.DataFrame(rows, columns=[*KEYS, "value"])


# ------------------------------------------------------------------ the indicator, table-driven


@pytest.mark.parametrize(("rows", "bloc", "c1", "c2", "status"), [
    # no bloc: criterion 2 is not applicable, whatever the shares
    ([("CN", 90.0), ("US", 10.0)], (), "met", "not applicable", "dependent"),
    # partial coverage: named CN 60 of World 100 -> HHI in [0.36, 0.36 + 2*0.6*0.4 + 0.16 = 1.0]: unknown
    ([("CN", 60.0), (DEFAULT_RESIDUAL, 40.0)], (), "unknown", "not applicable", "unknown"),
    # partial coverage, but the lower bound already passes: CN 70 of 100 -> 0.49 > 0.4
    ([("CN", 70.0), (DEFAULT_RESIDUAL, 30.0)], (), "met", "not applicable", "dependent"),
    # partial coverage, upper bound <= 0.4: five named partners of 18 each, residual 10
    ([(p, 18.0) for p in "ABCDE"] + [(DEFAULT_RESIDUAL, 10.0)], (), "not met", "not applicable", "not dependent"),
    # with a bloc: extra-bloc share 0.6 (CN 60 of 100) met; DE is intra
    ([("CN", 60.0), ("DE", 40.0)], ("DE",), "met", "met", "dependent"),
    # with a bloc and an unallocated remainder: extra share in [0.45, 0.6]: unknown
    ([("CN", 45.0), ("DE", 40.0), (DEFAULT_RESIDUAL, 15.0)], ("DE",), "met", "unknown", "unknown"),
])
def test_criteria_statuses(rows, bloc, c1, c2, status):
    imports = _imports([("H", "p", 2025, p, v) for p, v in rows])
    out = strategic_dependency_test(imports, _exports([("H", "p", 2025, 1.0)]), bloc=bloc,
                                    residual_partners=(DEFAULT_RESIDUAL,)).iloc[0]
    assert (out["c1_concentration"], out["c2_extra_share"], out["status"]) == (c1, c2, status)
    assert out["c3_imports_over_exports"] == "met"
    assert out["hhi"] <= out["hhi_upper"] <= 1.0


def test_persistence_over_years_is_two_of_three_and_tri_state():
    # dependent 2023 and 2025, not 2024 (exports too high): persistent in 2025 (2 of 3)
    imports = _imports([("H", "p", y, "CN", 100.0) for y in (2023, 2024, 2025)])
    exports = _exports([("H", "p", 2024, 500.0)])
    out = strategic_dependency_test(imports, exports).set_index("period")
    assert out["status"].tolist() == ["dependent", "not dependent", "dependent"]
    # in the indicator a period without a row counts as not dependent (no trade); the dimension
    # passes years before its stored history as unknown instead
    assert out["persistence"].tolist() == ["not met", "not met", "met"]
    assert out.loc[2025, "persistent"]
    assert list(persistence_status(np.array([1, 0, 1]), np.array([0, 1, 1]), 2)) == ["not met", "not met", "unknown"]


@pytest.mark.parametrize(("bloc", "expected"), [
    ((), ["c1_concentration", "c3_imports_over_exports"]),
    (("DE",), ["c1_concentration", "c2_extra_share", "c3_imports_over_exports"]),
])
def test_driver_lists_exactly_the_met_criteria(bloc, expected):
    imports = _imports([("H", "p", y, p, v) for y in (2024, 2025) for p, v in (("CN", 90.0), ("DE", 5.0))])
    out = strategic_dependency_test(imports, _exports([]), bloc=bloc)
    assert [c for c, _, _ in criteria_met(out.iloc[-1])] == expected
    [finding] = dependency_findings(out)
    if bloc:
        assert "all three held in 2 of the last 3 periods" in finding.explanation_en
    else:
        assert "all three" not in finding.explanation_en and "三项" not in finding.explanation_zh
        assert "extra-bloc share not applicable (no bloc)" in finding.explanation_en
        assert "both applicable criteria" in finding.explanation_en


def test_bloc_setting():
    assert home_bloc(None, "CHN") == ()
    assert len(home_bloc(None, "EU27")) == 27 and "DEU" in home_bloc(None, "EU27")
    assert home_bloc(["fra"], "DEU") == ("FRA",)


# ------------------------------------------------------------------ the dependence dimension


def _monthly(rows, months):
    return pd.DataFrame([{"reporter": "CHN", "partner": p, "product": h, "flow": f, "period": t, "value": v,
                          "quantity": np.nan if q is None else q} for p, h, f, v, q in rows for t in months])


MONTHS = pd.date_range("2025-01-01", "2025-12-01", freq="MS")
YEARS3 = pd.date_range("2023-01-01", "2025-12-01", freq="MS")


def test_net_import_ratio_uses_the_world_row_not_the_named_partners():
    # Comtrade with partners World + USA only (issue #20: HS 8105 shown -0.78, really +0.85)
    m = _monthly([("WORLD", "810520", "M", 100.0, None), ("USA", "810520", "M", 1.0, None)], MONTHS)
    x = _monthly([("WORLD", "810520", "X", 10.0, None)], MONTHS)
    score, details, driver = measure_dependence(m, x, True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    assert details["net_import_ratio"] == pytest.approx(90 / 110)  # +0.82
    assert (details["imports_basis"], details["exports_basis"], details["net_import_ratio_is"]) == (
        "world_total", "world_total", "exact")
    assert "+0.82" in driver[1] and score > 50


def test_exports_world_and_partner_rows_are_not_added_together():
    m = _monthly([("WORLD", "810520", "M", 100.0, None)], MONTHS)
    x = _monthly([("WORLD", "810520", "X", 10.0, None), ("USA", "810520", "X", 8.0, None)], MONTHS)
    _, details, _ = measure_dependence(m, x, True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    assert details["exports"] == pytest.approx(120.0)


def test_different_bases_make_the_ratio_a_stated_bound():
    m = _monthly([("WORLD", "810520", "M", 100.0, None)], MONTHS)
    x = _monthly([("USA", "810520", "X", 10.0, None)], MONTHS)  # exports: partners only, a lower bound
    _, details, driver = measure_dependence(m, x, True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    assert (details["imports_basis"], details["exports_basis"]) == ("world_total", "partner_sum")
    assert details["net_import_ratio_is"] == "upper_bound" and "at most" in driver[1]


def test_eu_test_in_the_dimension_needs_hs6_and_three_years():
    rows = [("WORLD", "810520", "M", 100.0, None), ("USA", "810520", "M", 80.0, None),
            ("WORLD", "8105", "M", 50.0, None)]
    x = _monthly([("WORLD", "810520", "X", 10.0, None)], YEARS3)
    _, details, driver = measure_dependence(_monthly(rows, YEARS3), x, True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    eu = details["eu_test"]
    assert "8105" in eu["not_applicable"] and eu["dependent_products"] == ["810520"]
    record = eu["products"]["810520"]
    assert record["criteria"] == {"c1_concentration": "met", "c2_extra_share": "not applicable",
                                  "c3_imports_over_exports": "met"}
    assert record["persistence"] == "met" and record["years_dependent"] == 3
    assert "import HHI > 0.4, imports/exports > 1" in driver[1] and "all three" not in driver[1]
    assert "extra-bloc share not applicable" in driver[1]
    # one year of data: persistence cannot be judged
    _, one, _ = measure_dependence(_monthly(rows, MONTHS), _monthly([("WORLD", "810520", "X", 10.0, None)], MONTHS),
                                   True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    assert one["eu_strategic_dependency"] == "unknown"


# ------------------------------------------------------------------ the value dimension


def test_unit_values_do_not_add_world_and_partner_rows():
    m = _monthly([("WORLD", "2941", "M", 300.0, 3.0), ("JPN", "2941", "M", 200.0, 1.0)], MONTHS)
    x = _monthly([("WORLD", "2941", "X", 50.0, 1.0)], MONTHS)
    _, details, _ = measure_value(m, x, AS_OF, 12, 0.5, UNIT_VALUE_RATIO_ANCHORS)
    assert details["unit_value_ratio"] == pytest.approx(0.5)  # 50/kg against the World's 100/kg
    assert details["bases"] == {"2941": {"imports": "world_total", "exports": "world_total"}}
    assert details["products_on_different_bases"] == []


def test_unit_values_on_different_bases_are_named():
    m = _monthly([("JPN", "2941", "M", 300.0, 3.0)], MONTHS)
    x = _monthly([("WORLD", "2941", "X", 50.0, 1.0)], MONTHS)
    _, details, driver = measure_value(m, x, AS_OF, 12, 0.5, UNIT_VALUE_RATIO_ANCHORS)
    assert details["products_on_different_bases"] == ["2941"]
    assert details["bases"]["2941"] == {"imports": "partner_sum", "exports": "world_total"}
    assert "cover different partners" in driver[1] and "口径不同" in driver[2]
