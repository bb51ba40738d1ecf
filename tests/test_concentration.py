"""Tests for indicators.concentration: hand-computed cases, a naive reference, real USGS data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.concentration import (
    AGGREGATE_PARTNERS,
    CONCENTRATION_COLUMNS,
    concentration_table,
    partner_shares,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
MCS2024 = SHARED / "data" / "usgs_minerals" / "mcs2024_world"

TOL = 1e-12


def flows(rows, keys=("reporter", "product", "period")):
    return pd.DataFrame(rows, columns=[*keys, "partner", "value"])


# --------------------------------------------------------------------------- hand-computed


def test_shares_05_03_02_give_hhi_038():
    df = flows([("USA", "2805", 2023, p, v) for p, v in (("CHN", 50.0), ("AUS", 30.0), ("MMR", 20.0))])
    out = concentration_table(df)
    assert list(out.columns) == ["reporter", "product", "period", *CONCENTRATION_COLUMNS]
    row = out.iloc[0]
    assert row["total"] == pytest.approx(100.0, abs=TOL)
    assert row["n_partners"] == 3
    assert row["hhi"] == pytest.approx(0.38, abs=TOL)  # 0.25 + 0.09 + 0.04
    assert row["hhi_points"] == pytest.approx(3800.0, abs=1e-8)
    assert row["cr1"] == pytest.approx(0.5, abs=TOL)
    assert row["cr3"] == pytest.approx(1.0, abs=TOL)
    assert row["top_partner"] == "CHN"
    assert row["top_share"] == pytest.approx(0.5, abs=TOL)
    assert row["effective_n"] == pytest.approx(1 / 0.38, rel=1e-12)


def test_cr3_uses_three_largest_and_single_supplier_is_monopoly():
    df = flows(
        [("R", "p", 1, p, v) for p, v in (("A", 40), ("B", 25), ("C", 15), ("D", 12), ("E", 8))]
        + [("R", "q", 1, "Z", 7.0)]
    )
    out = concentration_table(df).set_index("product")
    assert out.loc["p", "cr3"] == pytest.approx(0.80, abs=TOL)
    assert out.loc["p", "hhi"] == pytest.approx(0.16 + 0.0625 + 0.0225 + 0.0144 + 0.0064, abs=TOL)
    assert out.loc["q", "hhi"] == 1.0 and out.loc["q", "effective_n"] == 1.0
    assert out.loc["q", "cr3"] == 1.0 and out.loc["q", "n_partners"] == 1


def test_aggregate_partner_rows_are_excluded():
    base = [("USA", "8105", 2022, p, v) for p, v in (("CHN", 60.0), ("COD", 30.0), ("FIN", 10.0))]
    noisy = base + [("USA", "8105", 2022, agg, 1e6) for agg in ("WORLD", "W00", "_X", "World", " world ")]
    a = concentration_table(flows(base))
    b = concentration_table(flows(noisy))
    pd.testing.assert_frame_equal(a, b)
    shares = partner_shares(flows(noisy))
    assert not shares["partner"].str.strip().str.upper().isin(AGGREGATE_PARTNERS).any()
    assert shares["share"].sum() == pytest.approx(1.0, abs=TOL)


def test_numeric_partner_code_zero_is_world():
    df = flows([("842", "2846", 2023, code, v) for code, v in ((156, 70.0), (0, 100.0), (36, 30.0))])
    row = concentration_table(df).iloc[0]
    assert row["total"] == 100.0
    assert row["top_partner"] == 156
    assert row["hhi"] == pytest.approx(0.49 + 0.09, abs=TOL)


def test_tie_break_is_partner_code_ascending():
    df = flows([("R", "p", 1, p, 5.0) for p in ("KOR", "JPN", "TWN")])
    assert concentration_table(df).iloc[0]["top_partner"] == "JPN"
    # same set in another row order: same answer
    assert concentration_table(df.iloc[::-1]).iloc[0]["top_partner"] == "JPN"
    num = flows([("R", "p", 1, p, 5.0) for p in (156, 36, 842)])
    assert concentration_table(num).iloc[0]["top_partner"] == 36  # numeric, not text order


def test_repeated_partner_rows_are_summed_and_zero_partners_not_counted():
    df = flows([("R", "p", 1, "A", 2.0), ("R", "p", 1, "A", 3.0), ("R", "p", 1, "B", 5.0), ("R", "p", 1, "C", 0.0)])
    shares = partner_shares(df)
    assert shares.set_index("partner")["value"].to_dict() == {"A": 5.0, "B": 5.0, "C": 0.0}
    row = concentration_table(df).iloc[0]
    assert row["n_partners"] == 2
    assert row["hhi"] == pytest.approx(0.5, abs=TOL)
    assert row["top_partner"] == "A"


def test_groups_with_zero_total_are_dropped():
    df = flows([("R", "p", 1, "A", 0.0), ("R", "p", 1, "WORLD", 9.0), ("R", "q", 1, "A", 1.0)])
    out = concentration_table(df)
    assert out["product"].tolist() == ["q"]


def test_empty_result_keeps_columns():
    out = concentration_table(flows([("R", "p", 1, "WORLD", 5.0)]))
    assert out.empty
    assert list(out.columns) == ["reporter", "product", "period", *CONCENTRATION_COLUMNS]


@pytest.mark.parametrize(
    "keys",
    [("chain", "node", "period"), ("reporter", "product"), ("node",)],
)
def test_keys_are_generic(keys):
    rows = []
    for g in range(3):
        for p, v in (("A", 1.0 + g), ("B", 2.0), ("C", 3.0)):
            rows.append((*[f"{k}{g}" for k in keys], p, v))
    out = concentration_table(pd.DataFrame(rows, columns=[*keys, "partner", "value"]), keys=keys)
    assert list(out.columns[: len(keys)]) == list(keys)
    assert len(out) == 3
    first = out.iloc[0]
    assert first["hhi"] == pytest.approx((1 + 4 + 9) / 36, abs=TOL)


def test_missing_key_value_is_its_own_group_not_lost():
    df = flows([("R", "p", None, "A", 1.0), ("R", "p", 2023, "A", 1.0), ("R", "p", 2023, "B", 1.0)])
    out = concentration_table(df)
    assert len(out) == 2
    assert out["n_partners"].sort_values().tolist() == [1, 2]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("column", ["partner", "value", "period", "reporter"])
def test_missing_column_is_named(column):
    df = flows([("R", "p", 1, "A", 1.0)]).drop(columns=column)
    with pytest.raises(ValueError, match=repr(column)):
        concentration_table(df)


def test_negative_value_is_rejected_naming_column():
    df = flows([("R", "p", 1, "A", 1.0), ("R", "p", 1, "B", -2.0)])
    with pytest.raises(ValueError, match=r"'value'.*negative"):
        concentration_table(df)


def test_non_numeric_and_missing_values_are_rejected():
    with pytest.raises(ValueError, match=r"'value'.*non-numeric.*'W'"):
        partner_shares(flows([("R", "p", 1, "A", "W")]))
    with pytest.raises(ValueError, match=r"'value'.*missing"):
        partner_shares(flows([("R", "p", 1, "A", np.nan)]))
    with pytest.raises(ValueError, match=r"'value'.*non-finite"):
        partner_shares(flows([("R", "p", 1, "A", np.inf)]))


def test_missing_partner_and_bad_keys_are_rejected():
    with pytest.raises(ValueError, match="'partner'"):
        partner_shares(flows([("R", "p", 1, None, 1.0)]))
    with pytest.raises(ValueError, match="'partner'"):
        partner_shares(flows([("R", "p", 1, "A", 1.0)]), keys=("reporter", "partner"))
    with pytest.raises(ValueError, match="at least one"):
        partner_shares(flows([("R", "p", 1, "A", 1.0)]), keys=())


# --------------------------------------------------------------------------- vectorised == naive


def naive_table(df: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Per-group reference written the obvious way: a Python loop over groups."""
    groups: dict[tuple, dict] = {}
    for rec in df.to_dict("records"):
        if str(rec["partner"]).strip().upper() in AGGREGATE_PARTNERS:
            continue
        g = groups.setdefault(tuple(rec[k] for k in keys), {})
        g[rec["partner"]] = g.get(rec["partner"], 0.0) + float(rec["value"])
    rows = []
    for key in sorted(groups):
        values = groups[key]
        total = sum(values.values())
        if total <= 0:
            continue
        ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
        shares = [v / total for _, v in ranked]
        hhi = sum(s * s for s in shares)
        rows.append(
            {
                **dict(zip(keys, key)),
                "total": total,
                "n_partners": sum(1 for v in values.values() if v > 0),
                "hhi": hhi,
                "hhi_points": hhi * 10_000,
                "cr1": shares[0],
                "cr3": sum(shares[:3]),
                "top_partner": ranked[0][0],
                "top_share": shares[0],
                "effective_n": 1 / hhi,
            }
        )
    return pd.DataFrame(rows, columns=[*keys, *CONCENTRATION_COLUMNS])


