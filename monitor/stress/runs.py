"""Routine stress tests (常态化压力测试): stored data + scenario files → engine → results.

The engine (:mod:`indicators.stress`) is pure; this module gives it the baseline
(the home economy's imports per node, partner and HS code, averaged over the
trailing ``stress.window_months`` up to the latest stored month), turns a scenario
file's shocks and buffers into engine inputs per chain, and stores, prints and
alerts on the results. Nothing here collects data: run ``chainwatch assess --once``
(or the service) first.

Entry points
------------
* :func:`run_scenario`: one scenario on the stored data (the ``stress`` command).
* :func:`run_stress_suite`: every scenario of ``stress.scenarios_dir``, stored as one
  suite run (the scheduled job).
* :func:`stress_alert_subjects`: chains of the latest suite at or above
  ``stress.alert_threshold``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from alerts.model import AlertCandidate
from indicators.vocabulary import LEVEL_NAMES_ZH
from indicators.stress import (
    ChainStressResult,
    Input,
    NodeBuffers,
    NodeSpec,
    Shock,
    chain_result,
    headline_value_at_risk,
    sensitivity,
    simulate_network,
)
from monitor.assess.inputs import world_supply_observations
from monitor.assess.world_supply import world_shares
from monitor.clock import Clock
from monitor.config.loader import load_scenarios, node_buffers
from monitor.config.models import Catalog, Chain, Config, Names
from monitor.config.scenarios import Scenario, ShockConfig
from monitor.store.observations import latest_trade_period, load_trade_flows
from monitor.store.simulated_data import assessed_rows_simulated
from monitor.store.stress_results import (
    complete_stress_run,
    fail_stress_run,
    latest_stress_run,
    start_stress_run,
    stress_results,
)

log = logging.getLogger(__name__)


class NoStoredDataError(LookupError):
    """No trade flows of the home economy are stored: nothing to stress."""


@dataclass(frozen=True)
class Baseline:
    """Normal monthly imports per (chain, node): (partner, product) → mean value (USD/month)."""

    as_of: date
    window_months: int
    imports: dict[tuple[str, str], dict[tuple[str, str], float]]
    simulated: bool = False
    """The home economy's stored trade flows include simulated demo rows."""
    world_shares: dict[tuple[str, str], tuple[dict[str, float], str]] | None = None
    """(chain, node) → (ISO3 → share of world supply, basis) from stored ``usgs.*`` output."""


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's results on the chains it touches."""

    scenario: Scenario
    as_of: date
    chains: list[ChainStressResult]
    simulated: bool = False
    """The baseline was read from simulated demo rows (``simulated_data`` of the outputs)."""
    sensitivity: list[dict] | None = None
    """Tornado table of :func:`indicators.stress.sensitivity` (headline: total value at risk, USD)."""
    value_at_risk_usd: float = 0.0
    """The headline: total value at risk over every node (USD)."""
    assumptions: dict[str, dict] | None = None
    """Node key → the substitution basis used (world shares and where they come from)."""


def load_baseline(config: Config, session: Session) -> Baseline:
    """Average the trailing ``stress.window_months`` of stored imports per node, partner and product.

    A month without a row counts as zero (customs data omit months without trade).

    Raises
    ------
    NoStoredDataError
        If no trade flow of the home economy is stored.
    """
    catalog = config.catalog
    as_of = latest_trade_period(session, catalog.home)
    if as_of is None:
        raise NoStoredDataError(f"no trade flows of {catalog.home} are stored: run `chainwatch assess --once` "
                                "(or the service) first to collect data")
    window = config.settings.stress.window_months
    start = (pd.Timestamp(as_of) - pd.DateOffset(months=window - 1)).date()
    codes = sorted({c for chain in catalog.chains for node in chain.nodes for c in node.hs_codes})
    flows = load_trade_flows(session, catalog.home, codes, start=start, end=as_of)
    means = (flows.groupby(["product", "partner"])["value"].sum() / window) if not flows.empty else pd.Series(
        dtype=float)
    by_product: dict[str, dict[tuple[str, str], float]] = {}
    for (product, partner), value in means.items():
        by_product.setdefault(str(product), {})[(str(partner), str(product))] = float(value)
    imports = {}
    for chain in catalog.chains:
        for node in chain.nodes:
            merged: dict[tuple[str, str], float] = {}
            for code in node.hs_codes:
                merged.update(by_product.get(code, {}))
            imports[(chain.id, node.id)] = merged
    return Baseline(as_of=as_of, window_months=window, imports=imports,
                    simulated=assessed_rows_simulated(session, catalog.home),
                    world_shares=_stored_world_shares(config, session, as_of))


