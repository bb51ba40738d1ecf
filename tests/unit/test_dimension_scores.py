"""Scores of the exposure dimensions (indicators/dimension_scores.py): tables, edges, missing input, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.dimension_scores import (
    LOGISTICS_PRESSURE_ANCHORS,
    NET_IMPORT_RATIO_ANCHORS,
    PARTNER_RISK_ANCHORS,
    UNIT_VALUE_RATIO_ANCHORS,
    anchored_score,
    check_anchors,
    import_dependence_score,
    logistics_pressure_score,
    net_import_ratio,
    partner_risk_score,
    relative_weighted_hhi,
    unit_value_gap_score,
)
from indicators.scoring import DEFAULT_LEVEL_THRESHOLDS, HHI_POINT_ANCHORS, level_for


def _level(score: float) -> str:
    return level_for(score, DEFAULT_LEVEL_THRESHOLDS)


@pytest.mark.parametrize(("imports", "exports", "expected"), [
    (100.0, 0.0, 1.0),
    (0.0, 100.0, -1.0),
    (50.0, 50.0, 0.0),
    (300.0, 100.0, 0.5),        # imports three times exports
    (0.0, 0.0, None),           # no trade: unknown, not "balanced"
    (None, 10.0, None),
    (float("nan"), 10.0, None),
])
def test_net_import_ratio_table(imports, exports, expected):
    result = net_import_ratio(imports, exports)
    if expected is None:
        assert math.isnan(result)
    else:
        assert result == pytest.approx(expected)


def test_net_import_ratio_rejects_negative_values():
    with pytest.raises(ValueError, match=">= 0"):
        net_import_ratio(-1.0, 3.0)


@pytest.mark.parametrize(("ratio", "score", "level"), [
    (-1.0, 0.0, "none"),        # pure exporter
    (0.0, 25.0, "blue"),        # imports = exports: the EU test's threshold
    (0.3, 37.5, "blue"),
    (0.6, 50.0, "yellow"),      # imports four times exports
    (1.0, 70.0, "orange"),      # imports only: grave, never red on its own
])
def test_import_dependence_score_table(ratio, score, level):
    assert import_dependence_score(ratio) == pytest.approx(score)
    assert _level(import_dependence_score(ratio)) == level


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_inputs_give_nan_for_every_dimension(missing):
    for function in (import_dependence_score, partner_risk_score, logistics_pressure_score, unit_value_gap_score):
        assert math.isnan(function(missing)), function.__name__


def test_import_dependence_rejects_a_ratio_outside_minus_one_to_one():
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        import_dependence_score(1.5)


@pytest.mark.parametrize(("hhi_weighted", "reference", "relative"), [
    (0.5, 5.0, 0.1),            # HHI 0.1 of average-governance suppliers = plain HHI 0.1
    (1.0, 5.0, 0.2),
    (8.4 * 0.81, 5.0, 8.4 * 0.81 / 5.0),   # one supplier at 90 % with risk 8.4 (poor governance)
    (2.0, 4.0, 0.5),
])
def test_relative_weighted_hhi_table(hhi_weighted, reference, relative):
    assert relative_weighted_hhi(hhi_weighted, reference) == pytest.approx(relative)


@pytest.mark.parametrize("reference", [0.0, -1.0, float("nan")])
def test_relative_weighted_hhi_rejects_a_non_positive_reference(reference):
    with pytest.raises(ValueError, match="reference_score"):
        relative_weighted_hhi(1.0, reference)


@pytest.mark.parametrize(("relative", "score", "level"), [
    (0.0, 0.0, "none"),
    (0.10, 25.0, "blue"),       # HHI 1,000 points of average suppliers
    (0.18, 50.0, "yellow"),     # 1,800 points: highly concentrated
    (0.40, 70.0, "orange"),     # the EU foreign-dependency HHI 0.4
    (1.0, 100.0, "red"),
    (2.0, 100.0, "red"),        # a single supplier of the poorest governance: capped
])
def test_partner_risk_score_table(relative, score, level):
    assert partner_risk_score(relative) == pytest.approx(score)
    assert _level(score) == level


def test_partner_risk_anchors_are_the_concentration_hhi_anchors():
    assert [(round(x * 10_000), y) for x, y in PARTNER_RISK_ANCHORS] == list(HHI_POINT_ANCHORS)


@pytest.mark.parametrize(("pressure", "score", "level"), [
    (-1.5, 0.0, "none"),        # below-average pressure is no risk
    (0.0, 0.0, "none"),
    (1.63, 40.75, "blue"),      # GSCPI April 2011 (Tohoku)
    (3.39, 75.85, "orange"),    # GSCPI April 2020
    (4.49, 92.35, "red"),       # GSCPI December 2021, the peak
    (7.0, 100.0, "red"),
])
def test_logistics_pressure_score_table(pressure, score, level):
    assert logistics_pressure_score(pressure) == pytest.approx(score)
    assert _level(score) == level


@pytest.mark.parametrize(("ratio", "score", "level"), [
    (2.0, 0.0, "none"),         # exports dearer than imports
    (1.15, 0.0, "none"),
    (1.0, 12.5, "none"),        # inside the +/-15 % band of similar unit values
    (0.85, 25.0, "blue"),       # vertical trade: the low end
    (0.5, 45.0, "blue"),
    (0.25, 52.5, "yellow"),
    (0.0, 60.0, "yellow"),      # capped below orange
])
def test_unit_value_gap_score_table(ratio, score, level):
    assert unit_value_gap_score(ratio) == pytest.approx(score)
    assert _level(score) == level


def test_unit_value_gap_rejects_negative_ratios():
    with pytest.raises(ValueError, match=">= 0"):
        unit_value_gap_score(-0.1)


def test_scores_vectorise_and_keep_nan_in_place():
    out = logistics_pressure_score([0.0, np.nan, 2.0])
    assert out[0] == 0.0 and math.isnan(out[1]) and out[2] == 50.0


@pytest.mark.parametrize(("anchors", "direction", "message"), [
    ([[0, 10]], "increasing", "at least two"),
    ([[0, 10], [0, 20]], "increasing", "increase strictly"),
    ([[0, 10], [1, 5]], "increasing", "non-decreasing"),
    ([[0, 10], [1, 20]], "decreasing", "non-increasing"),
    ([[0, 10], [1, 120]], "increasing", r"outside \[0, 100\]"),
    ([[0, float("inf")], [1, 20]], "increasing", "finite"),
    (["ab", "cd"], "increasing", "pairs"),
])
def test_check_anchors_names_the_problem(anchors, direction, message):
    with pytest.raises(ValueError, match=message):
        check_anchors(anchors, "dimensions.x.anchors", direction)


def test_configured_anchors_change_the_map():
    assert import_dependence_score(1.0, [(-1, 0), (1, 100)]) == 100.0
    assert anchored_score(0.5, [(0, 0), (1, 100)]) == 50.0


finite = st.floats(allow_nan=False, allow_infinity=False)
_INCREASING = [
    (import_dependence_score, st.floats(-1, 1), NET_IMPORT_RATIO_ANCHORS),
    (partner_risk_score, st.floats(0, 5), PARTNER_RISK_ANCHORS),
    (logistics_pressure_score, st.floats(-10, 10), LOGISTICS_PRESSURE_ANCHORS),
]


@pytest.mark.parametrize(("function", "values", "anchors"), _INCREASING, ids=lambda f: getattr(f, "__name__", ""))
@given(data=st.data())
def test_increasing_dimensions_are_monotone_and_bounded(function, values, anchors, data):
    a, b = sorted((data.draw(values), data.draw(values)))
    low, high = function(a), function(b)
    assert 0.0 <= low <= high <= 100.0
    assert anchors[0][1] <= low and high <= anchors[-1][1]


@given(st.floats(0, 10), st.floats(0, 10))
def test_unit_value_gap_falls_as_exports_get_dearer(a, b):
    low_ratio, high_ratio = sorted((a, b))
    assert 0.0 <= unit_value_gap_score(high_ratio) <= unit_value_gap_score(low_ratio) <= 60.0
    assert unit_value_gap_score(high_ratio) >= UNIT_VALUE_RATIO_ANCHORS[-1][1]


@given(st.floats(0, 1e12), st.floats(0, 1e12), st.floats(0, 1e12))
def test_more_imports_never_lower_the_dependence_score(imports, extra, exports):
    before = net_import_ratio(imports, exports)
    after = net_import_ratio(imports + extra, exports)
    if not math.isnan(before):
        assert import_dependence_score(after) >= import_dependence_score(before) - 1e-9


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0, 100)), min_size=2, max_size=6, unique_by=lambda p: p[0]),
       finite)
def test_any_valid_increasing_map_stays_within_its_knots(pairs, x):
    anchors = sorted(pairs)
    scores = sorted(y for _, y in anchors)
    anchors = [(px, y) for (px, _), y in zip(anchors, scores)]
    check_anchors(anchors)
    assert scores[0] <= anchored_score(x, anchors) <= scores[-1]