row_strategy = st.tuples(
    st.sampled_from(["CHN", "USA", "DEU"]),
    st.sampled_from(["2805", "8112", "2846"]),
    st.sampled_from([2021, 2022]),
    st.sampled_from(["AUS", "BRA", "CHN", "COD", "IDN", "JPN", "WORLD", "_X"]),
    # integral values keep sums exact, so ties are real ties in both implementations
    st.integers(min_value=0, max_value=50).map(float),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row_strategy, min_size=1, max_size=60))
def test_vectorised_equals_naive_reference(rows):
    keys = ("reporter", "product", "period")
    df = flows(rows)
    got = concentration_table(df, keys).reset_index(drop=True)
    want = naive_table(df, keys)
    assert len(got) == len(want)
    if want.empty:
        return
    for col in [*keys, "top_partner", "n_partners"]:
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("total", "hhi", "hhi_points", "cr1", "cr3", "top_share", "effective_n"):
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-12, atol=1e-12)


def test_no_per_group_apply(monkeypatch):
    """The table is built from vectorised group operations, never a Python function per group."""
    from pandas.core.groupby import DataFrameGroupBy, SeriesGroupBy

    def forbidden(*args, **kwargs):
        raise AssertionError("groupby.apply/agg(callable) is not allowed in concentration_table")

    monkeypatch.setattr(DataFrameGroupBy, "apply", forbidden)
    monkeypatch.setattr(SeriesGroupBy, "apply", forbidden)
    rng = np.random.default_rng(7)
    n = 20_000
    df = pd.DataFrame(
        {
            "reporter": rng.choice(["CHN", "USA", "DEU", "JPN"], n),
            "product": rng.choice([f"{i:04d}" for i in range(300)], n),
            "period": rng.choice([2020, 2021, 2022], n),
            "partner": rng.choice([f"P{i:03d}" for i in range(120)], n),
            "value": rng.gamma(1.0, 100.0, n),
        }
    )
    out = concentration_table(df)
    assert len(out) == df.groupby(["reporter", "product", "period"]).ngroups
    assert ((out["hhi"] > 0) & (out["hhi"] <= 1)).all()


