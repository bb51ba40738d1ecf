"""Exposure dimensions in the assessment: dependence, partner risk, logistics, value.

Measured on small hand-made frames (monitor/assess/dimensions.py) and end to end
on the stored demo data: each dimension appears with its drivers, and missing partner
scores, a missing pressure series or uncollected exports lower the data completeness
instead of adding risk.
"""

from __future__ import annotations

import re
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, select

from indicators.dimension_scores import (
    LOGISTICS_PRESSURE_ANCHORS,
    NET_IMPORT_RATIO_ANCHORS,
    PARTNER_RISK_ANCHORS,
    UNIT_VALUE_RATIO_ANCHORS,
)
from monitor.serve.api import ApiContext
from monitor.assess.assessment import run_assessment
from monitor.config.loader import ConfigError, load_config
from indicators.trade_totals import monthly_totals
from monitor.assess.dimensions import (
    DIMENSIONS,
    DimensionInputs,
    PartnerScore,
    measure_dependence,
    measure_logistics,
    measure_partner_risk,
    measure_dimensions,
    measure_partition_dimensions,
    measure_value,
)
from monitor.telemetry.metrics import StoredStateCollector, build_registry
from monitor.serve.server import create_http_app
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import RiskScore, TradeFlow
from tests.conftest import CONFIG_DIR, FrozenClock
from tests.shared_data import GSCPI, needs_gscpi


AS_OF = date(2025, 12, 1)
# The first end-to-end test runs on every backend (it covers the queries); the others
# vary only the configuration and run on SQLite to keep the suite fast.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
MONTHS = pd.date_range("2025-01-01", "2025-12-01", freq="MS")


def _flows(rows: list[tuple[str, str, str, float, float | None]]) -> pd.DataFrame:
    """Twelve equal months of (partner, product, flow, value, quantity) per row."""
    return pd.DataFrame([
        {"reporter": "CHN", "partner": partner, "product": product, "flow": flow, "period": period,
         "value": value, "quantity": np.nan if quantity is None else quantity}
        for partner, product, flow, value, quantity in rows for period in MONTHS])


def _score(risk: float) -> PartnerScore:
    return PartnerScore(risk=risk, period=date(2025, 1, 1), indicators=(("x", 0.0),))


# -- pure measurement on hand-made frames ---------------------------------------------------