def _stored_world_shares(config: Config, session: Session, as_of: date
                         ) -> dict[tuple[str, str], tuple[dict[str, float], str]]:
    """Per node with stored world-supply stages: each producer's share of world output
    (:func:`monitor.assess.world_supply.world_shares`, up to ``as_of``) and its basis."""
    stems = sorted({s.series for c in config.catalog.chains for n in c.nodes for s in n.world_supply})
    stored = world_supply_observations(session, stems, as_of) if stems else {}
    out = {}
    for chain in config.catalog.chains:
        for node in chain.nodes:
            shares, basis = world_shares({s.series: stored.get(s.series) for s in node.world_supply})
            if basis:
                out[(chain.id, node.id)] = (shares, "stored " + ", ".join(basis))
    return out


def _engine_shock(shock: ShockConfig, config: Config) -> Shock:
    """The scenario's shock on the catalog network (node keys ``chain/node``)."""
    if shock.nodes or shock.chains:
        targets = set(shock.nodes)
        for chain in config.catalog.chains:
            if chain.id in shock.chains:
                targets |= {f"{chain.id}/{n.id}" for n in chain.nodes}
        nodes: frozenset[str] | None = frozenset(targets)
    else:
        nodes = None
    return Shock(kind=shock.kind, cut_share=shock.cut_share, start_month=shock.start_month, months=shock.months,
                 partner=shock.partner, nodes=nodes, products=frozenset(shock.products) if shock.products else None,
                 lead_time_days=float(shock.lead_time_days), recovery_months=shock.recovery_months)


def _touches(shock: Shock, chain: Chain) -> bool:
    """Whether the shock hits at least one node (and one of its HS codes) of ``chain``."""
    for node in chain.nodes:
        if not shock.hits_node(f"{chain.id}/{node.id}"):
            continue
        if shock.products is None or any(shock.hits_product(code) for code in node.hs_codes):
            return True
    return False


_ENGINE_BUFFER_FIELDS = ("inventory_days", "ramp_up_share_per_month", "alternative_capacity", "substitution_share",
                         "domestic_share", "input_dependence", "kind", "spare_capacity", "capacity_growth_per_year")


def network_specs(config: Config, scenario: Scenario | None, baseline: Baseline
                  ) -> tuple[list[NodeSpec], dict[str, dict]]:
    """Engine inputs for every node of the catalog, and per node the substitution basis.

    ``depends_on`` becomes an input with share ``input_dependence`` and no lead time;
    catalog ``inputs`` (any chain, or a ``depends_on`` node of the same chain, which it
    then replaces) keep their share and lead time. World shares come
    from stored ``usgs.*`` output where the node has it, else from the node's
    configured ``world_shares``; with neither, ``alternative_capacity`` bounds the
    replacement (the old rule).
    """
    specs, assumptions = [], {}
    stored = baseline.world_shares or {}
    for chain in config.catalog.chains:
        for node in chain.nodes:
            key = f"{chain.id}/{node.id}"
            merged = node_buffers(config, scenario, key)
            values = merged.model_dump()
            buffers = NodeBuffers(**{k: values[k] for k in _ENGINE_BUFFER_FIELDS if values.get(k) is not None})
            if (chain.id, node.id) in stored:
                shares, basis = stored[(chain.id, node.id)]
            elif merged.world_shares:
                shares, basis = dict(merged.world_shares), f"configured ({merged.source or 'illustrative'})"
            else:
                shares, basis = {}, "none: alternative_capacity x other partners' shipments"
            # an ``inputs`` entry naming a depends_on node states that edge's own share and lead
            # (cathode materials: only NCM/NCA need the precursors, all need lithium)
            stated = {inp.node for inp in node.inputs}
            inputs = [Input(f"{chain.id}/{dep}", buffers.input_dependence, 0) for dep in node.depends_on
                      if f"{chain.id}/{dep}" not in stated]
            inputs += [Input(inp.node, inp.share, inp.lead_months) for inp in node.inputs]
            specs.append(NodeSpec(key=key, imports=baseline.imports.get((chain.id, node.id), {}),
                                  inputs=tuple(inputs), criticality=node.criticality, buffers=buffers,
                                  world_shares=shares))
            assumptions[key] = {"kind": buffers.kind, "world_shares_basis": basis,
                                "source": merged.source or "illustrative",
                                "inputs": [{"node": i.node, "share": i.share, "lead_months": i.lead_months,
                                            "source": i.source} for i in node.inputs]}
    return specs, assumptions


