"""Bounds of the top share and the HHI when part of a World total is unallocated (#20).

The property: however the unallocated remainder is spread (onto named partners, onto
new ones, in any split), the true top share and HHI stay inside the bounds.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.concentration import (
    UNALLOCATED,
    concentration_bounds,
    concentration_table,
    residual_from_totals,
)


def _bounded(named: dict[str, float], world: float) -> pd.Series:
    rows = [{"k": "g", "partner": p, "value": v} for p, v in named.items()]
    rows.append({"k": "g", "partner": "WORLD", "value": world})
    flows = residual_from_totals(pd.DataFrame(rows), keys=["k"], residual=UNALLOCATED)
    table = concentration_table(flows, keys=["k"], residual_partners=[UNALLOCATED])
    return concentration_bounds(table).iloc[0]


@settings(max_examples=300, deadline=None)
@given(
    named=st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=6),
    gap=st.floats(min_value=0.0, max_value=1e6),
    weights=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=10),
    onto_named=st.lists(st.booleans(), min_size=1, max_size=10),
)
def test_bounds_contain_every_distribution_of_the_remainder(named, gap, weights, onto_named):
    values = {f"P{i}": v for i, v in enumerate(named)}
    world = sum(values.values()) + gap
    if world <= 0 or max(values.values()) <= 0:
        return
    row = _bounded(values, world)
    # Spread the gap: each weight's part goes to a named partner or to a new, unnamed one.
    true = dict(values)
    total_weight = sum(weights)
    for i, w in enumerate(weights):
        part = gap * (w / total_weight if total_weight > 0 else (1.0 if i == 0 else 0.0))
        key = f"P{i % len(values)}" if onto_named[i % len(onto_named)] else f"NEW{i}"
        true[key] = true.get(key, 0.0) + part
    shares = [v / world for v in true.values()]
    tol = 1e-9
    assert row["top_share"] - tol <= max(shares) <= row["top_share_upper"] + tol
    assert row["hhi"] - tol <= sum(s * s for s in shares) <= row["hhi_upper"] + tol
    assert math.isclose(row["partner_coverage"] + row["unallocated_share"], 1.0)


def test_partner_list_with_one_percent_of_the_world_gives_wide_bounds_not_a_monopoly():
    # The shape of the real Comtrade extract: World plus USA, USA ~1 % of China's HS 8105 imports.
    row = _bounded({"USA": 7.5e6}, 7.5e8)
    assert row["top_share"] == pytest.approx(0.01)
    assert row["partner_coverage"] == pytest.approx(0.01)
    assert row["top_share_upper"] == pytest.approx(1.0)
    assert row["hhi"] == pytest.approx(1e-4)


def test_without_a_world_row_the_named_partners_are_the_total():
    flows = pd.DataFrame({"k": ["g", "g"], "partner": ["AUS", "CHL"], "value": [3.0, 1.0]})
    row = concentration_bounds(concentration_table(flows, keys=["k"])).iloc[0]
    assert row["partner_coverage"] == 1.0
    assert row["top_share"] == row["top_share_upper"] == pytest.approx(0.75)
    assert row["hhi"] == row["hhi_upper"] == pytest.approx(0.625)


def test_named_partners_above_the_world_row_leave_nothing_unallocated():
    # Published partner rows can add up to slightly more than the World row (revisions).
    row = _bounded({"AUS": 60.0, "CHL": 45.0}, 100.0)
    assert row["unallocated_share"] == 0.0
    assert row["partner_coverage"] == 1.0
