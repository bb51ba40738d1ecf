"""Tests for indicators.concentration: hand-computed cases, a naive reference, real USGS data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.api.types import is_float_dtype

from indicators.concentration import (
    AGGREGATE_PARTNERS,
    CHANGE_COLUMNS,
    CONCENTRATION_COLUMNS,
    RESIDUAL_PARTNERS,
    ConcentrationThresholds,
    concentration_changes,
    concentration_findings,
    concentration_table,
    partner_shares,
    residual_from_totals,
)
from indicators.production import USGS_OTHER_COUNTRIES, usgs_world_production
from tests.shared_data import read_comtrade_us_china, read_usgs_world

MCS2024 = Path(__file__).resolve().parents[1] / "fixtures" / "usgs_all" / "mcs2024_world"

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


def test_usgs_cobalt_2023_dr_congo_top():
    df = read_mcs_world("cobal", "Prod_t_est_2023", "cobalt")
    row = concentration_table(df).iloc[0]
    assert row["top_partner"] == "Congo (Kinshasa)"
    assert row["total"] == pytest.approx(222_700, abs=1e-6)
    assert row["top_share"] == pytest.approx(170_000 / 222_700, abs=1e-9)
    assert 0.55 < row["hhi"] < 0.65
    assert row["n_partners"] == 12


def test_usgs_rare_earths_2023_china_top():
    df = read_mcs_world("raree", "Prod_t_est_2023", "rare earths")
    row = concentration_table(df).iloc[0]
    assert row["top_partner"] == "China"
    assert 0.6 < row["top_share"] < 0.75


# --------------------------------------------------------------------------- properties (hypothesis)

PARTNERS = [f"P{i:02d}" for i in range(12)]
one_group = st.lists(
    # 0 or a normal float: scaling a subnormal by 0.5 would round it to 0 and change the data
    st.tuples(st.sampled_from(PARTNERS), st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e9))),
    min_size=1, max_size=40,
).filter(lambda rows: sum(v for _, v in rows) > 0)


def group_frame(rows):
    return flows([("R", "p", 2023, p, v) for p, v in rows])


@settings(max_examples=200, deadline=None)
@given(one_group)
def test_property_hhi_bounds_effective_n_and_ratios(rows):
    row = concentration_table(group_frame(rows)).iloc[0]
    n = row["n_partners"]
    assert 1 / n - 1e-12 <= row["hhi"] <= 1 + 1e-12
    assert row["effective_n"] == pytest.approx(1 / row["hhi"], rel=1e-12)
    assert row["hhi_points"] == pytest.approx(10_000 * row["hhi"], rel=1e-12)
    assert row["cr1"] <= row["cr3"] + 1e-12 and row["cr3"] <= 1 + 1e-12
    assert row["cr1"] == row["top_share"]
    assert row["hhi"] <= row["cr1"] + 1e-12  # sum s_i^2 <= max s_i
    assert row["hhi"] >= row["cr1"] ** 2 - 1e-12


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(PARTNERS), st.integers(0, 1000).map(float)), min_size=1, max_size=40)
    .filter(lambda rows: sum(v for _, v in rows) > 0),
    st.randoms(use_true_random=False),
)
def test_property_invariant_to_partner_order(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    # integer values: sums are exact in any order, so even ties break the same way
    a = concentration_table(group_frame(rows))
    b = concentration_table(group_frame(shuffled))
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(one_group, st.floats(min_value=1e-3, max_value=1e3))
def test_property_invariant_to_scaling_all_values(rows, factor):
    a = concentration_table(group_frame(rows)).iloc[0]
    b = concentration_table(group_frame([(p, v * factor) for p, v in rows])).iloc[0]
    assert b["total"] == pytest.approx(a["total"] * factor, rel=1e-9)
    for col in ("hhi", "cr1", "cr3", "top_share", "effective_n"):
        assert b[col] == pytest.approx(a[col], rel=1e-9, abs=1e-12), col
    assert b["n_partners"] == a["n_partners"]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PARTNERS), st.lists(st.floats(min_value=1e-6, max_value=1e9), min_size=1, max_size=5))
def test_property_single_partner_is_monopoly(partner, values):
    row = concentration_table(group_frame([(partner, v) for v in values])).iloc[0]
    assert row["hhi"] == 1.0 and row["effective_n"] == 1.0
    assert row["cr1"] == row["cr3"] == row["top_share"] == 1.0
    assert row["top_partner"] == partner and row["n_partners"] == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=12))
def test_property_equal_shares_give_hhi_one_over_n(n):
    row = concentration_table(group_frame([(p, 7.0) for p in PARTNERS[:n]])).iloc[0]
    assert row["hhi"] == pytest.approx(1 / n, rel=1e-12)
    assert row["effective_n"] == pytest.approx(n, rel=1e-12)


# --------------------------------------------------------------------------- residual partners


def test_residual_counts_in_total_but_not_as_a_supplier():
    df = flows([("WORLD", "co", 2023, p, v) for p, v in (("COD", 60.0), ("IDN", 20.0), ("Other countries", 20.0))])
    plain = concentration_table(df).iloc[0]
    assert plain["top_share"] == pytest.approx(0.6)  # "Other countries" taken as one producer
    row = concentration_table(df, residual_partners=RESIDUAL_PARTNERS).iloc[0]
    assert row["total"] == 100.0
    assert row["top_partner"] == "COD" and row["top_share"] == pytest.approx(0.6, abs=TOL)
    assert row["hhi"] == pytest.approx(0.36 + 0.04, abs=TOL)  # lower bound: no 0.2^2 term
    assert row["n_partners"] == 2 and row["cr3"] == pytest.approx(0.8, abs=TOL)
    assert row["residual_share"] == pytest.approx(0.2, abs=TOL)


def test_residual_only_group_has_no_top_partner():
    df = flows([("R", "p", 1, "REST OF WORLD", 5.0), ("R", "q", 1, "A", 1.0)])
    out = concentration_table(df, residual_partners=RESIDUAL_PARTNERS).set_index("product")
    assert pd.isna(out.loc["p", "top_partner"]) and out.loc["p", "hhi"] == 0.0
    assert np.isnan(out.loc["p", "effective_n"]) and out.loc["p", "residual_share"] == 1.0
    assert out.loc["q", "top_partner"] == "A"


def test_residual_must_not_be_an_aggregate():
    with pytest.raises(ValueError, match="aggregate 'WORLD'"):
        concentration_table(flows([("R", "p", 1, "A", 1.0)]), residual_partners=["World"])


def test_residual_from_totals_replaces_world_by_rest():
    df = flows([("USA", "2846", 2023, "WORLD", 100.0), ("USA", "2846", 2023, "CHN", 61.0),
                ("USA", "2846", 2024, "CHN", 5.0),  # no World row: unchanged
                ("USA", "8105", 2023, "WORLD", 10.0), ("USA", "8105", 2023, "CHN", 12.0)])  # clipped at 0
    out = residual_from_totals(df)
    got = {(r.product, r.period, r.partner): r.value for r in out.itertuples()}
    assert got == {("2846", 2023, "CHN"): 61.0, ("2846", 2024, "CHN"): 5.0, ("8105", 2023, "CHN"): 12.0,
                   ("2846", 2023, "REST OF WORLD"): 39.0, ("8105", 2023, "REST OF WORLD"): 0.0}
    with pytest.raises(ValueError, match="2 aggregate"):
        residual_from_totals(flows([("U", "p", 1, "WORLD", 1.0), ("U", "p", 1, "W00", 1.0)]))


# --------------------------------------------------------------------------- zero totals


def test_include_zero_total_reports_the_group_without_dividing():
    df = flows([("R", "p", 1, "A", 0.0), ("R", "p", 1, "B", 0.0), ("R", "q", 1, "WORLD", 9.0),
                ("R", "r", 1, "A", 3.0), ("R", "r", 1, "B", 1.0)])
    with np.errstate(all="raise"):  # any division by zero would raise here
        out = concentration_table(df, include_zero_total=True)
    assert out["product"].tolist() == ["p", "q", "r"]
    zero = out.set_index("product").loc[["p", "q"]]
    assert (zero["total"] == 0).all() and (zero["n_partners"] == 0).all()
    assert zero[["hhi", "hhi_points", "cr1", "cr3", "top_share", "effective_n"]].isna().all().all()
    assert zero["top_partner"].isna().all()
    r = out.set_index("product").loc["r"]
    assert r["hhi"] == pytest.approx(0.625, abs=TOL) and r["top_partner"] == "A"
    # the positive rows equal the default table
    pd.testing.assert_frame_equal(out[out["product"] == "r"].reset_index(drop=True), concentration_table(df),
                                  check_dtype=False)


# --------------------------------------------------------------------------- changes


def test_changes_vs_previous_period_and_year_earlier_monthly():
    months = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-04-01", "2024-01-01", "2024-02-01"])
    rows = []
    for month, share_a in zip(months, (0.5, 0.6, 0.7, 0.8, 0.9)):
        rows += [("USA", "2846", month, "CHN", share_a * 100), ("USA", "2846", month, "AUS", (1 - share_a) * 100)]
    table = concentration_changes(concentration_table(flows(rows)))
    assert list(table.columns[-4:]) == list(CHANGE_COLUMNS)
    hhi = {m: a * a + (1 - a) ** 2 for m, a in zip(months, (0.5, 0.6, 0.7, 0.8, 0.9))}
    got = table.set_index("period")
    # Feb 2023 vs Jan 2023; Apr 2023 has no March: NaN, not the February value
    assert got.loc["2023-02-01", "hhi_change_prev"] == pytest.approx(hhi[months[1]] - hhi[months[0]], abs=1e-12)
    assert np.isnan(got.loc["2023-04-01", "hhi_change_prev"])
    # Jan 2024 vs Jan 2023 (12 months back); Feb 2024 vs Feb 2023 and vs Jan 2024
    assert got.loc["2024-01-01", "hhi_change_yoy"] == pytest.approx(hhi[months[3]] - hhi[months[0]], abs=1e-12)
    assert got.loc["2024-02-01", "hhi_change_prev"] == pytest.approx(hhi[months[4]] - hhi[months[3]], abs=1e-12)
    assert got.loc["2024-02-01", "top_share_change_yoy"] == pytest.approx(0.9 - 0.6, abs=1e-12)
    assert np.isnan(got.loc["2023-01-01", "hhi_change_yoy"])


def test_changes_annual_years_and_series_are_separate():
    rows = [("USA", "p", 2021, "A", 1.0), ("USA", "p", 2022, "A", 1.0), ("USA", "p", 2022, "B", 1.0),
            ("CHN", "p", 2023, "A", 1.0)]
    table = concentration_changes(concentration_table(flows(rows)))
    got = table.set_index(["reporter", "period"])
    assert got.loc[("USA", 2022), "hhi_change_prev"] == pytest.approx(-0.5)
    assert got.loc[("USA", 2022), "hhi_change_yoy"] == pytest.approx(-0.5)  # annual: a year back = previous
    assert got.loc[("USA", 2022), "top_share_change_prev"] == pytest.approx(-0.5)
    assert np.isnan(got.loc[("CHN", 2023), "hhi_change_prev"])  # 2022 belongs to another series


def test_changes_reject_duplicate_periods_and_bad_period_column():
    table = concentration_table(flows([("R", "p", 2021, "A", 1.0)]))
    with pytest.raises(ValueError, match="same period"):
        concentration_changes(pd.concat([table, table]))
    with pytest.raises(ValueError, match="'period'"):
        concentration_changes(table.assign(period="2021"))


# --------------------------------------------------------------------------- findings


def test_findings_sentence_in_english_and_chinese():
    rows = [("842", "811292", 2023, p, v) for p, v in (("156", 98.0), ("392", 1.0), ("410", 1.0))]
    table = concentration_table(flows(rows))
    names = {"156": ("China", "中国"), "842": ("USA", "美国"), "811292": ("gallium", "镓")}
    [finding] = concentration_findings(table, names=names)
    assert finding.kind == "import_concentration"
    assert finding.subject_dict() == {"reporter": "842", "product": "811292"}
    assert finding.period == "2023" and finding.threshold == 0.4
    assert finding.observed == pytest.approx(0.98**2 + 2 * 0.01**2)
    assert finding.explanation_en == (
        "In 2023, China supplies 98% of USA's gallium imports; HHI 0.96 > 0.4 (3 partners).")
    assert finding.explanation_zh == "2023，中国供应了美国镓进口的98%；HHI 0.96 > 0.4（3个来源国）。"
    assert finding.to_dict()["details"]["top_partner"] == "156"


def test_findings_threshold_is_strict_and_rise_needs_a_concentrated_market():
    even = flows([("R", "p", y, p, 1.0) for y in (2022, 2023) for p in ("A", "B")])  # HHI 0.5
    assert [f.kind for f in concentration_findings(concentration_table(even), ConcentrationThresholds(hhi=0.5))] == []
    rows = [("R", "p", 2022, "A", 40.0), ("R", "p", 2022, "B", 60.0),  # HHI 0.52
            ("R", "p", 2023, "A", 30.0), ("R", "p", 2023, "B", 70.0),  # HHI 0.58, +0.06
            ("R", "q", 2022, "A", 1.0), ("R", "q", 2022, "B", 1.0), ("R", "q", 2022, "C", 1.0),
            ("R", "q", 2022, "D", 1.0), ("R", "q", 2022, "E", 1.0), ("R", "q", 2022, "F", 1.0),
            ("R", "q", 2023, "A", 2.0), ("R", "q", 2023, "B", 1.0), ("R", "q", 2023, "C", 1.0),
            ("R", "q", 2023, "D", 1.0), ("R", "q", 2023, "E", 1.0), ("R", "q", 2023, "F", 1.0)]
    table = concentration_changes(concentration_table(flows(rows)))
    found = [(f.kind, f.subject_dict()["product"], f.period) for f in concentration_findings(table)]
    # q rose (1/6 -> 9/49 = 0.18367, +0.017) and ends just above 0.18: flagged; never above 0.4
    assert found == [("import_concentration", "p", "2022"), ("import_concentration", "p", "2023"),
                     ("concentration_rising", "p", "2023"), ("concentration_rising", "q", "2023")]
    with pytest.raises(ValueError, match="hhi"):
        ConcentrationThresholds(hhi=40)


def test_findings_skip_zero_total_groups():
    table = concentration_table(flows([("R", "p", 1, "A", 0.0)]), include_zero_total=True)
    assert concentration_findings(table) == []


# --------------------------------------------------------------------------- real data: USGS via the pure parser


def test_usgs_gallium_2023_parser_hand_checked():
    df = usgs_world_production(read_usgs_world("mcs2024", "galli"), "gallium", field="Prod_kg_est_2023")
    row = concentration_table(df, residual_partners=RESIDUAL_PARTNERS).iloc[0]
    # MCS 2024, primary gallium 2023e, kg: China 600,000; Japan 3,000; Korea 2,000; Russia 5,000;
    # United States 0; Other countries 0 -> total 610,000 (= the published world total)
    # top share 600,000 / 610,000 = 0.983607
    # HHI = (600^2 + 3^2 + 2^2 + 5^2) / 610^2 = 360,038 / 372,100 = 0.967584
    assert row["total"] == 610_000
    assert row["top_partner"] == "China"
    assert row["top_share"] == pytest.approx(0.983607, abs=1e-6)
    assert row["hhi"] == pytest.approx(0.967584, abs=1e-6)
    assert row["n_partners"] == 4
    # the footnote-marked names "Japane", "Korea, Republic ofe", "Russiae" were cleaned
    assert set(df["partner"]) == {"United States", "China", "Japan", "Korea, Republic of", "Russia", USGS_OTHER_COUNTRIES}


def test_usgs_cobalt_2023_with_other_countries_as_residual():
    df = usgs_world_production(read_usgs_world("mcs2024", "cobal"), "cobalt", field="Prod_t_est_2023")
    row = concentration_table(df, residual_partners=RESIDUAL_PARTNERS).iloc[0]
    # 12 named producers sum to 222,700 t, Other countries 6,600 -> total 229,300
    # (published world total, rounded: 230,000); DR Congo 170,000 / 229,300 = 0.741387
    # sum of named squares (t^2): 170000^2 + 17000^2 + 8800^2 + 4600^2 + 4000^2 + 3800^2
    #   + 3200^2 + 3000^2 + 2900^2 + 2800^2 + 2100^2 + 500^2 = 29,358,190,000
    # HHI lower bound = 29,358,190,000 / 229,300^2 (52,578,490,000) = 0.558369
    assert row["total"] == 229_300
    assert row["top_partner"] == "Congo (Kinshasa)"
    assert row["top_share"] == pytest.approx(0.741387, abs=1e-6)
    assert row["hhi"] == pytest.approx(0.558369, abs=1e-6)
    assert row["residual_share"] == pytest.approx(6_600 / 229_300, abs=1e-12)
    assert row["n_partners"] == 12


def test_usgs_rare_earths_2022_to_2023_change():
    df = usgs_world_production(read_usgs_world("mcs2024", "raree"), "rare earths")
    table = concentration_changes(concentration_table(df, residual_partners=RESIDUAL_PARTNERS))
    row = table.set_index("period").loc[2023]
    # 2023e, t REO: China 240,000 of 353,320 (sum of 15 countries; published world total 350,000)
    # -> 0.679271; sum of squares 61,283,874,400 / 353,320^2 (124,835,022,400) = 0.490919
    assert row["top_partner"] == "China"
    assert row["top_share"] == pytest.approx(240_000 / 353_320, abs=1e-9)
    assert row["hhi"] == pytest.approx(61_283_874_400 / 124_835_022_400, abs=1e-12)
    assert row["n_partners"] == 11  # Canada, Greenland, South Africa, Tanzania produced 0
    # 2022e: China 210,000 of 296,920 = 0.707261; the share fell by 0.027990
    assert row["top_share_change_yoy"] == pytest.approx(240_000 / 353_320 - 210_000 / 296_920, abs=1e-9)
    names = {"China": ("China", "中国"), "rare earths": ("rare earths", "稀土")}
    [finding, _] = concentration_findings(table, names=names)
    assert finding.kind == "production_concentration" and finding.period == "2022"
    assert finding.explanation_en.startswith("In 2022, China produces 71% of world rare earths; HHI 0.53 > 0.4")
    assert finding.explanation_zh.startswith("2022，中国生产了全球稀土的71%；HHI 0.53 > 0.4")


# --------------------------------------------------------------------------- real data: Comtrade top-1 share


def test_comtrade_china_share_of_us_rare_earth_imports():
    flows_ = read_comtrade_us_china()
    imports = flows_[(flows_["reporter"] == "842") & (flows_["flow"] == "M") & (flows_["product"] == "2846")]
    # partners are World (0) and China (156) only: World becomes the rest of the world
    table = concentration_table(residual_from_totals(imports[["reporter", "partner", "product", "period", "value"]]),
                                residual_partners=RESIDUAL_PARTNERS).set_index("period")
    # HS 2846, US imports 2023 (primaryValue, USD): China 111,168,490 of World 181,268,698 = 0.613280
    assert table.loc[2023, "top_partner"] == "156"
    assert table.loc[2023, "top_share"] == pytest.approx(111_168_490 / 181_268_698, abs=1e-12)
    assert table.loc[2023, "total"] == 181_268_698
    # 2020: 45,649,703 / 98,248,642 = 0.464634
    assert table.loc[2020, "top_share"] == pytest.approx(0.464634, abs=1e-6)
    # only China is named, so the HHI is China's share squared (a lower bound)
    assert table.loc[2023, "hhi"] == pytest.approx((111_168_490 / 181_268_698) ** 2, abs=1e-12)


def test_values_near_the_largest_float_give_true_shares():
    # 1e308 and 5e307 sum to 1.5e308 (finite): shares 2/3 and 1/3, not an overflowed 0.
    flows = pd.DataFrame({"reporter": "USA", "partner": ["CHN", "AUS"], "product": "2846", "period": "2023",
                          "value": [1e308, 5e307]})
    row = concentration_table(flows).iloc[0]
    assert row["hhi"] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)
    assert row["top_partner"] == "CHN"


@pytest.mark.parametrize("values", [[1.5e308, 1e308], [1e308, 1e308, 1e308]])
def test_a_total_beyond_the_largest_float_is_refused_not_reported_as_hhi_0(values):
    flows = pd.DataFrame({"reporter": "USA", "partner": ["CHN", "AUS", "CHL"][:len(values)], "product": "2846",
                          "period": "2023", "value": values})
    with pytest.raises(ValueError, match=r"group reporter=USA, product=2846, period=2023 sum beyond the largest"):
        concentration_table(flows)
    with pytest.raises(ValueError, match="sum beyond the largest float"):
        partner_shares(flows)


def test_counting_and_sorting_the_pairs_give_the_same_table(monkeypatch):
    """Dense codes are counted (bincount), sparse ones sorted: both paths, one answer,
    with repeated (group, partner) rows, a WORLD row and a group without a positive total."""
    import indicators.concentration as concentration
    from indicators.concentration import concentration_against_totals
    from indicators.vocabulary import RESIDUAL_PARTNERS

    rng = np.random.default_rng(7)
    n = 3_000
    flows = pd.DataFrame({"reporter": rng.choice(["R1", "R2", "NA"], n), "partner": rng.choice(
        ["P1", "P2", "P3", "WORLD", "_X"], n), "product": rng.choice(["280450", "2602"], n),
        "period": pd.to_datetime(rng.choice(["2020-01-01", "2021-01-01"], n)), "value": rng.integers(0, 9, n) * 1.5})
    flows.loc[flows["reporter"] == "R2", "value"] = 0.0
    keys = ("reporter", "product", "period")

    def table():
        return concentration_against_totals(flows, keys=keys, slices=(), residual_partners=RESIDUAL_PARTNERS,
                                            include_zero_total=True)

    counted = table()
    monkeypatch.setattr(concentration, "_dense", lambda span, n: False)
    pd.testing.assert_frame_equal(counted, table())


def test_categorical_columns_give_the_table_of_their_values():
    """Categorical keys (sorted by their codes, not re-hashed) and partners give the same
    numbers, partners and key order as the same values as text: keys whose categories are
    sorted, partners whose categories are in any order; with World, aggregate, residual
    and zero-total groups."""
    from indicators.concentration import concentration_against_totals
    from indicators.vocabulary import RESIDUAL_PARTNERS

    rng = np.random.default_rng(11)
    n = 4_000
    flows = pd.DataFrame({"reporter": rng.choice(["R2", "R1", "NA", "WORLD"], n),
                          "partner": rng.choice(["P2", "P1", "P3", "WORLD", "W00", "_X", "OTHERS", "UNALLOCATED"], n),
                          "product": rng.choice(["280450", "2602", "26"], n),
                          "period": pd.to_datetime(rng.choice(["2021-01-01", "2020-01-01", "2020-02-01"], n)),
                          "value": rng.integers(0, 9, n) * 1.5})
    flows.loc[flows["reporter"] == "R2", "value"] = 0.0
    keys = ("reporter", "product", "period")
    categorical = flows.copy()
    for column in ("reporter", "partner", "product", "period"):
        values = flows[column].unique()
        categorical[column] = pd.Categorical(flows[column], categories=values[rng.permutation(len(values))])
    # a categorical column sorts in its categories' order: sorted, that is its values' order
    for column in ("reporter", "product", "period"):
        categorical[column] = categorical[column].cat.reorder_categories(sorted(categorical[column].cat.categories))

    def plain(table):
        return table.assign(**{k: table[k].astype(flows[k].dtype) for k in keys})

    for zero in (False, True):
        as_text = concentration_against_totals(flows, keys=keys, slices=(), residual_partners=RESIDUAL_PARTNERS,
                                               include_zero_total=zero)
        as_codes = concentration_against_totals(categorical, keys=keys, slices=(), residual_partners=RESIDUAL_PARTNERS,
                                                include_zero_total=zero)
        pd.testing.assert_frame_equal(plain(as_codes), as_text, check_exact=True)
        table = concentration_table(flows, keys, RESIDUAL_PARTNERS, include_zero_total=zero)
        coded = concentration_table(categorical, keys, RESIDUAL_PARTNERS, include_zero_total=zero)
        pd.testing.assert_frame_equal(plain(coded).astype({"top_partner": object}),
                                      table.astype({"top_partner": object}), check_exact=True)


# --------------------------------------------------------------------------- a group's result is its own

BATCH_KEYS = ("a", "b", "c")
target_rows = st.lists(
    # (partner, slice, value): repeated partners and values of many magnitudes, so the
    # order in which a pair's rows are summed shows in the last bits
    st.tuples(st.sampled_from([*PARTNERS, "WORLD", "Q000"]), st.integers(0, 2), st.floats(min_value=1e-3, max_value=1e9)),
    min_size=1, max_size=40,
)


def _with_other_groups(target: pd.DataFrame, key: tuple[int, int, int], n_groups: int, seed: int) -> pd.DataFrame:
    """``target`` (one group) among ``n_groups`` random other groups, rows interleaved at
    random but the target's own rows kept in their order. With over ~100 groups the key
    codes are sparse enough for the table to sort the pairs instead of counting them."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    codes = {k: rng.integers(0, 1_000_000, n_groups)[group] for k in BATCH_KEYS}
    others = pd.DataFrame({
        **codes, "partner": rng.choice([*PARTNERS, "WORLD", *(f"Q{i:03d}" for i in range(500))], len(group)),
        "s": rng.integers(0, 3, len(group)), "value": rng.gamma(0.5, 1e6, len(group)),
    })
    others = others[~((others["a"] == key[0]) & (others["b"] == key[1]) & (others["c"] == key[2]))]
    is_target = rng.permutation(np.r_[np.ones(len(target), bool), np.zeros(len(others), bool)])
    position = np.empty(len(is_target), dtype="int64")
    position[is_target] = np.arange(len(target))
    position[~is_target] = len(target) + np.arange(len(others))
    return pd.concat([target, others], ignore_index=True).iloc[position].reset_index(drop=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target_rows, st.tuples(*[st.integers(0, 1_000_000)] * 3), st.integers(0, 250), st.integers(0, 2**32 - 1),
       st.booleans(), st.booleans())
