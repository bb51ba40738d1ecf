"""The embedded demo source: deterministic, complete, well-formed, and its episodes are real."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry
import pytest

from monitor.collect.base import Collector
from monitor.records import OBSERVATION_COLUMNS, TRADE_FLOW_COLUMNS
from monitor.collect.demo import (
    EPISODES,
    EU27_MEMBERS,
    FALLBACK_PARTNER_POOL,
    PARTNER_PROFILES,
    GOVERNANCE_INDICATORS,
    GOVERNANCE_SERIES_PREFIX,
    PRESSURE_SERIES,
    SIMULATED_PREFIX,
    BroadDip,
    DemoCollector,
    OutputDrop,
    PartnerCut,
    fallback_profile,
    profile_for,
)
from monitor.config.models import Catalog, DemoSource

CONFIG_DIR = Path(__file__).parents[2] / "config"
SETTINGS = DemoSource(kind="demo", seed=20230224, start="2016-01", end="2025-12")
FINAL_PARTNER_CUTS = [e for e in EPISODES if isinstance(e, PartnerCut) and e.window.is_final]
FINAL_OUTPUT_DROPS = [e for e in EPISODES if isinstance(e, OutputDrop) and e.window.is_final]


@pytest.fixture(scope="module")
def batch(catalog):
    """One collection with the default settings and episodes."""
    return DemoCollector(catalog, SETTINGS).collect()


def _node(catalog: Catalog, ref: str):
    chain_id, node_id = ref.split("/")
    return next(n for n in catalog.chain(chain_id).nodes if n.id == node_id)


def _partner_values(flows: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Monthly import value of a set of HS codes, one column per partner (0 when absent)."""
    subset = flows[flows["product"].isin(codes)]
    return subset.pivot_table(index="period", columns="partner", values="value", aggfunc="sum", fill_value=0.0)


def _imports(flows: pd.DataFrame) -> pd.DataFrame:
    """The import rows (the demo also simulates exports, flow X, to WORLD)."""
    return flows[flows["flow"] == "M"].reset_index(drop=True)


def _production(observations: pd.DataFrame) -> pd.DataFrame:
    """The output-index rows (the demo also simulates governance scores and a pressure index)."""
    return observations[observations["series_id"].str.startswith("demo.prod.")].reset_index(drop=True)


def _hhi(values_by_partner: pd.Series) -> float:
    shares = values_by_partner / values_by_partner.sum()
    return float((shares**2).sum())


# -- identity and determinism ----------------------------------------------------------


def test_batch_is_labelled_simulated(batch, catalog):
    collector: Collector = DemoCollector(catalog, SETTINGS)  # the protocol is not runtime-checkable
    assert collector.source_id == SETTINGS.id == batch.source
    assert batch.simulated is True
    assert batch.vintage == f"demo-seed{SETTINGS.seed}"
    nodes = {(c.id, n.id): n for c in catalog.chains for n in c.nodes}
    for info in batch.series:
        assert info.description.startswith(SIMULATED_PREFIX), info
        assert info.source == SETTINGS.id
        if info.series_id.startswith("demo.prod."):
            assert info.unit == "index"
            assert info.series_id in nodes[(info.chain, info.node)].production_series
        else:
            stems = {s.series for c in catalog.chains for n in c.nodes for s in n.world_supply}
            assert (info.series_id == PRESSURE_SERIES or info.series_id.startswith(GOVERNANCE_SERIES_PREFIX + ".")
                    or info.series_id.rsplit(".", 1)[0] in stems), info.series_id
            assert info.chain is None and info.node is None


def test_the_same_seed_gives_the_same_batch(catalog, batch):
    again = DemoCollector(catalog, SETTINGS).collect()
    pd.testing.assert_frame_equal(batch.trade_flows, again.trade_flows)
    pd.testing.assert_frame_equal(batch.observations, again.observations)
    assert batch.series == again.series


