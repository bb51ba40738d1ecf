"""Tests for indicators.scoring: anchors, monotonicity, bounds, levels, missing data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.concentration import concentration_table
from indicators.scoring import (
    DEFAULT_LEVEL_THRESHOLDS,
    HHI_POINT_ANCHORS,
    LEVELS,
    TOP_SHARE_ANCHORS,
    chain_score,
    concentration_score,
    disruption_score,
    level_for,
    level_index,
    node_score,
)
from tests.shared_data import USGS

TOL = 1e-9
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
score_or_none = st.one_of(st.none(), st.floats(min_value=0.0, max_value=100.0, allow_nan=False))


# --------------------------------------------------------------------------- concentration


@pytest.mark.parametrize("points, expected", HHI_POINT_ANCHORS)
def test_hhi_anchors(points, expected):
    assert concentration_score(points / 10_000, 0.0) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("share, expected", TOP_SHARE_ANCHORS)
def test_top_share_anchors(share, expected):
    assert concentration_score(0.0, share) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(
    "points, level",
    [
        (999, "none"),
        (1000, "blue"),    # 1992/1997 Guidelines: moderately concentrated from 1,000
        (1500, "blue"),    # 2010 Guidelines: moderately concentrated from 1,500 -> 40.6
        (1800, "yellow"),  # 2023 Guidelines: highly concentrated above 1,800
        (2500, "yellow"),  # 2010 Guidelines: highly concentrated above 2,500 -> 56.4
        (4000, "orange"),  # EU SWD(2021) 352: HHI > 0.4
        (7000, "red"),
    ],
)
def test_regulatory_thresholds_land_in_intended_levels(points, level):
    assert level_for(concentration_score(points / 10_000, 0.0), DEFAULT_LEVEL_THRESHOLDS) == level


def test_top_share_65pct_is_orange_and_max_of_both_terms():
    assert level_for(concentration_score(0.0, 0.65), DEFAULT_LEVEL_THRESHOLDS) == "orange"
    assert concentration_score(0.18, 0.65) == pytest.approx(70.0, abs=TOL)  # g dominates f=50
    assert concentration_score(0.40, 0.30) == pytest.approx(70.0, abs=TOL)  # f dominates g=25
    assert concentration_score(0.15, 0.5) == pytest.approx(25 + 0.2 / 0.35 * 45, abs=TOL)


@given(unit, unit, unit, unit)
def test_concentration_score_monotone_and_bounded(h1, h2, t1, t2):
    lo_h, hi_h = sorted((h1, h2))
    lo_t, hi_t = sorted((t1, t2))
    a = concentration_score(lo_h, lo_t)
    b = concentration_score(hi_h, hi_t)
    assert 0.0 <= a <= b <= 100.0


def test_concentration_score_vectorised_matches_scalar():
    h = np.array([0.0, 0.1, 0.3, 0.9, np.nan, np.nan])
    t = np.array([0.2, 0.9, 0.5, 1.0, 0.7, np.nan])
    got = concentration_score(h, t)
    assert isinstance(got, np.ndarray) and got.shape == (6,)
    for i in range(4):
        assert got[i] == pytest.approx(concentration_score(float(h[i]), float(t[i])), abs=TOL)
    # missing HHI: the share alone decides; both missing: unknown, not zero and not high
    assert got[4] == pytest.approx(concentration_score(0.0, 0.7), abs=TOL)
    assert math.isnan(got[5])
    assert concentration_score(None, 0.3) == pytest.approx(25.0)
    assert isinstance(concentration_score(0.2, 0.3), float)
    s = concentration_score(pd.Series([0.1, 0.5]), pd.Series([0.2, 0.6]))
    assert np.shape(s) == (2,)


def test_concentration_score_rejects_points_scale():
    with pytest.raises(ValueError, match="0-1 scale.*10,000"):
        concentration_score(3800, 0.5)
    with pytest.raises(ValueError, match="top_share"):
        concentration_score(0.3, 65)


# --------------------------------------------------------------------------- disruption


def test_disruption_anchors():
    assert disruption_score(0.0) == 0.0
    assert disruption_score(2.5) == 0.0  # upward moves are not a supply risk
    assert disruption_score(-1.75) == pytest.approx(10.0, abs=TOL)
    assert disruption_score(-3.5) == pytest.approx(60.0, abs=TOL)
    assert disruption_score(-7.0) == pytest.approx(100.0, abs=TOL)
    assert disruption_score(-50.0) == 100.0
    assert disruption_score(-4.0, threshold=4.0) == pytest.approx(60.0, abs=TOL)
    assert disruption_score(-8.0, threshold=4.0) == pytest.approx(100.0, abs=TOL)


def test_flagged_month_is_at_least_yellow():
    assert level_for(disruption_score(-3.5), DEFAULT_LEVEL_THRESHOLDS) == "yellow"
    assert level_for(disruption_score(-1.0), DEFAULT_LEVEL_THRESHOLDS) == "none"


@given(st.floats(-100, 100), st.floats(-100, 100), st.floats(0.5, 10))
def test_disruption_score_monotone_and_bounded(z1, z2, thr):
    lo, hi = sorted((z1, z2))
    assert 100.0 >= disruption_score(lo, thr) >= disruption_score(hi, thr) >= 0.0


def test_disruption_score_vector_and_missing():
    got = disruption_score(np.array([1.0, -3.5, np.nan]))
    assert got[0] == 0.0 and got[1] == pytest.approx(60.0) and math.isnan(got[2])
    assert math.isnan(disruption_score(None))
    with pytest.raises(ValueError, match="threshold"):
        disruption_score(-1.0, threshold=0)


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize(
    "score, level",
    [
        (0.0, "none"),
        (24.999, "none"),
        (25.0, "blue"),
        (49.999, "blue"),
        (50.0, "yellow"),
        (69.999, "yellow"),
        (70.0, "orange"),
        (84.999, "orange"),
        (85.0, "red"),
        (100.0, "red"),
        (None, "none"),
        (float("nan"), "none"),
    ],
)
def test_levels_at_boundaries(score, level):
    assert level_for(score, DEFAULT_LEVEL_THRESHOLDS) == level


def test_custom_thresholds_and_equal_thresholds():
    th = {"blue": 10, "yellow": 20, "orange": 20, "red": 90}
    assert level_for(20, th) == "orange"
    assert level_for(19.9, th) == "blue"


@pytest.mark.parametrize(
    "thresholds, match",
    [
        ({"blue": 1, "yellow": 2, "orange": 3}, "'red'"),
        ({"blue": 1, "yellow": 2, "orange": 3, "red": 4, "purple": 5}, "'purple'"),
        ({"blue": 30, "yellow": 20, "orange": 70, "red": 85}, "'yellow'"),
        ({"blue": "x", "yellow": 20, "orange": 70, "red": 85}, "'blue'"),
    ],
)
def test_bad_thresholds(thresholds, match):
    with pytest.raises(ValueError, match=match):
        level_for(50, thresholds)


def test_level_index():
    assert [level_index(lv) for lv in LEVELS] == [0, 1, 2, 3, 4]
    assert level_index("red") > level_index("orange") > level_index("none")
    with pytest.raises(ValueError, match="purple"):
        level_index("purple")


# --------------------------------------------------------------------------- node / chain


def test_node_score_is_max_of_available():
    assert node_score({"concentration": 72.0, "disruption": 15.0}) == 72.0
    assert node_score({"concentration": None, "disruption": 15.0}) == 15.0
    assert node_score({"concentration": float("nan"), "disruption": 15.0}) == 15.0
    assert node_score({"concentration": None, "disruption": None}) is None
    assert node_score({}) is None
    with pytest.raises(ValueError, match="'disruption'"):
        node_score({"disruption": 120.0})


@given(st.dictionaries(st.sampled_from(["c", "d", "e", "f"]), score_or_none, max_size=4), st.sampled_from(["x", "y"]))
def test_missing_dimension_never_raises_node_score(dims, extra):
    before = node_score(dims)
    after = node_score({**dims, extra: None})
    assert after == before


def test_chain_score_hand_examples():
    # weighted mean (3*40 + 1*80)/4 = 50; link = max(40, 80/3) = 40 -> 50
    assert chain_score([40.0, 80.0], [3.0, 1.0]) == pytest.approx(50.0)
    # critical node at high risk drives the chain: mean 33.3, link 90
    assert chain_score([90.0, 5.0, 5.0], [3.0, 1.0, 1.0]) == pytest.approx(90.0)
    # equal weights: the chain is as bad as its worst node
    assert chain_score([10.0, 70.0, 30.0], [1, 1, 1]) == pytest.approx(70.0)


def test_chain_score_missing_nodes_are_ignored_not_risk():
    assert chain_score([0.0, None, 0.0], [1.0, 5.0, 1.0]) == 0.0
    assert chain_score([None, None], [1.0, 1.0]) is None
    assert chain_score([float("nan"), 20.0], [1.0, 1.0]) == pytest.approx(20.0)
    # w_max is over all nodes: the missing critical node does not inflate the others'
    # relative criticality (mean 40, link 80 * 1/4 = 20 -> 40, not 80)
    assert chain_score([None, 80.0, 0.0], [4.0, 1.0, 1.0]) == pytest.approx(40.0)
    # only zero-weight nodes have data: nothing that counts is known
    assert chain_score([50.0, None], [0.0, 1.0]) is None


@given(st.lists(st.tuples(score_or_none, st.floats(0.0, 10.0)), min_size=1, max_size=8))
def test_chain_score_bounded_by_available_nodes(pairs):
    scores = [s for s, _ in pairs]
    weights = [w for _, w in pairs]
    if max(weights) <= 0:
        with pytest.raises(ValueError):
            chain_score(scores, weights)
        return
    got = chain_score(scores, weights)
    avail = [s for s, w in pairs if s is not None and w > 0]
    if not avail:
        assert got is None
        return
    assert got is not None
    assert 0.0 <= got <= max(avail) + TOL
    assert got >= min(avail) - TOL


def test_chain_score_validation():
    with pytest.raises(ValueError, match="2 entries but weights has 1"):
        chain_score([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        chain_score([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="positive"):
        chain_score([1.0], [0.0])
    with pytest.raises(ValueError, match=r"node_scores\[0\]"):
        chain_score([101.0], [1.0])


# --------------------------------------------------------------------------- real data end to end

MCS2024 = USGS / "mcs2024_world"


@pytest.mark.parametrize(
    "code, column, level",
    [("galli", "Prod_kg_est_2023", "red"), ("cobal", "Prod_t_est_2023", "orange")],
)
def test_usgs_world_production_levels(code, column, level):
    raw = pd.read_csv(MCS2024 / f"mcs2024-{code}_world.csv", encoding="utf-8-sig", dtype=str)
    raw = raw[raw["Country"].notna() & ~raw["Country"].str.strip().str.startswith(("World total", "Other countries"))]
    flows = pd.DataFrame(
        {"reporter": "WORLD", "product": code, "period": 2023, "partner": raw["Country"].str.strip(),
         "value": pd.to_numeric(raw[column].str.replace(",", ""), errors="coerce")}
    ).dropna(subset=["value"])
    row = concentration_table(flows).iloc[0]
    score = concentration_score(row["hhi"], row["top_share"])
    assert level_for(score, DEFAULT_LEVEL_THRESHOLDS) == level