def run_scenario(config: Config, scenario: Scenario, baseline: Baseline, with_sensitivity: bool = True
                 ) -> ScenarioOutcome:
    """Simulate ``scenario`` on the whole catalog network.

    Reported chains: those a shock touches and those a shortfall reaches through
    ``inputs``. ``with_sensitivity``: also the ±50 % tornado table.
    """
    thresholds = config.settings.assessment.levels.model_dump()
    shocks = [_engine_shock(c, config) for c in scenario.shocks]
    specs, assumptions = network_specs(config, scenario, baseline)
    nodes = simulate_network(specs, shocks, scenario.horizon_months)
    results = []
    for chain in config.catalog.chains:
        keys = [f"{chain.id}/{n.id}" for n in chain.nodes]
        reached = any(nodes[k].time_to_recover_months != 0 for k in keys)
        if not (reached or any(_touches(s, chain) for s in shocks)):
            continue
        chain_nodes = {}
        for node in chain.nodes:
            chain_nodes[node.id] = replace(nodes[f"{chain.id}/{node.id}"], node=node.id)
        results.append(chain_result(chain.id, chain_nodes, {n.id: n.criticality for n in chain.nodes},
                                    scenario.horizon_months, thresholds))
    table = sensitivity(specs, shocks, scenario.horizon_months) if with_sensitivity else None
    return ScenarioOutcome(scenario=scenario, as_of=baseline.as_of, chains=results, simulated=baseline.simulated,
                           sensitivity=table, value_at_risk_usd=headline_value_at_risk(nodes),
                           assumptions=assumptions)


def _monthly(node) -> list[dict]:
    return [
        {"month": t + 1, "shortfall": round(float(node.shortfall[t]), 4),
         "inventory_days": round(float(node.inventory_days[t]), 1),
         "import_loss": round(float(node.import_loss[t]), 4), "replacement": round(float(node.replacement[t]), 4),
         "domestic_loss": round(float(node.domestic_loss[t]), 4),
         "lead_time_loss": round(float(node.lead_time_loss[t]), 4) if node.lead_time_loss is not None else 0.0,
         "upstream_loss": round(float(node.upstream_loss[t]), 4) if node.upstream_loss is not None else 0.0}
        for t in range(len(node.shortfall))
    ]


