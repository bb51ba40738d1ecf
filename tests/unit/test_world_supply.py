"""The world-supply dimension as a pure function (monitor/assess/world_supply.py)."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from indicators.dimension_scores import world_supply_score
from indicators.scoring import concentration_score
from monitor.assess.world_supply import measure_world_supply, world_shares
from monitor.config.models import Node

STEM = "usgs.galli.primary"


def _node(*stems: str) -> Node:
    return Node.model_validate({
        "id": "gallium", "name": {"en": "Gallium", "zh": "镓"}, "stage": "upstream", "criticality": 0.9,
        "hs_codes": ["811292"],
        "world_supply": [{"series": s, "name": {"en": "primary gallium", "zh": "原生镓"}} for s in stems]})


def _observations(year: int, values: dict[str, float], stem: str = STEM, flags: dict[str, str] | None = None):
    flags = flags or {}
    return pd.DataFrame({"series_id": [f"{stem}.{c}" for c in values], "period": pd.Timestamp(year, 1, 1),
                         "value": list(values.values()), "estimate_flags": [flags.get(c) for c in values]})


WORLD = {"CHN": 980.0, "RUS": 10.0, "JPN": 5.0, "OTHERS": 5.0, "WORLD": 1000.0}


@pytest.mark.parametrize("home, home_share", [("USA", None), ("JPN", 0.005), ("CHN", 0.98)])
def test_score_is_world_concentration_less_home_output(home, home_share):
    score, details, driver = measure_world_supply(_node(STEM), {STEM: _observations(2023, WORLD)}, home,
                                                  date(2024, 6, 1), 5, 0.8)
    stage = details["stages"][0]
    assert stage["top_partner"] == "CHN" and stage["top_share"] == pytest.approx(0.98)
    assert stage["hhi"] == pytest.approx(0.98**2 + 0.01**2 + 0.005**2)
    expected = concentration_score(stage["hhi"], stage["top_share"]) * (1 - (home_share or 0.0))
    assert score == pytest.approx(expected)
    assert stage["home_share"] == (None if home_share is None else pytest.approx(home_share))
    # countries by name in each language; the ISO codes stay in the details
    assert "China 98% of world primary gallium output in 2023" in driver[1]
    assert "2023年中国占全球原生镓产量的 98%" in driver[2]
    home_en, home_zh = {"USA": ("United States", "美国"), "JPN": ("Japan", "日本"), "CHN": ("China", "中国")}[home]
    assert driver[1].endswith(f"{home_en}'s own output not listed" if home_share is None
                              else f"{home_en} produces {home_share:.0%}")
    assert home_zh in driver[2] and home not in driver[1] + driver[2]


def test_the_assessed_period_bounds_the_year_used():
    observed = pd.concat([_observations(2022, WORLD), _observations(2024, {"RUS": 600.0, "WORLD": 1000.0})])
    _, details, _ = measure_world_supply(_node(STEM), {STEM: observed}, "USA", date(2023, 12, 1), 5, 0.8)
    assert details["stages"][0]["year"] == 2022  # 2024 is after the assessed month


def test_low_coverage_of_the_world_total_gives_no_score():
    # Named producers account for 30 % of the World total: no score, and the reason says so.
    score, details, driver = measure_world_supply(
        _node(STEM), {STEM: _observations(2023, {"CHN": 300.0, "WORLD": 1000.0})}, "USA", date(2024, 1, 1), 5, 0.8)
    assert score is None and driver is None
    assert details["stages"][0]["gated"] and "missing" in details


def test_no_stored_output_and_stale_output_are_missing_not_safe():
    score, details, _ = measure_world_supply(_node(STEM), {}, "USA", date(2024, 1, 1), 5, 0.8)
    assert score is None and "no world output stored" in details["missing"]
    score, details, _ = measure_world_supply(_node(STEM), {STEM: _observations(2010, WORLD)}, "USA",
                                             date(2024, 1, 1), 5, 0.8)
    assert score is None and "older than 5 years" in details["missing"]


def test_the_node_takes_its_worst_stage_and_names_withheld_producers():
    other = "usgs.galli.refinery"
    observed = {STEM: _observations(2023, WORLD),
                other: _observations(2023, {"USA": 300.0, "DEU": 300.0, "WORLD": 1000.0, "OTHERS": 400.0},
                                     stem=other, flags={"WORLD": "confidential"})}
    score, details, driver = measure_world_supply(_node(other, STEM), observed, "USA", date(2024, 1, 1), 5, 0.5)
    scores = {s["series"]: s.get("score") for s in details["stages"]}
    assert score == max(scores.values()) == scores[STEM]
    refinery = next(s for s in details["stages"] if s["series"] == other)
    assert "confidential" in refinery["estimate_kinds"]


@pytest.mark.parametrize("concentration, home, expected", [
    (80.0, 0.0, 80.0), (80.0, 0.5, 40.0), (80.0, 1.0, 0.0), (80.0, None, 80.0), (80.0, math.nan, 80.0)])
def test_world_supply_score(concentration, home, expected):
    assert world_supply_score(concentration, home) == pytest.approx(expected)


def test_world_supply_score_of_unknown_concentration_is_unknown():
    assert math.isnan(world_supply_score(math.nan, 0.2))


def test_world_shares_are_of_the_world_total_latest_year_largest_stage():
    refinery = "usgs.galli.refinery"
    shares, basis = world_shares({
        STEM: pd.concat([_observations(2022, {"CHN": 500.0, "WORLD": 1000.0}), _observations(2023, WORLD)]),
        refinery: _observations(2023, {"RUS": 30.0, "CHN": 20.0, "WORLD": 100.0}, stem=refinery),
        "usgs.galli.plant": _observations(2023, {"JPN": 50.0}, stem="usgs.galli.plant"),  # no World total
        "usgs.galli.mine": None,
    })
    assert shares == pytest.approx({"CHN": 0.98, "RUS": 0.3, "JPN": 0.005})
    assert basis == [f"{STEM} 2023", f"{refinery} 2023"]


def test_a_stage_measures_the_same_whichever_stages_share_its_node():
    # The stages of a node are measured in one batched call: a stage's numbers must not
    # depend on its neighbours (nor on a missing or too-old neighbour).
    other = "usgs.galli.refinery"
    observations = {STEM: _observations(2023, WORLD, flags={"CHN": "estimated"}),
                    other: _observations(2023, {"CHN": 713.3, "JPN": 190.1, "KOR": 41.7, "WORLD": 987.0}, other),
                    "usgs.old": _observations(2010, WORLD, "usgs.old")}
    _, together, _ = measure_world_supply(_node(STEM, other, "usgs.old", "usgs.none"), observations, "JPN",
                                          date(2024, 6, 1), 5, 0.8)
    for index, stem in enumerate((STEM, other, "usgs.old", "usgs.none")):
        _, alone, _ = measure_world_supply(_node(stem), observations, "JPN", date(2024, 6, 1), 5, 0.8)
        assert together["stages"][index] == alone["stages"][0]
