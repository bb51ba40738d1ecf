"""The concentration dimension measured for a whole partition at once
(:func:`monitor.assess.assessment.measure_partition_concentration`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.assess.assessment import measure_partition_concentration
from monitor.records import MIRROR, REPORTED

AS_OF = date(2025, 12, 1)


def flows(rows):
    """(partner, period, value[, provenance[, estimate_flags]]) rows of HS 2846."""
    full = [(*r, *(REPORTED, None)[len(r) - 3:]) for r in rows]
    return pd.DataFrame([(p, "2846", pd.Timestamp(t), v, prov, flags) for p, t, v, prov, flags in full],
                        columns=["partner", "product", "period", "value", "provenance", "estimate_flags"])


NODE = flows([
    ("WORLD", "2025-11-01", 100.0), ("CHN", "2025-11-01", 50.0), ("USA", "2025-11-01", 30.0, REPORTED, "provisional"),
    ("WORLD", "2025-12-01", 100.0), ("CHN", "2025-12-01", 50.0, MIRROR), ("USA", "2025-12-01", 30.0),
    ("AUS", "2024-11-01", 1e6),  # before the 12-month window: not counted
])


def test_shares_are_of_the_world_total_with_bounds_top_partners_and_provenance():
    score, details, driver = measure_partition_concentration({"n": NODE}, AS_OF, 12, 0.5)["n"]
    assert score is not None
    # named partners: CHN 100, USA 60 of World 200 -> coverage 0.8, 0.2 unallocated
    assert details["partner_coverage"] == pytest.approx(0.8)
    assert details["top_partner"] == "CHN" and details["top_share_bounds"] == pytest.approx([0.5, 0.7])
    assert details["hhi_bounds"] == pytest.approx([0.5**2 + 0.3**2, 0.5**2 + 0.3**2 + 2 * 0.5 * 0.2 + 0.2**2])
    assert details["total_basis"] == "world_total"
    assert details["top_partners"] == [{"partner": "CHN", "share": pytest.approx(0.5)},
                                       {"partner": "USA", "share": pytest.approx(0.3)}]
    # of the window's World total (200; the World rows and the partner rows under them are not
    # counted twice): 50 mirrored; that 50 and the provisional 30 estimated
    assert details["mirror_share"] == 0.25 and details["mirror_periods"] == ["2025-12"]
    assert details["mirror_partners"] == ["CHN"]
    assert details["estimated_share"] == 0.4
    assert details["estimated_periods"] == ["2025-11", "2025-12"]
    assert details["estimate_kinds"] == ["provisional", "mirror"]
    assert "50%–70%" in driver[1] and "named partners cover 80%" in driver[1]


def test_below_min_coverage_only_the_bounds_are_stated():
    score, details, driver = measure_partition_concentration({"n": NODE}, AS_OF, 12, 0.9)["n"]
    assert score is None and "partner coverage 80%" in details["missing"]
    assert "hhi" not in details and "top_share" not in details and "top_partner" not in details
    assert details["largest_named_partner"] == "CHN" and details["hhi_bounds"][0] == pytest.approx(0.34)
    assert driver[0] == 0.0 and driver[1].startswith("concentration unknown")


def test_nodes_without_imports_in_the_window_or_without_a_date_are_absent():
    old = NODE[NODE["period"] < pd.Timestamp("2025-01-01")]
    assert measure_partition_concentration({"old": old, "empty": NODE.iloc[0:0]}, AS_OF, 12, 0.5) == {}
    assert measure_partition_concentration({"n": NODE}, None, 12, 0.5) == {}


def random_node(rng: np.random.Generator) -> pd.DataFrame:
    n = int(rng.integers(1, 60))
    return pd.DataFrame({
        "partner": rng.choice(["WORLD", "CHN", "USA", "AUS", "DEU", "_X", "EU"], n),
        "product": rng.choice(["2846", "8105", "280530"], n),
        "period": pd.to_datetime(rng.choice(["2024-06-01", "2025-01-01", "2025-06-01", "2025-12-01"], n)),
        "value": rng.gamma(0.5, 1e6, n),
        "provenance": rng.choice([REPORTED, MIRROR], n, p=[0.8, 0.2]),
        "estimate_flags": rng.choice(np.array([None, "provisional", "qty_estimated", "not_reported,confidential"],
                                              dtype=object), n),
    })


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_property_a_nodes_result_does_not_depend_on_its_partition(seed, n_nodes):
    """Partition size and neighbours change nothing, to the last bit (scores, bounds, shares, text)."""
    rng = np.random.default_rng(seed)
    frames = {f"n{i}": random_node(rng) for i in range(n_nodes)}
    together = measure_partition_concentration(frames, AS_OF, 12, 0.6)
    for node, frame in frames.items():
        alone = measure_partition_concentration({node: frame}, AS_OF, 12, 0.6)
        assert alone.get(node) == together.get(node)