def scenario_document(outcome: ScenarioOutcome) -> dict:
    """The ``stress --format json`` document (shape in docs/cli.md and docs/stress.md).

    ``peak_shortfall`` and ``shortfall`` are shares of normal demand (0-1);
    ``time_to_impact_months`` and ``months_to_recovery`` count months from the start
    of the scenario (see :class:`indicators.stress.NodeStressResult`).
    """
    assumptions = outcome.assumptions or {}
    return {
        "scenario": outcome.scenario.id,
        "horizon_months": outcome.scenario.horizon_months,
        "simulated_data": outcome.simulated,
        "value_at_risk_usd": round(outcome.value_at_risk_usd),
        "chains": [
            {"id": chain.chain, "impact_score": round(chain.impact_score, 1), "level": chain.level,
             "value_at_risk_usd": round(chain.value_at_risk_usd),
             "nodes": [
                 {"id": node.node, "kind": node.kind, "time_to_impact_months": node.time_to_impact_months,
                  "peak_shortfall": round(node.peak_shortfall, 4), "months_to_recovery": node.months_to_recovery,
                  "value_at_risk_usd": round(node.value_at_risk_usd),
                  "time_to_survive_months": node.time_to_survive_months,
                  "time_to_recover_months": node.time_to_recover_months,
                  "lead_time_effect_months": round(float(node.lead_time_loss.sum()), 4)
                  if node.lead_time_loss is not None else 0.0,
                  "path": list(node.path),
                  "substitution_basis": assumptions.get(f"{chain.chain}/{node.node}", {}).get("world_shares_basis"),
                  "monthly": _monthly(node)}
                 for node in chain.nodes.values()]}
            for chain in outcome.chains
        ],
        "sensitivity": [
            {**row, "low": round(row["low"]), "base": round(row["base"]), "high": round(row["high"]),
             "swing": round(row["swing"])} for row in (outcome.sensitivity or [])],
    }


def catalog_names(catalog: Catalog | None) -> dict[str, Names]:
    """Names by chain id and by ``chain/node`` key (the form of stress paths); empty without a catalog."""
    if catalog is None:
        return {}
    return {key: name for chain in catalog.chains
            for key, name in [(chain.id, chain.name), *((f"{chain.id}/{n.id}", n.name) for n in chain.nodes)]}


def _result_rows(outcome: ScenarioOutcome) -> list[dict]:
    """Stored rows: per chain (``node == ""``; TTS the first node's, TTR the last node's) and per node."""
    rows = []
    for chain in outcome.chains:
        worst = max(chain.nodes.values(), key=lambda n: n.peak_shortfall, default=None)
        recoveries = [n.months_to_recovery for n in chain.nodes.values()]
        recovered = [n.time_to_recover_months for n in chain.nodes.values()]
        rows.append({"scenario": outcome.scenario.id, "chain": chain.chain, "node": "",
                     "impact_score": chain.impact_score, "level": chain.level,
                     "peak_shortfall": 0.0 if worst is None else worst.peak_shortfall,
                     "time_to_impact_months": chain.time_to_impact_months,
                     "months_to_recovery": None if None in recoveries else max(recoveries, default=0),
                     "value_at_risk_usd": chain.value_at_risk_usd,
                     "time_to_survive_months": chain.time_to_impact_months,
                     "time_to_recover_months": None if None in recovered else max(recovered, default=0),
                     "path": None, "monthly": None})
        for node in chain.nodes.values():
            rows.append({"scenario": outcome.scenario.id, "chain": chain.chain, "node": node.node,
                         "impact_score": node.impact_score, "level": "", "peak_shortfall": node.peak_shortfall,
                         "time_to_impact_months": node.time_to_impact_months,
                         "months_to_recovery": node.months_to_recovery,
                         "value_at_risk_usd": node.value_at_risk_usd,
                         "time_to_survive_months": node.time_to_survive_months,
                         "time_to_recover_months": node.time_to_recover_months,
                         "path": list(node.path) or None, "monthly": _monthly(node)})
    return rows


@dataclass(frozen=True)
class StressSuiteResult:
    """What one suite run did."""

    run_id: int
    as_of: date
    outcomes: list[ScenarioOutcome]