def test_property_a_groups_row_is_bit_identical_alone_or_among_other_groups(rows, key, n_groups, seed, zero_total,
                                                                            one_slice):
    """Measuring nodes one at a time or a partition at once must give the same numbers,
    to the last bit, whatever other groups are in the table and however many."""
    from indicators.concentration import concentration_against_totals

    rows = [(p, 0 if one_slice else s, v) for p, s, v in rows]
    # a World row 1.5 x its slice's named sum: the unallocated rest (World - named sum)
    # then carries the named sum's last bits into the total
    named = {s: sum(v for p, t, v in rows if t == s and p != "WORLD") for _, s, _ in rows}
    target = pd.DataFrame([(*key, p, s, 1.5 * named[s] if p == "WORLD" and named[s] else v) for p, s, v in rows],
                          columns=[*BATCH_KEYS, "partner", "s", "value"])
    batch = _with_other_groups(target, key, n_groups, seed)
    mine = (batch["a"] == key[0]) & (batch["b"] == key[1]) & (batch["c"] == key[2])
    assert batch.loc[mine, "value"].tolist() == target["value"].tolist()  # same rows, same order

    def measure(frame):
        table = concentration_table(frame.drop(columns="s"), BATCH_KEYS, residual_partners=["Q000"],
                                    include_zero_total=zero_total)
        against = concentration_against_totals(frame, BATCH_KEYS, slices=("s",), include_zero_total=zero_total)
        return [t[(t["a"] == key[0]) & (t["b"] == key[1]) & (t["c"] == key[2])].reset_index(drop=True)
                for t in (table, against)]

    for alone, among in zip(measure(target), measure(batch)):
        assert list(alone.columns) == list(among.columns) and len(alone) == len(among)
        for column in alone.columns:
            if is_float_dtype(alone[column]):
                assert np.array_equal(alone[column].to_numpy(), among[column].to_numpy(), equal_nan=True), column
            else:  # None stays None (not NaN), codes stay the same values
                assert alone[column].tolist() == among[column].tolist(), column
