"""Tests for indicators.unit_values: export / import unit values (low-end lock-in)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.unit_values import (
    UNIT_VALUE_COLUMNS,
    unit_value_findings,
    unit_value_table,
)
from tests.shared_data import read_comtrade_us_china

COLS = ["reporter", "product", "period", "flow", "value", "quantity"]


def test_unit_values_hand_computed_and_missing_quantities():
    df = pd.DataFrame([
        ("CHN", "2846", 2023, "X", 100.0, 20.0),   # 5 USD/kg
        ("CHN", "2846", 2023, "X", 50.0, np.nan),  # no quantity: left out of both sums
        ("CHN", "2846", 2023, "M", 400.0, 40.0),   # 10 USD/kg
        ("CHN", "2846", 2023, "RX", 999.0, 1.0),   # re-export: ignored
        ("CHN", "8105", 2023, "X", 10.0, 0.0),     # quantity 0 = not reported
    ], columns=COLS)
    out = unit_value_table(df).set_index("product")
    assert list(out.columns[-len(UNIT_VALUE_COLUMNS):]) == list(UNIT_VALUE_COLUMNS)
    r = out.loc["2846"]
    assert (r["export_unit_value"], r["import_unit_value"], r["unit_value_ratio"]) == (5.0, 10.0, 0.5)
    assert r["export_coverage"] == pytest.approx(100 / 150) and r["import_coverage"] == 1.0
    assert np.isnan(out.loc["8105", "export_unit_value"]) and np.isnan(out.loc["8105", "unit_value_ratio"])
    # coverage 2/3 >= 0.5: a finding; with min_coverage 0.9 none
    [finding] = unit_value_findings(unit_value_table(df), unit_label="kg")
    assert finding.kind == "low_unit_value" and finding.observed == 0.5 and finding.threshold == 0.85
    assert unit_value_findings(unit_value_table(df), min_coverage=0.9) == []


def test_unit_column_separates_units_and_world_rows_must_not_mix_with_partners():
    df = pd.DataFrame([("R", "p", 1, "X", 10.0, 1.0, "kg"), ("R", "p", 1, "X", 10.0, 5.0, "u")],
                      columns=[*COLS, "unit"])
    assert len(unit_value_table(df, unit="unit")) == 2
    mixed = pd.DataFrame([("R", "p", 1, "X", 10.0, 1.0, "0"), ("R", "p", 1, "X", 4.0, 1.0, "156")],
                         columns=[*COLS, "partner"])
    with pytest.raises(ValueError, match="both World"):
        unit_value_table(mixed)
    with pytest.raises(ValueError, match="'quantity'.*negative"):
        unit_value_table(pd.DataFrame([("R", "p", 1, "X", 1.0, -1.0)], columns=COLS))
    with pytest.raises(ValueError, match="missing column 'flow'"):
        unit_value_table(pd.DataFrame([("R", "p", 1, 1.0, 1.0)], columns=["reporter", "product", "period", "value", "quantity"]))


def test_china_rare_earth_compounds_low_end_comtrade():
    flows = read_comtrade_us_china()
    world = flows[(flows["partner"] == "0") & (flows["product"] == "2846")]
    table = unit_value_table(world, unit="unit").set_index(["reporter", "period"])
    # China (156), HS 2846, 2023, World: exports 528,357,420 USD / 42,855,859.964 kg = 12.32871 USD/kg;
    # imports 1,881,334,377 / 109,285,772.570 = 17.21482; ratio 0.716169 < 0.85
    cn = table.loc[("156", 2023)]
    assert cn["export_unit_value"] == pytest.approx(528_357_420 / 42_855_859.964, rel=1e-12)
    assert cn["import_unit_value"] == pytest.approx(1_881_334_377 / 109_285_772.570, rel=1e-12)
    assert cn["unit_value_ratio"] == pytest.approx(0.716169, abs=1e-6)
    # USA (842), 2023: 363,640,433 / 33,823,933 = 10.75098; 181,268,698 / 14,614,869 = 12.40303 -> 0.866803
    assert table.loc[("842", 2023), "unit_value_ratio"] == pytest.approx(0.866803, abs=1e-6)
    names = {"156": ("China", "中国"), "2846": ("rare-earth compounds", "稀土化合物")}
    found = {(f.subject_dict()["reporter"], f.period) for f in unit_value_findings(table.reset_index(), names=names)}
    assert ("156", "2023") in found and ("842", "2023") not in found
