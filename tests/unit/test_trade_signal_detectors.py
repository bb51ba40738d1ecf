"""Partner-share collapse detector on long trade-flow tables."""

from __future__ import annotations

import pandas as pd
import pytest

from indicators.partner_share import PartnerShareCollapseDetector
from indicators.scoring import disruption_score


def flows(china: list[float], other: list[float], world: bool = True, start: str = "2020-01") -> pd.DataFrame:
    rows = []
    for i, p in enumerate(pd.period_range(start, periods=len(china), freq="M").astype(str)):
        if china[i] is not None:
            rows.append(dict(reporter="JPN", partner="CHN", product="2846", period=p, value=china[i]))
        rows.append(dict(reporter="JPN", partner="VNM", product="2846", period=p, value=other[i]))
        if world:
            rows.append(dict(reporter="JPN", partner="WORLD", product="2846", period=p,
                             value=(china[i] or 0.0) + other[i] + 10.0))
    return pd.DataFrame(rows)


def test_export_ban_is_a_share_collapse():
    # China supplies 80 of 100; in month 20 its row disappears (an export ban)
    china = [80.0] * 19 + [None]
    other = [10.0] * 19 + [60.0]
    det = PartnerShareCollapseDetector()
    r = det.detect(flows(china, other))[0]
    assert (r.series_id, r.status, r.direction, r.method) == ("JPN/2846", "flagged", "down", "partner_share_collapse")
    assert r.observed == 0.0
    assert r.expected == pytest.approx(0.8)  # 80 / (80 + 10 + 10 other partners in the WORLD total)
    assert r.score == pytest.approx(-80.0) and r.lower == pytest.approx(0.6)
    assert "CHN" in r.explanation_en and "cut off" in r.explanation_en and "中断" in r.explanation_zh
    # the score is in points: a fall of exactly drop_points scores 60 (yellow)
    assert disruption_score(-20.0, threshold=det.drop_points) == pytest.approx(60.0)


def test_share_moves_below_the_threshold_are_normal_and_history_is_needed():
    china = [80.0] * 12 + [70.0]
    other = [10.0] * 12 + [20.0]
    det = PartnerShareCollapseDetector()
    r = det.detect(flows(china, other, world=False))[0]
    assert r.status == "normal" and r.score == pytest.approx(-10.0 / 0.9 * 0.9 / 0.9, rel=0.2)
    replayed = det.replay(flows(china, other, world=False))
    assert [x.status for x in replayed[:6]] == ["insufficient_history"] * 6
    assert replayed[6].status == "normal"


def test_no_main_partner_no_flag():
    det = PartnerShareCollapseDetector(min_share=0.6)
    r = det.detect(flows([30.0] * 12 + [5.0], [30.0] * 13, world=False))[0]
    assert r.status == "normal" and "No main partner" in r.explanation_en


def test_short_window_lowers_the_history_needed():
    det = PartnerShareCollapseDetector(window=3)
    assert det.min_periods == 3
    assert det.detect(flows([80.0] * 4 + [10.0], [10.0] * 4 + [80.0], world=False))[0].status == "flagged"


def test_partner_share_validation():
    with pytest.raises(ValueError, match="drop_points"):
        PartnerShareCollapseDetector(drop_points=0)
    with pytest.raises(ValueError, match="'partner'"):
        PartnerShareCollapseDetector().detect(pd.DataFrame({"reporter": [], "product": [], "period": [], "value": []}))
    bad = flows([80.0] * 8, [10.0] * 8)
    bad.loc[0, "value"] = -1
    with pytest.raises(ValueError, match="negative"):
        PartnerShareCollapseDetector().detect(bad)