def run_stress_suite(config: Config, sessions: sessionmaker[Session], clock: Clock) -> StressSuiteResult | None:
    """Run every scenario of ``stress.scenarios_dir`` on the stored data and store the results.

    The scheduled job (cron ``stress.schedule``). Returns None (and stores nothing)
    when there are no scenarios or no stored data yet, which is normal before the
    first collection. A failure is recorded as a failed suite run and re-raised;
    results of a run are stored in one transaction, all or nothing.

    Raises
    ------
    monitor.config.loader.ConfigError
        If a scenario file is invalid (every problem named by file and field).
    """
    scenarios = load_scenarios(config)
    if not scenarios:
        log.info("stress: no scenarios in %s", config.settings.stress.scenarios_dir)
        return None
    try:
        with sessions() as session:
            baseline = load_baseline(config, session)
    except NoStoredDataError as err:
        log.warning("stress: %s", err)
        return None
    run_id = start_stress_run(sessions, config.config_hash, clock())
    try:
        outcomes, rows = [], []
        for i, scenario in enumerate(scenarios, start=1):
            log.info("stress: scenario %d/%d %s", i, len(scenarios), scenario.id)
            outcome = run_scenario(config, scenario, baseline)
            outcomes.append(outcome)
            rows.extend(_result_rows(outcome))
        described = [{"id": o.scenario.id, "name": o.scenario.name.en, "name_zh": o.scenario.name.zh,
                      "description": o.scenario.description, "horizon_months": o.scenario.horizon_months,
                      "value_at_risk_usd": o.value_at_risk_usd, "sensitivity": o.sensitivity or []}
                     for o in outcomes]
        complete_stress_run(sessions, run_id, clock(), baseline.as_of, described, rows)
    except Exception as err:
        fail_stress_run(sessions, run_id, clock(), f"{type(err).__name__}: {err}")
        raise
    return StressSuiteResult(run_id=run_id, as_of=baseline.as_of, outcomes=outcomes)


@dataclass(frozen=True)
class StressAlertSubject:
    """A chain whose stress impact reached ``stress.alert_threshold`` in one scenario."""

    chain: str
    scenario: str
    scenario_name: str
    impact_score: float
    level: str
    time_to_impact_months: int | None
    summary_en: str
    summary_zh: str


def stress_alert_subjects(session: Session, config: Config) -> list[StressAlertSubject]:
    """Chains of the latest successful suite run with impact score >= ``stress.alert_threshold``.

    One subject per (scenario, chain); the alerting side turns them into alerts with
    labels ``chain``, ``node=""``, ``kind="stress"``, ``scenario``.
    """
    run = latest_stress_run(session)
    if run is None:
        return []
    threshold = config.settings.stress.alert_threshold
    names = {s["id"]: s for s in run.scenarios}
    subjects = []
    for row in stress_results(session, run.id, with_monthly=False):
        if row.node != "" or row.impact_score < threshold:
            continue
        info = names.get(row.scenario, {})
        try:  # the chain's name for people (a chain since removed from the catalog keeps its id)
            chain_en, chain_zh = config.catalog.chain(row.chain).name.en, config.catalog.chain(row.chain).name.zh
        except KeyError:
            chain_en = chain_zh = row.chain
        when = ("no shortfall within the horizon" if row.time_to_impact_months is None
                else f"shortfall after {row.time_to_impact_months} month(s)")
        when_zh = ("期内无缺口" if row.time_to_impact_months is None
                   else f"{row.time_to_impact_months} 个月后出现缺口")
        subjects.append(StressAlertSubject(
            chain=row.chain, scenario=row.scenario, scenario_name=info.get("name", row.scenario),
            impact_score=row.impact_score, level=row.level, time_to_impact_months=row.time_to_impact_months,
            summary_en=(f"Stress test {info.get('name', row.scenario)}: chain {chain_en} impact "
                        f"{row.impact_score:.0f}/100 ({row.level}), {when}"),
            summary_zh=(f"压力测试「{info.get('name_zh', row.scenario)}」：产业链「{chain_zh}」冲击分 "
                        f"{row.impact_score:.0f}/100（{LEVEL_NAMES_ZH.get(row.level, row.level)}），{when_zh}"),
        ))
    return subjects


STRESS_ALERT_KIND = "stress"
"""``kind`` label of stress-test alerts (one per scenario and chain, ``node=""``)."""


