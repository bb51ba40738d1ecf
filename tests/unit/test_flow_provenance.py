"""Mirror (partner-reported) flows are shown wherever flows are summarised: shares, months, findings."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from indicators.disruption import DetectionResult
from monitor.records import MIRROR, REPORTED
from monitor.assess.provenance import estimate_summary, mirror_summary, with_mirror_note


def flows(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame({"reporter": "CHN", "partner": [r[1] for r in rows], "product": "8105", "flow": "M",
                         "period": pd.to_datetime([r[0] for r in rows]), "value": [r[2] for r in rows],
                         "quantity": math.nan, "provenance": [r[3] for r in rows]})


FRAME = flows([("2025-01-01", "COD", 300.0, REPORTED), ("2025-01-01", "ZAF", 100.0, REPORTED),
               ("2025-02-01", "COD", 150.0, MIRROR), ("2025-02-01", "ZAF", 50.0, REPORTED)])


def result(period: str) -> DetectionResult:
    return DetectionResult(series_id="imports.critical-minerals.cobalt", method="stl_residual",
                           period=pd.Timestamp(period), status="flagged", direction="down", observed=1.0,
                           expected=2.0, lower=1.5, upper=2.5, score=-4.0,
                           explanation_en="Imports fell.", explanation_zh="进口下降。")


def test_summary_of_mirror_share_months_and_partners():
    assert mirror_summary(FRAME) == {"mirror_share": pytest.approx(150 / 600), "mirror_periods": ["2025-02"],
                                     "mirror_partners": ["COD"]}
    no_column = FRAME.drop(columns="provenance")
    assert mirror_summary(no_column) == {"mirror_share": 0.0, "mirror_periods": [], "mirror_partners": []}
    assert mirror_summary(FRAME.iloc[0:0])["mirror_share"] == 0.0


def test_a_finding_on_a_mirrored_month_says_so_in_both_languages():
    noted = with_mirror_note(result("2025-02-01"), FRAME)
    # country names for people, in each language (the summary keeps the ISO code)
    assert noted.explanation_en == "Imports fell. (75% of this month's value is partner-reported mirror data: DR Congo)"
    assert "75%" in noted.explanation_zh and "镜像" in noted.explanation_zh and "刚果（金）" in noted.explanation_zh
    assert (noted.score, noted.status) == (-4.0, "flagged")  # the verdict itself is unchanged
    assert with_mirror_note(result("2025-01-01"), FRAME) == result("2025-01-01")  # a reported month: untouched


def test_shares_are_of_the_total_that_counts_the_world_once():
    world = flows([("2025-01-01", "WORLD", 500.0, REPORTED), ("2025-01-01", "COD", 300.0, MIRROR),
                   ("2025-01-01", "ZAF", 100.0, REPORTED), ("2025-02-01", "COD", 150.0, MIRROR),
                   ("2025-02-01", "ZAF", 50.0, REPORTED), ("2025-02-01", "EU27_2020", 999.0, REPORTED)])
    # January: the World's 500 (the partners' 400 under it, not beside it); February, without a
    # World row: the partners' 200 (the EU aggregate overlaps its members: left out)
    assert mirror_summary(world)["mirror_share"] == pytest.approx(round(450 / 700, 4))
    # a part never exceeds its month's total, even where the partners add up to more than the World
    over = flows([("2025-01-01", "WORLD", 100.0, REPORTED), ("2025-01-01", "COD", 300.0, MIRROR)])
    assert mirror_summary(over)["mirror_share"] == 1.0


def test_a_flagged_world_row_makes_its_month_estimated():
    frame = flows([("2025-01-01", "WORLD", 500.0, REPORTED), ("2025-01-01", "COD", 400.0, REPORTED),
                   ("2025-02-01", "WORLD", 200.0, REPORTED), ("2025-02-01", "COD", 100.0, REPORTED)])
    frame["estimate_flags"] = ["provisional", None, None, "estimated"]
    summary = estimate_summary(frame)
    assert summary["estimated_share"] == pytest.approx(round((500 + 100) / 700, 4))
    assert summary["estimated_periods"] == ["2025-01", "2025-02"]