@pytest.mark.parametrize(("imports", "exports", "collected", "ratio"), [
    (100.0, 25.0, True, 0.6),
    (100.0, None, True, 1.0),       # exports collected, none of these goods: imports only
    (100.0, 300.0, True, -0.5),
    (100.0, None, False, None),     # exports not collected: unknown, not zero
])
def test_dependence_is_the_net_import_ratio_over_the_window(imports, exports, collected, ratio):
    m = _flows([("JPN", "2605", "M", imports, None)])
    x = None if exports is None else _flows([("WORLD", "2605", "X", exports, None)])
    score, details, driver = measure_dependence(m, x, collected, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    if ratio is None:
        assert score is None and driver is None and "exports are unknown" in details["missing"]
        return
    assert details["net_import_ratio"] == pytest.approx(ratio)
    assert score == pytest.approx(np.interp(ratio, *zip(*NET_IMPORT_RATIO_ANCHORS)))
    assert f"{ratio:+.2f}" in driver[1] and f"{ratio:+.2f}" in driver[2]


def test_dependence_says_when_the_eu_strategic_dependency_criteria_hold():
    # Three years of data: the test's persistence (2 of 3 years) can be judged. With one
    # year only it is "unknown" (tests/unit/test_dependence_basis.py).
    years = pd.date_range("2023-01-01", "2025-12-01", freq="MS")
    rows = [("JPN", 90.0), ("KOR", 10.0)]
    m = pd.DataFrame([{"reporter": "CHN", "partner": p, "product": "370790", "flow": "M", "period": t,
                       "value": v, "quantity": np.nan} for p, v in rows for t in years])
    x = pd.DataFrame([{"reporter": "CHN", "partner": "WORLD", "product": "370790", "flow": "X", "period": t,
                       "value": 10.0, "quantity": np.nan} for t in years])
    _, details, driver = measure_dependence(m, x, True, AS_OF, 12, NET_IMPORT_RATIO_ANCHORS)
    assert details["eu_strategic_dependency"] == "met" and "EU strategic-dependency" in driver[1]
    assert details["eu_test"]["dependent_products"] == ["370790"]
    assert "欧盟战略依赖" in driver[2]


def test_partner_risk_weights_concentration_by_governance():
    m = _flows([("COD", "2605", "M", 90.0, None), ("ZMB", "2605", "M", 10.0, None)])
    poor = {"COD": _score(8.4), "ZMB": _score(5.2)}
    good = {"COD": _score(2.0), "ZMB": _score(2.0)}
    poor_score, details, driver = measure_partner_risk(m, poor, AS_OF, 12, 5.0, 0.8, PARTNER_RISK_ANCHORS)
    good_score, _, _ = measure_partner_risk(m, good, AS_OF, 12, 5.0, 0.8, PARTNER_RISK_ANCHORS)
    expected = (0.81 * 8.4 + 0.01 * 5.2) / 5.0
    assert details["relative_weighted_hhi"] == pytest.approx(expected)
    assert good_score < poor_score == 100.0
    # the code in the details, the country's name in each language's text
    assert details["main_risk_partner"] == "COD" and "DR Congo 90%" in driver[1] and "刚果（金）" in driver[2]


@pytest.mark.parametrize(("scores", "coverage"), [
    ({}, 0.0),                                   # no partner has a score
    ({"ZMB": 5.0}, 0.1),                         # the main supplier has none
])
def test_partner_risk_without_enough_scores_is_missing(scores, coverage):
    # Missing scores make the dimension missing (shown in completeness), never risk.
    m = _flows([("COD", "2605", "M", 90.0, None), ("ZMB", "2605", "M", 10.0, None)])
    score, details, driver = measure_partner_risk(
        m, {p: _score(r) for p, r in scores.items()}, AS_OF, 12, 5.0, 0.8, PARTNER_RISK_ANCHORS)
    assert score is None and driver is None
    assert details["coverage"] == pytest.approx(coverage)
    assert details["partners_without_score"][0] == "COD"


def test_a_partner_without_score_never_adds_partner_risk():
    m = _flows([("COD", "2605", "M", 10.0, None), ("ZMB", "2605", "M", 90.0, None)])
    both = measure_partner_risk(m, {"COD": _score(9.0), "ZMB": _score(9.0)}, AS_OF, 12, 5.0, 0.8,
                                PARTNER_RISK_ANCHORS)[0]
    one = measure_partner_risk(m, {"ZMB": _score(9.0)}, AS_OF, 12, 5.0, 0.8, PARTNER_RISK_ANCHORS)[0]
    assert one <= both


def test_node_totals_handed_in_give_the_partner_risk_the_window_rows_give(small_config):
    # The assessment hands each node's monthly totals (World row where given) to the partner-risk
    # dimension instead of totalling the window's rows again: the same sums, so the same result.
    nodes = small_config.catalog.chains[0].nodes[:3]
    months = pd.date_range("2024-01-01", "2025-12-01", freq="MS")  # two years: half outside the window
    frames = {}
    for i, node in enumerate(nodes[:2]):
        rows = [("COD", 60.0 + i), ("ZMB", 25.0), ("WORLD", 100.1 + i)]
        frames[node.id] = pd.DataFrame([
            {"reporter": "CHN", "partner": partner, "product": node.hs_codes[0], "flow": "M", "period": period,
             "value": value + k % 7, "quantity": np.nan}
            # no World row every fourth month: the partners' sum stands in for it
            for k, period in enumerate(months) for partner, value in rows if partner != "WORLD" or k % 4])
    frames[nodes[2].id] = frames[nodes[0].id].iloc[0:0]
    inputs = DimensionInputs(partner_scores={"COD": _score(8.4), "ZMB": _score(5.2)})
    assessment = small_config.settings.assessment
    partner_risk = assessment.dimensions.partner_risk.model_copy(update={"min_coverage": 0.5})
    settings = assessment.model_copy(update={
        "dimensions": assessment.dimensions.model_copy(update={"partner_risk": partner_risk})})
    totals = {node_id: monthly_totals(frame) for node_id, frame in frames.items() if not frame.empty}
    given = measure_partition_dimensions("c", nodes, frames, inputs, AS_OF, settings, import_totals=totals)
    counted = measure_partition_dimensions("c", nodes, frames, inputs, AS_OF, settings)
    for node in nodes:
        assert (given[node.id].dimensions, given[node.id].details, given[node.id].ranked_drivers) == (
            counted[node.id].dimensions, counted[node.id].details, counted[node.id].ranked_drivers), node.id
    # The World rows exceed the partners: the unallocated rest is in the denominator (coverage < 1).
    assert 0.5 < given[nodes[0].id].details["partner_risk"]["coverage"] < 0.95


@pytest.mark.parametrize(("last_period", "value", "score"), [
    ("2025-12-01", 2.0, 50.0),
    ("2025-09-01", 3.0, 70.0),      # three months old: still used
    ("2025-08-01", 3.0, None),      # older: missing
])
def test_logistics_uses_the_latest_value_within_its_age_limit(last_period, value, score):
    values = pd.Series([0.1, value], index=pd.to_datetime(["2020-01-01", last_period]))
    result, details, driver = measure_logistics("gscpi", values, AS_OF, 3, LOGISTICS_PRESSURE_ANCHORS)
    assert result == score
    if score is not None:
        assert f"{value:+.2f}" in driver[1] and details["period"] == last_period[:7]


def test_logistics_ignores_values_after_the_assessment_month():
    values = pd.Series([1.0, 4.5], index=pd.to_datetime(["2025-12-01", "2026-01-01"]))
    assert measure_logistics("gscpi", values, AS_OF, 3, LOGISTICS_PRESSURE_ANCHORS)[0] == 25.0


@needs_gscpi
def test_logistics_on_the_real_gscpi_december_2021_is_red():
    frame = pd.read_csv(GSCPI, parse_dates=["date"])
    values = frame.set_index(frame["date"].dt.to_period("M").dt.to_timestamp())["gscpi"]
    score, details, _ = measure_logistics("gscpi", values, date(2021, 12, 1), 3, LOGISTICS_PRESSURE_ANCHORS)
    assert details["pressure_sd"] == pytest.approx(4.49) and score > 85
    # No look-ahead: judged at 2019-06, the 2020-2021 peaks are not seen.
    assert measure_logistics("gscpi", values, date(2019, 6, 1), 3, LOGISTICS_PRESSURE_ANCHORS)[0] < 25


def test_value_is_the_import_weighted_geometric_mean_unit_value_ratio():
    m = _flows([("JPN", "2941", "M", 300.0, 3.0), ("JPN", "2936", "M", 100.0, 1.0)])    # 100 USD/kg each
    x = _flows([("WORLD", "2941", "X", 50.0, 1.0), ("WORLD", "2936", "X", 200.0, 1.0)])  # 50 and 200 USD/kg
    score, details, driver = measure_value(m, x, AS_OF, 12, 0.5, UNIT_VALUE_RATIO_ANCHORS)
    expected = float(np.exp((3 * np.log(0.5) + 1 * np.log(2.0)) / 4))
    assert details["unit_value_ratio"] == pytest.approx(expected)
    assert score == pytest.approx(np.interp(expected, *zip(*UNIT_VALUE_RATIO_ANCHORS)))
    assert f"{expected:.2f}" in driver[1] and f"{expected:.2f}" in driver[2]


def test_value_without_quantities_is_missing():
    m = _flows([("JPN", "2941", "M", 300.0, None)])
    x = _flows([("WORLD", "2941", "X", 50.0, None)])
    score, details, driver = measure_value(m, x, AS_OF, 12, 0.5, UNIT_VALUE_RATIO_ANCHORS)
    assert score is None and driver is None and "quantities" in details["missing"]
    assert measure_value(m, None, AS_OF, 12, 0.5, UNIT_VALUE_RATIO_ANCHORS)[0] is None


# -- end to end on the demo data -------------------------------------------------------------


@pytest.fixture
def config(small_config):
    # Two chains (small_config, tests/conftest.py): 15 nodes, with and without world-supply
    # stages, and the demo's cobalt; every dimension is measured per node, so more chains
    # repeat the same code on more nodes.
    return small_config


# Two years are enough for these dimensions (12-month window) and keep the test fast;
# the disruption engine then says "insufficient history" (its own test covers it).
TWO_YEARS = {"start": "2024-01", "end": "2025-12"}


@pytest.fixture(scope="module")
def two_years_result(demo_sqlite, small_config):
    """The two-chain configuration's assessment of two years of demo data (SQLite), run once for tests that read it."""
    engine = make_engine(demo_sqlite(**TWO_YEARS))
    try:
        return run_assessment(small_config, session_factory(engine), FrozenClock())
    finally:
        engine.dispose()


def _with_dimension(config, name: str, **changes):
    settings = config.settings.assessment
    dimension = getattr(settings.dimensions, name).model_copy(update=changes)
    dimensions = settings.dimensions.model_copy(update={name: dimension})
    assessment = settings.model_copy(update={"dimensions": dimensions})
    return config.model_copy(update={"settings": config.settings.model_copy(update={"assessment": assessment})})


def _nodes(result):
    return {(c.chain, n.node): n for c in result.chains for n in c.nodes}


@SQLITE_ONLY
def test_a_partition_measured_at_once_equals_its_nodes_measured_one_by_one(config, sessions, clock, store_demo):
    from monitor.assess.assessment import load_partition_data, plan_partitions

    store_demo(**TWO_YEARS)
    # Drop one partner's governance scores so some nodes miss partner risk while others in
    # the same batch have it, and give a node no imports at all.
    config = _with_dimension(config, "partner_risk", min_coverage=0.95)
    measured = 0
    for task in plan_partitions(config, AS_OF):
        with sessions() as session:
            data = load_partition_data(session, task)
        data.dimension_inputs.partner_scores.pop(sorted(data.dimension_inputs.partner_scores)[0], None)
        frames = {node.id: data.node_flows(node) for node in task.nodes}
        frames[task.nodes[-1].id] = data.empty_flows
        together = measure_partition_dimensions(task.chain.id, task.nodes, frames, data.dimension_inputs, AS_OF,
                                                config.settings.assessment)
        for node in task.nodes:
            alone = measure_dimensions(task.chain.id, node, frames[node.id], data.dimension_inputs, AS_OF,
                                       config.settings.assessment)
            assert (together[node.id].dimensions, together[node.id].details, together[node.id].ranked_drivers) == (
                alone.dimensions, alone.details, alone.ranked_drivers), node.id
            measured += 1
    assert measured == sum(len(chain.nodes) for chain in config.catalog.chains)


def test_every_new_dimension_is_scored_with_drivers_and_stored(config, sessions, clock, store_demo):
    store_demo(**TWO_YEARS)
    result = run_assessment(config, sessions, clock)
    nodes = _nodes(result)
    prefixes = {"dependence": ("import dependence:", "进口依赖："), "partner_risk": ("partner risk:", "来源国风险："),
                "logistics": ("logistics pressure:", "物流压力："), "value": ("value gap:", "价值差距："),
                "world_supply": ("world supply:", "全球供给：")}
    declared = {(c.id, n.id): bool(n.world_supply) for c in config.catalog.chains for n in c.nodes}
    for key, node in nodes.items():
        for dimension in DIMENSIONS:
            if dimension == "world_supply" and not declared[key]:
                assert dimension not in node.dimensions  # only nodes that name world-supply stages
                continue
            assert node.dimensions[dimension] is not None, (node.node, dimension)
            en, zh = prefixes[dimension]
            assert sum(d.startswith(en) for d in node.drivers) == 1, (node.node, dimension)
            driver_zh = next(d for d in node.drivers_zh if d.startswith(zh))
            assert any(ch.isdigit() for ch in driver_zh)
        assert node.own_score == max(v for v in node.dimensions.values() if v is not None)
    # The demo's cobalt comes from DR Congo (poor simulated governance): top partner risk.
    cobalt = nodes[("critical-minerals", "cobalt")]
    assert cobalt.dimensions["partner_risk"] == 100.0
    assert cobalt.dimension_details["partner_risk"]["main_risk_partner"] == "COD"
    with sessions() as session:
        stored = {(r.node, r.dimension): r for r in session.scalars(select(RiskScore).where(
            RiskScore.run_id == result.run_id, RiskScore.chain == "critical-minerals"))}
    assert stored[("cobalt", "partner_risk")].score == 100.0
    assert stored[("cobalt", "dependence")].details["net_import_ratio"] > 0.5
    assert stored[("cobalt", "value")].details["unit_value_ratio"] > 0
    # /metrics exports every dimension's score (the Grafana node x dimension table reads it).
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions))
    for dimension in DIMENSIONS:
        labels = {"chain": "critical-minerals", "node": "cobalt", "dimension": dimension}
        assert registry.get_sample_value("chainwatch_node_dimension_score", labels) == pytest.approx(
            cobalt.dimensions[dimension])
    # The API's chain detail lists them with the numbers behind each score.
    api = ApiContext(config, sessions, (), clock)
    client = TestClient(create_http_app(build_registry(sessions, clock)[0], sessions.kw["bind"], api))
    detail = client.get("/api/v1/chains/critical-minerals").json()
    dimensions = next(n for n in detail["nodes"] if n["id"] == "cobalt")["dimensions"]
    assert dimensions["partner_risk"]["details"]["main_risk_partner"] == "COD"
    assert {"dependence", "partner_risk", "logistics", "value"} <= set(dimensions)