def test_another_seed_gives_other_values(catalog, batch):
    other = DemoCollector(catalog, SETTINGS.model_copy(update={"seed": SETTINGS.seed + 1})).collect()
    assert other.vintage != batch.vintage
    keys = ["series_id", "period"]
    merged = batch.observations.merge(other.observations, on=keys, suffixes=("_a", "_b"))
    assert len(merged) == len(batch.observations)
    assert not np.allclose(merged["value_a"], merged["value_b"])
    flow_keys = ["partner", "product", "period"]
    flows = batch.trade_flows.merge(other.trade_flows, on=flow_keys, suffixes=("_a", "_b"))
    assert not np.allclose(flows["value_a"], flows["value_b"])


def test_output_does_not_depend_on_the_process_hash_seed():
    # Python salts str hashes per process; a sub-seed derived from hash() would pass the
    # in-process determinism test above and still change from one run to the next.
    script = (
        "import hashlib, yaml\n"
        "from monitor.config.models import Catalog, DemoSource\n"
        "from monitor.collect.demo import DemoCollector\n"
        f"catalog = Catalog.model_validate(yaml.safe_load(open({str(CONFIG_DIR / 'chains.yaml')!r})))\n"
        "batch = DemoCollector(catalog, DemoSource(kind='demo')).collect()\n"
        "text = batch.trade_flows.to_csv() + batch.observations.to_csv()\n"
        "print(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              cwd=CONFIG_DIR.parent, timeout=120)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def test_adding_a_node_leaves_every_other_series_unchanged(raw_catalog, catalog, batch):
    grown = copy.deepcopy(raw_catalog)
    grown["chains"][0]["nodes"].append({
        "id": "test-extra", "name": {"en": "Extra", "zh": "附加"}, "stage": "downstream",
        "criticality": 0.1, "hs_codes": ["999999"], "production_series": ["demo.prod.test-extra"],
    })
    bigger = DemoCollector(Catalog.model_validate(grown), SETTINGS).collect()
    old_flows = bigger.trade_flows[bigger.trade_flows["product"] != "999999"].reset_index(drop=True)
    pd.testing.assert_frame_equal(old_flows, batch.trade_flows)
    old_obs = bigger.observations[bigger.observations["series_id"].isin(set(batch.observations["series_id"]))]
    pd.testing.assert_frame_equal(old_obs.reset_index(drop=True), batch.observations)
    # The unknown code got a seeded fallback profile, with real partners.
    extra = _imports(bigger.trade_flows)
    extra = extra[extra["product"] == "999999"]
    assert len(extra) > 0 and set(extra["partner"]) <= set(FALLBACK_PARTNER_POOL)


# -- shape of the tables -------------------------------------------------------------------


def test_tables_have_the_contract_columns_and_types(batch):
    obs, flows = batch.observations, batch.trade_flows
    assert tuple(obs.columns) == OBSERVATION_COLUMNS
    assert tuple(flows.columns) == TRADE_FLOW_COLUMNS
    for frame in (obs, flows):
        assert pd.api.types.is_datetime64_any_dtype(frame["period"])
        assert frame["period"].dt.is_month_start.all()
        assert frame["period"].min() == pd.Timestamp(f"{SETTINGS.start}-01")
        assert frame["period"].max() == pd.Timestamp(f"{SETTINGS.end}-01")
    assert pd.api.types.is_float_dtype(obs["value"])
    assert pd.api.types.is_float_dtype(flows["value"]) and pd.api.types.is_float_dtype(flows["quantity"])
    for column in ("series_id",):
        assert pd.api.types.is_string_dtype(obs[column])
    for column in ("reporter", "partner", "product", "flow"):
        assert pd.api.types.is_string_dtype(flows[column])


def test_no_missing_values_and_no_duplicate_keys(batch):
    obs, flows = batch.observations, batch.trade_flows
    assert not obs.isna().any().any()
    assert not flows.drop(columns="quantity").isna().any().any()
    assert not obs.duplicated(["series_id", "period"]).any()
    assert not flows.duplicated(["reporter", "partner", "product", "flow", "period"]).any()
    assert (flows["value"] > 0).all() and (flows["quantity"].dropna() > 0).all()
    assert (_production(obs)["value"] > 0).all()
    governance = obs[obs["series_id"].str.startswith(GOVERNANCE_SERIES_PREFIX)]["value"]
    assert governance.between(-2.5, 2.5).all()  # the WGI scale


def test_covers_every_hs_code_and_every_production_series(catalog, batch):
    codes = {code for chain in catalog.chains for node in chain.nodes for code in node.hs_codes}
    series = {s for chain in catalog.chains for node in chain.nodes for s in node.production_series}
    imports = _imports(batch.trade_flows)
    exports = batch.trade_flows[batch.trade_flows["flow"] == "X"]
    assert set(imports["product"]) == codes == set(exports["product"])
    production = _production(batch.observations)
    assert set(production["series_id"]) == series
    assert {info.series_id for info in batch.series if info.series_id.startswith("demo.prod.")} == series
    months = len(pd.period_range(SETTINGS.start, SETTINGS.end, freq="M"))
    assert (production.groupby("series_id").size() == months).all()
    # Every code is imported and exported in every month (from its main suppliers at least).
    assert (imports.groupby("product")["period"].nunique() == months).all()
    assert (exports.groupby("product")["period"].nunique() == months).all()
    # Every import partner has both simulated governance scores, once a year; the pressure index monthly.
    stored = set(batch.observations["series_id"])
    for partner in set(imports["partner"]):
        assert {f"{GOVERNANCE_SERIES_PREFIX}.{i}.{partner}" for i in GOVERNANCE_INDICATORS} <= stored, partner
    assert (batch.observations["series_id"] == PRESSURE_SERIES).sum() == months


def test_flows_are_imports_of_the_home_economy_from_real_countries(catalog, batch):
    flows = _imports(batch.trade_flows)
    assert set(batch.trade_flows["reporter"]) == {catalog.home}
    assert set(batch.trade_flows["flow"]) == {"M", "X"}
    assert set(batch.trade_flows.loc[batch.trade_flows["flow"] == "X", "partner"]) == {"WORLD"}
    assert catalog.home not in set(flows["partner"])
    for partner in set(flows["partner"]):
        assert pycountry.countries.get(alpha_3=partner) is not None, partner


def test_every_catalog_code_has_a_hand_written_partner_profile(catalog):
    for chain in catalog.chains:
        for node in chain.nodes:
            for code in node.hs_codes:
                assert profile_for(code) is not None, (chain.id, node.id, code)


def test_partner_profiles_are_well_formed():
    for prefix, profile in PARTNER_PROFILES.items():
        assert len(prefix) in (4, 6) and prefix.isdigit(), prefix
        assert sum(profile.shares.values()) == pytest.approx(1.0, abs=0.02), prefix
        assert profile.annual_value_usd > 0 and profile.unit_value_usd_per_kg > 0, prefix
        for partner in profile.shares:
            assert pycountry.countries.get(alpha_3=partner) is not None, (prefix, partner)


def test_fallback_profile_is_seeded_and_respects_exclusions():
    first = fallback_profile("999999", seed=7, excluded={"JPN"})
    assert first == fallback_profile("999999", seed=7, excluded={"JPN"})
    assert first != fallback_profile("999999", seed=8, excluded={"JPN"})
    assert 5 <= len(first.shares) <= 8 and "JPN" not in first.shares
    assert sum(first.shares.values()) == pytest.approx(1.0)


# -- what the numbers look like ------------------------------------------------------------


def test_imports_dip_around_chinese_new_year(batch):
    monthly = batch.trade_flows.groupby("period")["value"].sum()
    by_month = monthly.groupby(monthly.index.month).mean()
    other_months = by_month.drop([1, 2]).mean()
    assert by_month[2] < 0.9 * other_months
    assert by_month[1] < other_months


def test_unit_values_are_plausible(batch):
    unit = batch.trade_flows["value"] / batch.trade_flows["quantity"]
    by_product = unit.groupby(batch.trade_flows["product"]).median()
    # Ores cost cents to dollars per kg; chips and fab tools hundreds to thousands.
    assert by_product["2604"] < 1 < by_product["283691"] < by_product["8542"]
    assert by_product["848620"] > 100


def test_some_nodes_are_very_concentrated_and_most_moderately(catalog, batch):
    flows = _imports(batch.trade_flows)
    # Judge the twelve months before any final-period episode starts.
    before = flows["period"].max() - pd.DateOffset(months=3)
    window = flows[(flows["period"] <= before) & (flows["period"] > before - pd.DateOffset(months=12))]
    hhis = {}
    top_shares = {}
    for chain in catalog.chains:
        for node in chain.nodes:
            by_partner = window[window["product"].isin(node.hs_codes)].groupby("partner")["value"].sum()
            hhis[f"{chain.id}/{node.id}"] = _hhi(by_partner)
            top_shares[f"{chain.id}/{node.id}"] = float(by_partner.max() / by_partner.sum())
    very = [ref for ref in hhis if hhis[ref] > 0.5 and top_shares[ref] > 0.7]
    moderate = [ref for ref in hhis if 0.1 <= hhis[ref] <= 0.35]
    assert very, hhis
    assert len(moderate) >= len(hhis) / 2, hhis
    # The node hit by the main-supplier collapse is one of the very concentrated ones.
    assert any(cut.node in very for cut in FINAL_PARTNER_CUTS)


# -- the injected episodes ------------------------------------------------------------------


def test_the_episode_table_names_nodes_of_the_default_catalog(catalog):
    for episode in EPISODES:
        if isinstance(episode, (PartnerCut, OutputDrop)):
            _node(catalog, episode.node)  # StopIteration if absent
    assert FINAL_PARTNER_CUTS and FINAL_OUTPUT_DROPS


@pytest.mark.parametrize("cut", FINAL_PARTNER_CUTS, ids=lambda e: e.name)
def test_final_partner_cut_shows_in_the_frame(catalog, batch, cut):
    node = _node(catalog, cut.node)
    by_partner = _partner_values(batch.trade_flows, node.hs_codes)
    window_months = len(cut.window.factors)
    baseline = by_partner.iloc[-window_months - 12:-window_months]
    last = by_partner.iloc[-1]
    baseline_share = baseline[cut.partner].sum() / baseline.to_numpy().sum()
    last_share = last[cut.partner] / last.sum()
    # The partner's shipments fell to about the episode's last factor of normal ...
    assert last[cut.partner] / baseline[cut.partner].mean() < 1.75 * cut.window.factors[-1]
    # ... and its share fell to what that cut implies when other suppliers carry on.
    factor = cut.window.factors[-1]
    implied = factor * baseline_share / (factor * baseline_share + 1 - baseline_share)
    assert last_share < baseline_share - 0.05
    assert last_share == pytest.approx(implied, abs=0.1)


def test_the_main_supplier_of_a_concentrated_node_collapses(catalog, batch):
    hits = []
    for cut in FINAL_PARTNER_CUTS:
        node = _node(catalog, cut.node)
        by_partner = _partner_values(batch.trade_flows, node.hs_codes)
        baseline = by_partner.iloc[-15:-3].sum()
        if baseline.idxmax() == cut.partner and baseline.max() / baseline.sum() > 0.7:
            drop = by_partner.iloc[-1][cut.partner] / by_partner.iloc[-15:-3][cut.partner].mean()
            hits.append(drop)
    assert hits and min(hits) < 0.35


@pytest.mark.parametrize("drop", FINAL_OUTPUT_DROPS, ids=lambda e: e.name)
def test_final_output_drop_shows_in_the_frame(catalog, batch, drop):
    node = _node(catalog, drop.node)
    assert node.production_series
    for series_id in node.production_series:
        values = batch.observations[batch.observations["series_id"] == series_id]["value"].to_numpy()
        # Same calendar month a year earlier, so seasonality cancels; growth is below 10 %.
        assert values[-1] / values[-13] < 0.9, series_id
        assert values[-1] < values[-2] * 0.9, series_id


@pytest.mark.parametrize("episode", EPISODES, ids=lambda e: e.name)
def test_each_episode_changes_exactly_its_cells_by_its_factors(catalog, episode):
    plain = DemoCollector(catalog, SETTINGS, episodes=()).collect()
    hit = DemoCollector(catalog, SETTINGS, episodes=(episode,)).collect()
    # Episodes touch imports and output indices only: exports, governance and pressure stay.
    pd.testing.assert_frame_equal(hit.trade_flows[hit.trade_flows["flow"] == "X"],
                                  plain.trade_flows[plain.trade_flows["flow"] == "X"])
    pd.testing.assert_frame_equal(hit.observations[~hit.observations["series_id"].str.startswith("demo.prod.")],
                                  plain.observations[~plain.observations["series_id"].str.startswith("demo.prod.")])
    for batch in (plain, hit):
        batch.trade_flows = _imports(batch.trade_flows)
        batch.observations = _production(batch.observations)
    periods = pd.DatetimeIndex(sorted(plain.observations["period"].unique()))
    ordinals = np.asarray([p.year * 12 + p.month - 1 for p in periods])
    expected_by_period = pd.Series(episode.window.multipliers(ordinals), index=periods)
    assert (expected_by_period != 1).any(), "episode falls outside the default range"

    if isinstance(episode, (PartnerCut, BroadDip)) and not (
        isinstance(episode, BroadDip) and episode.affects == "output"
    ):
        keys = ["partner", "product", "period"]
        merged = plain.trade_flows.merge(hit.trade_flows, on=keys, suffixes=("_plain", "_hit"))
        assert len(merged) == len(plain.trade_flows) == len(hit.trade_flows)
        ratio = merged["value_hit"] / merged["value_plain"]
        expected = merged["period"].map(expected_by_period)
        if isinstance(episode, PartnerCut):
            node = _node(catalog, episode.node)
            products = episode.products or tuple(node.hs_codes)
            targeted = merged["product"].isin(products) & (merged["partner"] == episode.partner)
            expected = expected.where(targeted, 1.0)
        elif episode.chains is not None:
            codes = {c for chain in catalog.chains if chain.id in episode.chains
                     for n in chain.nodes for c in n.hs_codes}
            expected = expected.where(merged["product"].isin(codes), 1.0)
        np.testing.assert_allclose(ratio, expected, rtol=1e-9)
        pd.testing.assert_frame_equal(plain.observations, hit.observations)
    else:
        merged = plain.observations.merge(hit.observations, on=["series_id", "period"], suffixes=("_plain", "_hit"))
        ratio = merged["value_hit"] / merged["value_plain"]
        expected = merged["period"].map(expected_by_period)
        if isinstance(episode, OutputDrop):
            targeted = merged["series_id"].isin(_node(catalog, episode.node).production_series)
            expected = expected.where(targeted, 1.0)
        elif episode.chains is not None:
            series = {s for chain in catalog.chains if chain.id in episode.chains
                      for n in chain.nodes for s in n.production_series}
            expected = expected.where(merged["series_id"].isin(series), 1.0)
        np.testing.assert_allclose(ratio, expected, rtol=1e-9)
        pd.testing.assert_frame_equal(plain.trade_flows, hit.trade_flows)


def test_final_episodes_follow_the_configured_end(catalog):
    short = SETTINGS.model_copy(update={"start": "2021-01", "end": "2023-06"})
    plain = DemoCollector(catalog, short, episodes=()).collect()
    hit = DemoCollector(catalog, short, episodes=FINAL_OUTPUT_DROPS).collect()
    ratio = _production(hit.observations)["value"] / _production(plain.observations)["value"]
    changed = _production(hit.observations).loc[~np.isclose(ratio, 1.0), "period"]
    assert set(changed) == {pd.Timestamp("2023-06-01")}


# -- configuration edge cases ----------------------------------------------------------------


def test_start_after_end_is_rejected_naming_both(catalog):
    bad = SETTINGS.model_copy(update={"start": "2026-01", "end": "2025-12"})
    with pytest.raises(ValueError, match="start '2026-01' is after end '2025-12'"):
        DemoCollector(catalog, bad)


def test_episodes_for_nodes_a_catalog_lacks_are_skipped():
    tiny = Catalog.model_validate({"home": "CHN", "chains": [{
        "id": "solo", "name": {"en": "Solo", "zh": "单链"},
        "owner": {"name": "Chain chief (placeholder)"}, "lead_department": "Test department",
        "nodes": [{"id": "only", "name": {"en": "Only", "zh": "唯一"}, "stage": "upstream",
                   "criticality": 1.0, "hs_codes": ["2605"], "production_series": ["demo.prod.solo.only"]}],
    }]})
    with_table = DemoCollector(tiny, SETTINGS).collect()
    broad_only = DemoCollector(tiny, SETTINGS, episodes=[e for e in EPISODES if isinstance(e, BroadDip)]).collect()
    pd.testing.assert_frame_equal(with_table.trade_flows, broad_only.trade_flows)
    pd.testing.assert_frame_equal(with_table.observations, broad_only.observations)


@pytest.mark.parametrize("home", ["USA", "EU27"])
def test_the_home_economy_is_never_its_own_partner(raw_catalog, home):
    other = copy.deepcopy(raw_catalog)
    other["home"] = home
    flows = DemoCollector(Catalog.model_validate(other), SETTINGS).collect().trade_flows
    assert set(flows["reporter"]) == {home}
    excluded = EU27_MEMBERS if home == "EU27" else {home}
    assert not set(flows["partner"]) & excluded
    # Even a product whose table suppliers are all excluded still has imports.
    assert set(flows["product"]) == {c for ch in other["chains"] for n in ch["nodes"] for c in n["hs_codes"]}



# -- the tests' copy of a demo database built once per run (tests/demo_database.py) --------------------------


def _rows(engine) -> dict[str, list[str]]:
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {t.name: sorted(map(repr, connection.execute(t.select()))) for t in metadata.sorted_tables
                if t.name != "alembic_version"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_copied_demo_database_holds_what_store_batch_stores(sessions, store_demo, clock, tmp_path):
    from monitor.config.loader import load_config
    from monitor.store.database import make_engine, migrate, session_factory
    from monitor.store.observations import store_batch

    config = load_config(CONFIG_DIR, environ={})
    store_demo(start="2024-07")
    engine = make_engine(f"sqlite:///{tmp_path / 'direct.db'}")
    migrate(engine)
    source = config.sources.sources[0].model_copy(update={"start": "2024-07"})
    store_batch(session_factory(engine), DemoCollector(config.catalog, source).collect(), clock())
    direct = _rows(engine)
    engine.dispose()
    assert _rows(sessions.kw["bind"]) == direct and direct["trade_flows"] and direct["collector_runs"]


def test_rows_stored_after_the_demo_copy_get_new_ids(sessions, store_demo, clock):
    from sqlalchemy import select

    from monitor.records import CollectedBatch
    from monitor.store.observations import store_batch
    from monitor.store.tables import CollectorRun

    store_demo()
    with sessions() as session:
        copied = session.scalars(select(CollectorRun.id)).all()
    store_batch(sessions, CollectedBatch(source="test", vintage="v1"), clock())  # PostgreSQL: its sequence moved on
    with sessions() as session:
        new = set(session.scalars(select(CollectorRun.id)).all()) - set(copied)
    assert copied and len(new) == 1 and min(new) > max(copied)
