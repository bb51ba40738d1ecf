"""Monthly totals from bilateral rows: the World row where given, else the partners, never both."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.trade_totals import monthly_totals


def rows(*items: tuple[str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"product": p, "partner": pa, "period": pd.Timestamp(t), "value": v}
                         for p, pa, t, v in items])


def test_world_row_is_the_total_and_partners_fill_months_without_one():
    frame = rows(
        # Comtrade 2023 (real: USA imports of HS 8105, World and China): World given
        ("8105", "WORLD", "2023-01-01", 394172524.0), ("8105", "CHN", "2023-01-01", 6998425.0),
        # 2024 only partner rows (e.g. mirror data): their sum, the unallocated _X included
        ("8105", "CHN", "2024-01-01", 100.0), ("8105", "_X", "2024-01-01", 5.0),
        ("8105", "EXT_EU27_2020", "2024-01-01", 999.0),  # overlaps members: never added
        ("2846", "WORLD", "2024-01-01", 50.0), ("2846", "CHN", "2024-01-01", 40.0),
    )
    totals = monthly_totals(frame)
    assert totals[pd.Timestamp("2023-01-01")] == 394172524.0
    assert totals[pd.Timestamp("2024-01-01")] == 105.0 + 50.0
    assert monthly_totals(frame.iloc[0:0]).empty


@given(st.lists(st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=8))
def test_adding_a_consistent_world_row_does_not_change_the_total(values):
    partners = rows(*(("8542", f"P{i}", "2024-03-01", v) for i, v in enumerate(values)))
    with_world = pd.concat([partners, rows(("8542", "WORLD", "2024-03-01", float(sum(values))))])
    assert monthly_totals(with_world).iloc[0] == pytest.approx(monthly_totals(partners).iloc[0], rel=1e-12)