@SQLITE_ONLY
@pytest.mark.parametrize(("dimension", "changes"), [
    ("partner_risk", {"series": ["absent.{partner}"]}),
    ("logistics", {"series": "absent.pressure"}),
])
def test_missing_partner_scores_or_pressure_lower_completeness_not_risk(config, sessions, clock, dimension, changes,
                                                                       store_demo, two_years_result):
    store_demo(**TWO_YEARS)
    full = _nodes(two_years_result)
    partial = _nodes(run_assessment(_with_dimension(config, dimension, **changes), sessions, clock))
    for key, node in partial.items():
        assert node.dimensions[dimension] is None
        assert "missing" in node.dimension_details[dimension]
        assert node.judgement.completeness < full[key].judgement.completeness
        assert node.own_score <= full[key].own_score
        assert not any(d.startswith(("partner risk:", "logistics pressure:")[dimension == "logistics"])
                       for d in node.drivers)


@SQLITE_ONLY
def test_uncollected_exports_leave_dependence_and_value_missing(config, sessions, clock, store_demo):
    store_demo(**TWO_YEARS)
    with sessions.begin() as session:
        session.execute(delete(TradeFlow).where(TradeFlow.flow == "X"))
    result = run_assessment(config, sessions, clock)
    for node in _nodes(result).values():
        assert node.dimensions["dependence"] is None and node.dimensions["value"] is None
        assert node.dimensions["partner_risk"] is not None


@SQLITE_ONLY
def test_a_switched_off_dimension_is_neither_measured_nor_expected(config, sessions, clock, store_demo):
    store_demo(**TWO_YEARS)
    without = _nodes(run_assessment(_with_dimension(config, "value", enabled=False), sessions, clock))
    for node in without.values():
        assert "value" not in node.dimensions and node.dimensions["dependence"] is not None
        assert not any(d.startswith("value gap:") for d in node.drivers)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(("dimension", "field", "value", "message"), [
    ("value", "anchors", [[0, 10], [1, 20]], "non-increasing"),
    ("dependence", "anchors", [[0, 10], [1, 120]], r"outside \[0, 100\]"),
    ("partner_risk", "series", ["wb.PV.EST"], "partner"),
    ("logistics", "series", "gscpi.{country}", "placeholders"),
])
def test_a_bad_dimension_setting_is_a_config_error_naming_the_field(tmp_path, dimension, field, value, message):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    path = target / "settings.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["assessment"]["dimensions"][dimension][field] = value
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(target, environ={})
    text = "\n".join(info.value.problems)
    assert f"assessment.dimensions.{dimension}.{field}" in text and re.search(message, text), text
