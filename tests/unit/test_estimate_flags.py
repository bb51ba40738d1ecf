"""Estimates are labelled as estimates: source flags parsed, encoded, summarised and explained (pure)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from indicators.disruption import DetectionResult
from monitor.records import MIRROR, REPORTED, estimate_flags, estimate_kinds
from monitor.collect.comtrade import comtrade_estimate_flags
from monitor.collect.eurostat import eurostat_estimate_flags, jsonstat_cells
from monitor.collect.files import file_estimate_flags
from monitor.collect.rows import trade_flow_builder
from monitor.assess.provenance import estimate_summary, with_estimate_note

# --- the encoding ----------------------------------------------------------------


def test_encoding_is_canonical_order_without_duplicates_and_none_when_empty():
    assert estimate_flags(["provisional", "not_reported", "provisional"]) == "not_reported,provisional"
    assert estimate_flags([]) is None
    assert estimate_flags(["", " "]) is None
    assert estimate_kinds("not_reported,provisional") == ("not_reported", "provisional")
    assert estimate_kinds(None) == () and estimate_kinds(math.nan) == () and estimate_kinds("") == ()
    with pytest.raises(ValueError, match="unknown estimate kind"):
        estimate_flags(["guessed"])


# --- Comtrade --------------------------------------------------------------------


@pytest.mark.parametrize("record, expected", [
    ({"isReported": True, "legacyEstimationFlag": 0, "isNetWgtEstimated": False}, None),
    ({}, None),  # an older extract without the fields says nothing
    ({"isReported": False, "legacyEstimationFlag": 0}, "not_reported"),
    ({"isReported": True, "legacyEstimationFlag": 4}, "estimated"),
    ({"isReported": True, "isNetWgtEstimated": True, "isQtyEstimated": True, "isAltQtyEstimated": False},
     "netwgt_estimated,qty_estimated"),
    # CSV extracts: the same fields as text
    ({"isReported": "False", "legacyEstimationFlag": "2", "isNetWgtEstimated": "True"},
     "not_reported,estimated,netwgt_estimated"),
    ({"isReported": "true", "legacyEstimationFlag": "0", "isAltQtyEstimated": "1"}, "altqty_estimated"),
    ({"isReported": "", "legacyEstimationFlag": ""}, None),
])
def test_comtrade_record_flags(record, expected):
    assert comtrade_estimate_flags(record) == expected


# --- Eurostat / Comext -----------------------------------------------------------


@pytest.mark.parametrize("status, expected", [
    (None, None), ("", None), ("p", "provisional"), ("e", "estimated"), ("c", "confidential"),
    ("ep", "estimated,provisional"), ("b", None), ("r", None), ("u", "other"), ("P", "provisional"),
])
def test_eurostat_status_flags(status, expected):
    assert eurostat_estimate_flags(status) == expected


def _cube(status):
    return {"class": "dataset", "id": ["geo", "time"], "size": [1, 3],
            "dimension": {"geo": {"category": {"index": {"DE": 0}}},
                          "time": {"category": {"index": {"2024-01": 0, "2024-02": 1, "2024-03": 2}}}},
            "value": {"0": 1.0, "1": 2.0, "2": 3.0}, "status": status}


def test_jsonstat_cells_carry_each_value_status():
    dims, cells = jsonstat_cells(_cube({"1": "p", "2": "e"}), "test", with_status=True)
    assert dims == ["geo", "time"]
    assert [(labels[1], value, status) for labels, value, status in cells] == [
        ("2024-01", 1.0, None), ("2024-02", 2.0, "p"), ("2024-03", 3.0, "e")]
    # a status list (dense form) is read by position
    _, dense = jsonstat_cells(_cube(["", "p", ""]), "test", with_status=True)
    assert [status for _, _, status in dense] == [None, "p", None]
    # without with_status the cells keep their two-field shape
    assert jsonstat_cells(_cube({"1": "p"}), "test")[1][1] == (["DE", "2024-02"], 2.0)


# --- the file source -------------------------------------------------------------


@pytest.mark.parametrize("cell, expected", [
    (None, None), ("", None), ("0", None), ("reported", None), ("no", None), (math.nan, None),
    ("estimated", "estimated"), ("provisional; not_reported", "not_reported,provisional"),
    ("p", "provisional"), ("E", "estimated"), ("imputed by analyst", "other"),
])
def test_file_flag_cells(cell, expected):
    assert file_estimate_flags(cell) == expected


# --- row building ------------------------------------------------------------------


def test_builder_keeps_flags_and_unions_them_when_summing_duplicates():
    builder = trade_flow_builder()
    row = {"reporter": "CHN", "product": "8105", "flow": "M", "period": pd.Timestamp("2025-01-01"), "quantity": None}
    builder.add({**row, "partner": "_X", "value": 10.0, "estimate_flags": "provisional"}, sum_duplicates=True)
    builder.add({**row, "partner": "_X", "value": 5.0, "estimate_flags": "not_reported"}, sum_duplicates=True)
    builder.add({**row, "partner": "COD", "value": 7.0, "estimate_flags": None})
    frame = builder.frame().set_index("partner")
    assert frame.loc["_X", "value"] == 15.0
    assert frame.loc["_X", "estimate_flags"] == "not_reported,provisional"
    assert frame.loc["COD", "estimate_flags"] is None


def test_builder_without_any_flag_keeps_the_contract_columns():
    builder = trade_flow_builder()
    builder.add({"reporter": "CHN", "partner": "COD", "product": "8105", "flow": "M",
                 "period": pd.Timestamp("2025-01-01"), "value": 1.0, "quantity": None, "estimate_flags": None})
    assert "estimate_flags" not in builder.frame()


# --- summaries and notes -----------------------------------------------------------


def flows(rows):
    return pd.DataFrame({"reporter": "CHN", "partner": [r[1] for r in rows], "product": "8105", "flow": "M",
                         "period": pd.to_datetime([r[0] for r in rows]), "value": [r[2] for r in rows],
                         "quantity": math.nan, "provenance": [r[3] for r in rows],
                         "cif_fob_factor": math.nan, "estimate_flags": [r[4] for r in rows]})


FRAME = flows([
    ("2025-01-01", "COD", 300.0, REPORTED, None),
    ("2025-01-01", "ZAF", 100.0, REPORTED, "netwgt_estimated"),   # weight only: the value is reported
    ("2025-02-01", "COD", 150.0, REPORTED, "provisional"),
    ("2025-02-01", "ZAF", 50.0, MIRROR, None),                    # a mirror row stands in: an estimate
    ("2025-03-01", "COD", 400.0, REPORTED, "not_reported,estimated"),
])


def test_estimate_summary_counts_value_estimates_and_mirror_rows():
    assert estimate_summary(FRAME) == {
        "estimated_share": pytest.approx((150 + 50 + 400) / 1000),
        "estimated_periods": ["2025-02", "2025-03"],
        "estimate_kinds": ["not_reported", "estimated", "provisional", "netwgt_estimated", "mirror"],
    }


def test_estimate_summary_of_plain_reported_flows_is_zero():
    reported = FRAME.drop(columns=["estimate_flags", "provenance"])
    assert estimate_summary(reported) == {"estimated_share": 0.0, "estimated_periods": [], "estimate_kinds": []}
    assert estimate_summary(FRAME.iloc[0:0])["estimated_share"] == 0.0
    weight_only = FRAME.iloc[[0, 1]]
    assert estimate_summary(weight_only)["estimated_share"] == 0.0
    assert estimate_summary(weight_only)["estimate_kinds"] == ["netwgt_estimated"]


def result(period):
    return DetectionResult(series_id="imports.critical-minerals.cobalt", method="stl_residual",
                           period=pd.Timestamp(period), status="flagged", direction="down", observed=1.0,
                           expected=2.0, lower=1.5, upper=2.5, score=-4.0,
                           explanation_en="Imports fell.", explanation_zh="进口下降。")


def test_a_finding_on_an_estimated_month_says_so_in_both_languages():
    noted = with_estimate_note(result("2025-02-01"), FRAME)
    assert noted.explanation_en == ("Imports fell. (100% of this month's value is estimated, not reported: "
                                    "provisional, mirror)")
    assert noted.explanation_zh == "进口下降。（本月 100% 为估计而非申报数据：初步数据、镜像数据）"
    assert noted.score == -4.0 and noted.status == "flagged"


def test_a_finding_on_a_reported_month_is_unchanged():
    plain = result("2025-01-01")
    assert with_estimate_note(plain, FRAME) is plain
    assert with_estimate_note(plain, FRAME.iloc[0:0]) is plain
