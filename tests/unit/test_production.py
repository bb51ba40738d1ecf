"""Tests for indicators.production: the pure parser of USGS MCS world tables."""

from __future__ import annotations

import pandas as pd
import pytest

from indicators.production import (
    USGS_OTHER_COUNTRIES,
    usgs_production_fields,
    usgs_world_production,
)
from tests.shared_data import read_usgs_world


def mcs(rows, header=("Source", "Country", "Type", "Prod_t_2022", "Prod_t_est_2023", "Prod_notes")):
    return pd.DataFrame(rows, columns=list(header), dtype=str)


def test_fields_units_years_and_estimates():
    raw = mcs([], header=("Source", "Country", "Type", "Prod_kg_2022", "Prod_kg_Est_2023", "Cap_kg_2023", "Reserves_kg"))
    got = usgs_production_fields(raw).to_dict("records")
    assert got == [{"field": "Prod_kg_2022", "unit": "kg", "year": 2022, "estimated": False},
                   {"field": "Prod_kg_Est_2023", "unit": "kg", "year": 2023, "estimated": True}]


def test_parses_numbers_codes_and_footnotes():
    raw = mcs([
        ("MCS2024", "United States", "Mine", "W", "W", ""),
        ("MCS2024", "Chinae", "Mine", "1,200", "e1,500", ""),
        ("MCS2024", "New Caledonia11", "Mine", "30", "NA", ""),
        ("MCS2024", "United\xa0States1", "Mine", "XX", "<100", ""),
        ("MCS2024", "Other countries4", "Mine", "70", "80", ""),
        ("MCS2024", "World total (rounded)", "Mine", "1,300", "1,600", ""),
        (None, None, None, None, None, None),
    ])
    out = usgs_world_production(raw, "x", drop_missing=False)
    assert set(out["reporter"]) == {"WORLD"} and set(out["product"]) == {"x"}
    y23 = out[out["period"] == 2023].set_index("partner")
    assert y23.loc["China", "value"] == 1500.0 and y23.loc["China", "estimated"]
    assert y23.loc["United States", "flag"].tolist() == ["withheld", "text"]  # "W" and "<100"
    assert y23.loc["New Caledonia", "flag"] == "not_available"
    assert y23.loc[USGS_OTHER_COUNTRIES, "value"] == 80.0
    assert "World total (rounded)" not in set(out["partner"])
    y22 = out[out["period"] == 2022]
    assert y22["unit"].unique().tolist() == ["t"] and not y22["estimated"].any()
    kept = usgs_world_production(raw, "x")
    # China x2, New Caledonia 2022, Other countries x2; nothing from W / NA / XX / "<100"
    assert kept["value"].notna().all() and len(kept) == 5
    assert usgs_world_production(raw, "x", include_other=False)["partner"].ne(USGS_OTHER_COUNTRIES).all()


@pytest.mark.parametrize(
    ("raw", "kwargs", "message"),
    [
        (pd.DataFrame({"Nation": ["A"], "Prod_t_2022": ["1"]}), {}, "no 'Country' column"),
        (mcs([], header=("Source", "Country", "Type", "Reserves_t")), {}, "no production column"),
        (mcs([]), {"field": "Prod_t_2021"}, "field 'Prod_t_2021' not found; production fields are Prod_t_2022"),
        (mcs([], header=("Source", "Country", "Type", "Prod_t_2023", "Prod_Sponge_t_2023")), {}, "pass field="),
        (mcs([("S", "A", "metal", "1", "1", ""), ("S", "A", "ferro", "1", "1", "")]), {}, "2 production types"),
        (mcs([("S", "A", "metal", "1", "1", "")]), {"measure": "ore"}, "measure 'ore' not in this file"),
    ],
)
def test_errors_name_the_problem(raw, kwargs, message):
    with pytest.raises(ValueError, match=message):
        usgs_world_production(raw, "x", **kwargs)


def test_measure_selects_one_type():
    raw = mcs([("S", "A", "metal", "1", "2", ""), ("S", "A", "ferro", "5", "6", "")])
    out = usgs_world_production(raw, "si", measure="ferro")
    assert out["value"].tolist() == [5.0, 6.0] and set(out["measure"]) == {"ferro"}


def test_every_2024_world_file_parses_or_says_why_not():
    """All 77 MCS 2024 world files parse, ask for field=/measure= by name, or have no production."""
    from tests.shared_data import USGS

    parsed = asked = 0
    for path in sorted((USGS / "mcs2024_world").glob("*.csv")):
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        try:
            out = usgs_world_production(raw, path.stem)
        except ValueError as err:
            assert any(text in str(err) for text in ("pass field=", "pass measure=", "no production column")), (
                path.name, err)
            asked += 1
            continue
        parsed += 1
        assert not out["partner"].str.contains(r"\d$").any(), path.name  # footnote digits removed
        assert (out["value"] >= 0).all(), path.name
    assert parsed >= 55 and parsed + asked == 77


def test_lithium_2023_us_withheld_is_flagged():
    out = usgs_world_production(read_usgs_world("mcs2024", "lithi"), "lithium", drop_missing=False)
    us = out[(out["partner"] == "United States") & (out["period"] == 2023)].iloc[0]
    assert us["flag"] == "withheld" and pd.isna(us["value"])
    assert us["unit"] == "t" and us["measure"] == "Mine production, lithium content"