def stress_alert_candidates(subjects: list[StressAlertSubject], severity: dict[str, str]) -> list[AlertCandidate]:
    """Alert candidates of :func:`stress_alert_subjects` for the alert lifecycle.

    Labels ``alertname="ChainStressImpact"``, ``chain``, ``node=""``, ``kind="stress"``,
    ``scenario`` and ``severity`` (the chain's stress level through ``severity``, the
    alerts.yaml level → severity map; a score at or above the threshold but below blue
    counts as ``info``). The ``scenario`` label keeps them apart from the assessment's
    chain alerts and from each other.
    """
    candidates = []
    for subject in subjects:
        candidates.append(AlertCandidate(
            labels={"alertname": "ChainStressImpact", "chain": subject.chain, "node": "", "kind": STRESS_ALERT_KIND,
                    "scenario": subject.scenario, "severity": severity.get(subject.level, "info")},
            annotations={"summary": subject.summary_en, "summary_zh": subject.summary_zh,
                         "level": subject.level, "score": f"{subject.impact_score:.1f}",
                         "scenario_name": subject.scenario_name,
                         "time_to_impact_months": ("" if subject.time_to_impact_months is None
                                                   else str(subject.time_to_impact_months))},
        ))
    return candidates


def stress_report_section(session: Session, catalog: Catalog | None = None) -> list[dict]:
    """``document["stress_tests"]`` of the report: the latest suite, one entry per scenario.

    With ``catalog``, chains, nodes and the worst node's path also carry their names
    (``name``, ``name_zh``; ``worst_path_names``, ``worst_path_names_zh``).
    """
    run = latest_stress_run(session)
    if run is None:
        return []
    by_scenario: dict[str, dict] = {}
    for info in run.scenarios:
        by_scenario[info["id"]] = {**info, "run_id": run.id, "as_of": None if run.as_of is None
                                   else run.as_of.strftime("%Y-%m"), "chains": []}
    chains: dict[tuple[str, str], dict] = {}
    for row in stress_results(session, run.id, with_monthly=False):
        entry = by_scenario.setdefault(row.scenario, {"id": row.scenario, "name": row.scenario, "chains": []})
        if row.node == "":
            chains[(row.scenario, row.chain)] = {
                "id": row.chain, "impact_score": round(row.impact_score, 1), "level": row.level,
                "time_to_impact_months": row.time_to_impact_months, "months_to_recovery": row.months_to_recovery,
                "value_at_risk_usd": _rounded(row.value_at_risk_usd),
                "time_to_survive_months": row.time_to_survive_months,
                "time_to_recover_months": row.time_to_recover_months,
                "worst_node": None, "worst_path": None, "peak_shortfall": round(row.peak_shortfall, 4), "nodes": []}
            entry["chains"].append(chains[(row.scenario, row.chain)])
        else:
            chains[(row.scenario, row.chain)]["nodes"].append({
                "id": row.node, "peak_shortfall": round(row.peak_shortfall, 4),
                "time_to_impact_months": row.time_to_impact_months, "months_to_recovery": row.months_to_recovery,
                "value_at_risk_usd": _rounded(row.value_at_risk_usd),
                "time_to_survive_months": row.time_to_survive_months,
                "time_to_recover_months": row.time_to_recover_months, "path": row.path})
    names = catalog_names(catalog)
    for chain in chains.values():
        worst = max(chain["nodes"], key=lambda n: n["peak_shortfall"], default=None)
        if worst is not None and worst["peak_shortfall"] > 0:
            chain["worst_node"], chain["worst_path"] = worst["id"], worst["path"]
        if names:
            for item, key in [(chain, chain["id"]), *((n, f"{chain['id']}/{n['id']}") for n in chain["nodes"])]:
                item["name"], item["name_zh"] = names[key].en, names[key].zh
            path = chain["worst_path"] or []
            chain["worst_path_names"] = [names[k].en if k in names else k for k in path]
            chain["worst_path_names_zh"] = [names[k].zh if k in names else k for k in path]
    return list(by_scenario.values())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value)
