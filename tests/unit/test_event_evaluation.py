"""Scoring of event mapping (indicators/event_evaluation.py) and the pre-registered list."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from indicators.event_evaluation import lead_time_days, median_lead_days, score_mapping
from monitor.cli.events import evaluate_file
from monitor.collect.event_files import EventFileError

PREREGISTERED = Path(__file__).parents[2] / "benchmarks" / "events" / "preregistered_events.csv"


def test_recall_counts_pairs_and_controls_only_add_false_matches():
    expected = {"a": {"x/1", "x/2"}, "b": {"x/3"}, "control": set()}
    matched = {"a": {"x/1"}, "b": {"x/3", "x/9"}, "control": {"x/4"}}
    score = score_mapping(expected, matched)
    assert score.recall == pytest.approx(2 / 3)
    assert score.missed == (("a", "x/2"),)
    assert score.false == (("b", "x/9"), ("control", "x/4"))
    assert score.false_per_100_events == pytest.approx(200 / 3)


def test_lead_time_runs_to_the_end_of_the_trade_effect_month():
    # Ga/Ge: announced 3 Jul 2023, trade data showed the fall in August 2023
    assert lead_time_days(date(2023, 7, 3), date(2023, 8, 1)) == 59
    assert median_lead_days([(date(2023, 7, 3), date(2023, 8, 1)), (date(2023, 10, 20), date(2023, 12, 1)),
                             (date(2019, 8, 30), date(2020, 1, 1))]) == 72
    assert median_lead_days([]) is None


def test_preregistered_list_maps_with_recall_of_at_least_0_8(catalog):
    doc = evaluate_file(PREREGISTERED, catalog)
    assert doc["targets"] >= 20 and doc["controls"] >= 3
    assert doc["recall"] >= 0.8
    assert doc["median_lead_days"] > 0


def test_an_expected_node_outside_the_catalog_is_refused(tmp_path, catalog):
    bad = tmp_path / "pre.csv"
    bad.write_text("id,role,title,issuer,kind,announced,expected_nodes\n"
                   "a,target,gallium rule,CHN,licensing,2023-07-03,critical-minerals/galium\n", encoding="utf-8")
    with pytest.raises(EventFileError, match=r"row 2: expected node 'critical-minerals/galium' is not in the catalog"):
        evaluate_file(bad, catalog)
