"""Propagation along depends_on, the weakest-link floor, and level hysteresis."""

from __future__ import annotations

import pytest

from indicators.scoring import (
    DEFAULT_LEVEL_THRESHOLDS,
    apply_hysteresis,
    level_for,
    propagate_along_dependencies,
    weakest_link_floor,
)


@pytest.mark.parametrize(
    ("scores", "edges", "factor", "expected"),
    [
        # a red upstream node lifts its dependant, and less so the next hop
        ({"ore": 90.0, "refining": 10.0, "cells": 5.0}, {"refining": ["ore"], "cells": ["refining"]}, 0.8,
         {"ore": 90.0, "refining": 72.0, "cells": 57.6}),
        # a node riskier than its inputs keeps its own score
        ({"ore": 30.0, "refining": 80.0}, {"refining": ["ore"]}, 0.8, {"ore": 30.0, "refining": 80.0}),
        # the riskiest of several inputs counts
        ({"a": 50.0, "b": 95.0, "c": 0.0}, {"c": ["a", "b"]}, 0.5, {"a": 50.0, "b": 95.0, "c": 47.5}),
        # factor 0 switches propagation off
        ({"a": 100.0, "b": 0.0}, {"b": ["a"]}, 0.0, {"a": 100.0, "b": 0.0}),
        # missing own data: inherited risk shows, missing stays missing without risky inputs
        ({"a": 90.0, "b": None, "c": None}, {"b": ["a"]}, 0.8, {"a": 90.0, "b": 72.0, "c": None}),
        # order of the mapping does not matter (downstream listed first)
        ({"cells": 0.0, "ore": 100.0}, {"cells": ["ore"]}, 0.8, {"cells": 80.0, "ore": 100.0}),
    ],
)
def test_propagation(scores, edges, factor, expected):
    result = propagate_along_dependencies(scores, edges, factor)
    assert result.keys() == expected.keys()
    for node, value in expected.items():
        assert result[node] == (pytest.approx(value) if value is not None else None)


def test_propagation_rejects_cycles_and_bad_factor():
    with pytest.raises(ValueError, match="cycle"):
        propagate_along_dependencies({"a": 1.0, "b": 2.0}, {"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match="factor"):
        propagate_along_dependencies({"a": 1.0}, {}, factor=1.5)


@pytest.mark.parametrize(
    ("score", "levels", "criticalities", "expected"),
    [
        (40.0, ["red", "blue"], [0.9, 0.5], 70.0),    # critical node at red: at least orange
        (40.0, ["red", "blue"], [0.5, 0.9], 40.0),    # the red node is not critical enough
        (90.0, ["red"], [1.0], 90.0),                 # already above the floor
        (None, ["red"], [1.0], 70.0),
        (40.0, ["orange", "blue"], [1.0, 1.0], 40.0),  # orange is not red
    ],
)
def test_weakest_link_floor(score, levels, criticalities, expected):
    assert weakest_link_floor(score, levels, criticalities, DEFAULT_LEVEL_THRESHOLDS, 0.8) == expected
    if expected is not None and expected != score:
        assert level_for(expected, DEFAULT_LEVEL_THRESHOLDS) == "orange"


@pytest.mark.parametrize(
    ("raw_sequence", "runs_to_fall", "reported"),
    [
        # rises at once, falls only after 2 consecutive runs below
        (["blue", "red", "yellow", "yellow", "yellow"], 2, ["blue", "red", "red", "yellow", "yellow"]),
        # a single dip does not lower the level; the count restarts after it
        (["red", "orange", "red", "orange", "orange"], 2, ["red", "red", "red", "red", "orange"]),
        # no hysteresis with runs_to_fall = 1
        (["red", "blue", "red"], 1, ["red", "blue", "red"]),
        # falls straight to the raw level once allowed
        (["red", "none", "none", "none"], 3, ["red", "red", "red", "none"]),
        # a rise during the wait resets it
        (["orange", "blue", "red", "blue", "blue"], 2, ["orange", "orange", "red", "red", "blue"]),
    ],
)
def test_hysteresis_sequences(raw_sequence, runs_to_fall, reported):
    level, below, seen = None, 0, []
    for raw in raw_sequence:
        level, below = apply_hysteresis(raw, level, below, runs_to_fall)
        seen.append(level)
    assert seen == reported


def test_hysteresis_rejects_zero_runs():
    with pytest.raises(ValueError, match="runs_to_fall"):
        apply_hysteresis("red", None, 0, 0)