# --------------------------------------------------------------------------- real data (USGS MCS 2024)


def read_mcs_world(code: str, column: str, product: str) -> pd.DataFrame:
    """USGS MCS 2024 world file as a flows table with reporter WORLD, partner = country.

    Drops the aggregate rows ("World total (rounded)", "Other countries" with footnote
    digits) and rows withheld/not available ("W", "NA"), which carry no number.
    """
    path = MCS2024 / f"mcs2024-{code}_world.csv"
    raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    raw = raw[raw["Country"].notna()]
    country = raw["Country"].str.strip()
    raw = raw[~country.str.startswith(("World total", "Other countries"))]
    value = pd.to_numeric(raw[column].str.replace(",", "", regex=False), errors="coerce")
    return pd.DataFrame(
        {"reporter": "WORLD", "partner": raw["Country"].str.strip(), "product": product,
         "period": 2023, "value": value}
    ).dropna(subset=["value"])


needs_shared = pytest.mark.skipif(not MCS2024.is_dir(), reason=f"shared real-data folder not found at {MCS2024}")


@needs_shared
def test_usgs_gallium_2023_china_dominates():
    df = read_mcs_world("galli", "Prod_kg_est_2023", "gallium")
    row = concentration_table(df).iloc[0]
    assert row["top_partner"] == "China"
    assert row["top_share"] > 0.9
    assert row["hhi"] > 0.9
    # hand check: 600 t of 610 t (China, Japan 3, Korea 2, Russia 5; USA 0): PROVENANCE says ~98 %, HHI ~0.97
    assert row["top_share"] == pytest.approx(600_000 / 610_000, abs=1e-9)
    assert row["hhi"] == pytest.approx((600**2 + 3**2 + 2**2 + 5**2) / 610**2, abs=1e-9)
    assert row["n_partners"] == 4


@needs_shared
def test_usgs_cobalt_2023_dr_congo_top():
    df = read_mcs_world("cobal", "Prod_t_est_2023", "cobalt")
    row = concentration_table(df).iloc[0]
    assert row["top_partner"] == "Congo (Kinshasa)"
    assert row["total"] == pytest.approx(222_700, abs=1e-6)
    assert row["top_share"] == pytest.approx(170_000 / 222_700, abs=1e-9)
    assert 0.55 < row["hhi"] < 0.65
    assert row["n_partners"] == 12


@needs_shared
def test_usgs_rare_earths_2023_china_top():
    df = read_mcs_world("raree", "Prod_t_est_2023", "rare earths")
    row = concentration_table(df).iloc[0]
    assert row["top_partner"] == "China"
    assert 0.6 < row["top_share"] < 0.75
