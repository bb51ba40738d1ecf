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
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from alerts.model import AlertCandidate
from indicators.stress import (
    ChainStressResult,
    NodeBaseline,
    NodeBuffers,
    Shock,
    simulate_chain,
)
from monitor.clock import Clock
from monitor.config.loader import load_scenarios, node_buffers
from monitor.config.models import Chain, Config
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


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's results on the chains it touches."""

    scenario: Scenario
    as_of: date
    chains: list[ChainStressResult]
    simulated: bool = False
    """The baseline was read from simulated demo rows (``simulated_data`` of the outputs)."""


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
                    simulated=assessed_rows_simulated(session, catalog.home))


def _engine_shock(shock: ShockConfig, chain_id: str, node_ids: list[str]) -> Shock | None:
    """The shock as it applies to one chain, or None if it does not touch the chain."""
    if shock.nodes or shock.chains:
        targets = {ref.split("/", 1)[1] for ref in shock.nodes if ref.split("/", 1)[0] == chain_id}
        if chain_id in shock.chains:
            targets = set(node_ids)
        if not targets:
            return None
        nodes: frozenset[str] | None = frozenset(targets)
    else:
        nodes = None
    return Shock(kind=shock.kind, cut_share=shock.cut_share, start_month=shock.start_month, months=shock.months,
                 partner=shock.partner, nodes=nodes, products=frozenset(shock.products) if shock.products else None)


def _touches(shock: Shock, chain: Chain) -> bool:
    """Whether the shock hits at least one node (and one of its HS codes) of ``chain``."""
    for node in chain.nodes:
        if not shock.hits_node(node.id):
            continue
        if shock.products is None or any(shock.hits_product(code) for code in node.hs_codes):
            return True
    return False


def run_scenario(config: Config, scenario: Scenario, baseline: Baseline) -> ScenarioOutcome:
    """Simulate ``scenario`` on every chain one of its shocks touches."""
    thresholds = config.settings.assessment.levels.model_dump()
    results = []
    for chain in config.catalog.chains:
        node_ids = [n.id for n in chain.nodes]
        shocks = [s for s in (_engine_shock(c, chain.id, node_ids) for c in scenario.shocks) if s is not None]
        shocks = [s for s in shocks if _touches(s, chain)]
        if not shocks:
            continue
        baselines = [NodeBaseline(node.id, baseline.imports.get((chain.id, node.id), {}), tuple(node.depends_on),
                                  node.criticality) for node in chain.nodes]
        buffers = {}
        for node in chain.nodes:
            merged = node_buffers(config, scenario, f"{chain.id}/{node.id}")
            buffers[node.id] = NodeBuffers(**{k: v for k, v in merged.model_dump().items() if v is not None})
        results.append(simulate_chain(chain.id, baselines, shocks, scenario.horizon_months, buffers, thresholds))
    return ScenarioOutcome(scenario=scenario, as_of=baseline.as_of, chains=results, simulated=baseline.simulated)


def _monthly(node) -> list[dict]:
    return [
        {"month": t + 1, "shortfall": round(float(node.shortfall[t]), 4),
         "inventory_days": round(float(node.inventory_days[t]), 1),
         "import_loss": round(float(node.import_loss[t]), 4), "replacement": round(float(node.replacement[t]), 4),
         "domestic_loss": round(float(node.domestic_loss[t]), 4)}
        for t in range(len(node.shortfall))
    ]


def scenario_document(outcome: ScenarioOutcome) -> dict:
    """The ``stress --format json`` document (shape in issue 10 / DESIGN.md).

    ``peak_shortfall`` and ``shortfall`` are shares of normal demand (0-1);
    ``time_to_impact_months`` and ``months_to_recovery`` count months from the start
    of the scenario (see :class:`indicators.stress.NodeStressResult`).
    """
    return {
        "scenario": outcome.scenario.id,
        "horizon_months": outcome.scenario.horizon_months,
        "simulated_data": outcome.simulated,
        "chains": [
            {"id": chain.chain, "impact_score": round(chain.impact_score, 1), "level": chain.level,
             "nodes": [
                 {"id": node.node, "time_to_impact_months": node.time_to_impact_months,
                  "peak_shortfall": round(node.peak_shortfall, 4), "months_to_recovery": node.months_to_recovery,
                  "monthly": _monthly(node)}
                 for node in chain.nodes.values()]}
            for chain in outcome.chains
        ],
    }


def scenario_table(outcome: ScenarioOutcome) -> str:
    """A plain-text table of a scenario's results for the terminal."""
    scenario = outcome.scenario
    lines = [(f"Scenario {scenario.id}: {scenario.name.en} ({scenario.horizon_months} months, "
              f"baseline: imports up to {outcome.as_of:%Y-%m})"
              + ("  (SIMULATED DEMO DATA)" if outcome.simulated else ""))]
    if not outcome.chains:
        lines.append("  no chain is touched by this scenario's shocks")

    def months(value: int | None, never: str) -> str:
        return never if value is None else str(value)

    for chain in outcome.chains:
        impact = ("no shortfall within the horizon" if chain.time_to_impact_months is None
                  else f"first shortfall after {chain.time_to_impact_months} month(s)")
        lines.append(f"\n{chain.chain}: impact {chain.impact_score:.1f}/100, level {chain.level}, {impact}")
        lines.append(f"  {'node':<28} {'impact in':>9} {'peak short':>10} {'recovered':>9}")
        for node in chain.nodes.values():
            lines.append(f"  {node.node:<28} {months(node.time_to_impact_months, '-'):>9} "
                         f"{node.peak_shortfall:>10.1%} {months(node.months_to_recovery, 'no'):>9}")
    lines.append("\nimpact in / recovered: months from the scenario start; recovered 'no' = still short "
                 "at the end of the horizon")
    return "\n".join(lines)


def _result_rows(outcome: ScenarioOutcome) -> list[dict]:
    rows = []
    for chain in outcome.chains:
        worst = max(chain.nodes.values(), key=lambda n: n.peak_shortfall, default=None)
        recoveries = [n.months_to_recovery for n in chain.nodes.values()]
        rows.append({"scenario": outcome.scenario.id, "chain": chain.chain, "node": "",
                     "impact_score": chain.impact_score, "level": chain.level,
                     "peak_shortfall": 0.0 if worst is None else worst.peak_shortfall,
                     "time_to_impact_months": chain.time_to_impact_months,
                     "months_to_recovery": None if None in recoveries else max(recoveries, default=0),
                     "monthly": None})
        for node in chain.nodes.values():
            rows.append({"scenario": outcome.scenario.id, "chain": chain.chain, "node": node.node,
                         "impact_score": node.impact_score, "level": "", "peak_shortfall": node.peak_shortfall,
                         "time_to_impact_months": node.time_to_impact_months,
                         "months_to_recovery": node.months_to_recovery, "monthly": _monthly(node)})
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
        described = [{"id": s.id, "name": s.name.en, "name_zh": s.name.zh, "description": s.description,
                      "horizon_months": s.horizon_months} for s in scenarios]
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
        when = ("no shortfall within the horizon" if row.time_to_impact_months is None
                else f"shortfall after {row.time_to_impact_months} month(s)")
        when_zh = ("期内无缺口" if row.time_to_impact_months is None
                   else f"{row.time_to_impact_months} 个月后出现缺口")
        subjects.append(StressAlertSubject(
            chain=row.chain, scenario=row.scenario, scenario_name=info.get("name", row.scenario),
            impact_score=row.impact_score, level=row.level, time_to_impact_months=row.time_to_impact_months,
            summary_en=(f"Stress test {info.get('name', row.scenario)}: chain {row.chain} impact "
                        f"{row.impact_score:.0f}/100 ({row.level}), {when}"),
            summary_zh=(f"压力测试「{info.get('name_zh', row.scenario)}」：产业链 {row.chain} 冲击分 "
                        f"{row.impact_score:.0f}/100（{row.level}），{when_zh}"),
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


def stress_report_section(session: Session) -> list[dict]:
    """``document["stress_tests"]`` of the report: the latest suite, one entry per scenario."""
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
                "worst_node": None, "peak_shortfall": round(row.peak_shortfall, 4), "nodes": []}
            entry["chains"].append(chains[(row.scenario, row.chain)])
        else:
            chains[(row.scenario, row.chain)]["nodes"].append({
                "id": row.node, "peak_shortfall": round(row.peak_shortfall, 4),
                "time_to_impact_months": row.time_to_impact_months, "months_to_recovery": row.months_to_recovery})
    for chain in chains.values():
        worst = max(chain["nodes"], key=lambda n: n["peak_shortfall"], default=None)
        if worst is not None and worst["peak_shortfall"] > 0:
            chain["worst_node"] = worst["id"]
    return list(by_scenario.values())
