"""What a risk-assessment report says, as plain data (also written as ``report.json``).

Built from one stored assessment run (the latest successful one by default), the run
before it (for changes), the catalog (owners, lead departments: 链长制) and the stored
observations (concentration tables and the series behind the plots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from indicators.concentration import concentration_against_totals
from indicators.vocabulary import AGGREGATE_PARTNERS, WORLD_PARTNERS
from indicators.trade_totals import monthly_totals
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import Chain, Config, Node
from monitor.assess.dimensions import DIMENSIONS
from monitor.assess.provenance import estimate_summary, mirror_summary
from monitor.store.assessments import (
    RunInfo,
    StoredScore,
    flagged_periods,
    get_run,
    previous_successful_run,
    run_scores,
)
from monitor.store.observations import load_observations, load_trade_flows
from monitor.report.policy_events import policy_events_section
from monitor.stress.runs import stress_report_section

TOP_PARTNERS = 3
REPORTED_DIMENSIONS = ("concentration", "disruption", *DIMENSIONS)
"""Dimension columns of the report, in this order; a dimension not measured in a run is left out."""
TOP_RISKS = 10
_TREND_DEADBAND = 0.01  # HHI change (0-1 scale) below which the trend is "flat"


class ReportError(LookupError):
    """There is nothing to report (no such run, or no successful run yet)."""


@dataclass
class NodeSeries:
    """A series to plot for a node, with the periods flagged as disruptions."""

    series_id: str
    label: str
    values: pd.Series
    flagged: list[date]


def _month(value: date | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m")


def _score_fields(score: StoredScore | None, previous: StoredScore | None, language: str) -> dict:
    if score is None:
        return {"score": None, "level": "none", "raw_level": "none", "completeness": 0.0, "drivers": [],
                "previous_score": None, "previous_level": None, "score_change": None}
    change = None
    if score.score is not None and previous is not None and previous.score is not None:
        change = round(score.score - previous.score, 1)
    drivers = score.drivers_zh if language == "zh" and score.drivers_zh else score.drivers
    return {
        "score": None if score.score is None else round(score.score, 1), "level": score.level,
        "raw_level": score.raw_level, "completeness": round(score.completeness, 3), "drivers": drivers,
        "previous_score": None if previous is None or previous.score is None else round(previous.score, 1),
        "previous_level": None if previous is None else previous.level, "score_change": change,
    }


def _concentration(node: Node, flows: pd.DataFrame, as_of: date, window: int, min_coverage: float) -> dict | None:
    """Top partners over the trailing window, and the HHI one year earlier for the trend arrow.

    Shares are of the World total where the source gives one; below ``min_coverage``
    of it named, the HHI and its trend are unknown (None) and only the coverage and the
    named partners' shares of the World total are shown.
    """
    frame = flows[flows["product"].isin(node.hs_codes)]
    if frame.empty:
        return None
    end = pd.Timestamp(as_of)
    result: dict = {}
    for label, shift in (("current", 0), ("year_before", 12)):
        stop = end - pd.DateOffset(months=shift)
        start = stop - pd.DateOffset(months=window - 1)
        part = frame[(frame["period"] >= start) & (frame["period"] <= stop)].assign(node=node.id)
        if part.empty:
            result[label] = None
            continue
        table = concentration_against_totals(part, keys=("node",))
        if not len(table):
            result[label] = None
            continue
        result[label] = table.iloc[0]
        if label == "current":
            named = part[~part["partner"].isin(WORLD_PARTNERS) & ~part["partner"].isin(AGGREGATE_PARTNERS)]
            shares = named.groupby("partner")["value"].sum().sort_values(ascending=False)
            total = float(table["total"].iloc[0])
            result["top_partners"] = [
                {"partner": p, "name": country_name_en(p), "name_zh": country_name_zh(p), "share": round(float(v / total), 4)}
                for p, v in shares.head(TOP_PARTNERS).items()]
            # Mirror and estimated parts of the window (docs/provenance.md): shown beside the partners.
            result["provenance"] = mirror_summary(part) | estimate_summary(part)
    current, before = result["current"], result["year_before"]
    if current is None:
        return None

    def known(row) -> bool:
        return row is not None and float(row["partner_coverage"]) >= min_coverage

    coverage = round(float(current["partner_coverage"]), 4)
    if not known(current):
        return {"window_months": window, "hhi": None, "hhi_bounds": None, "top_share": None,
                "n_partners": int(current["n_partners"]), "partner_coverage": coverage,
                "hhi_year_before": None, "hhi_change": None, "trend": "unknown",
                "top_partners": result["top_partners"], **result["provenance"]}
    hhi_change = float(current["hhi"] - before["hhi"]) if known(before) else None
    trend = "unknown" if hhi_change is None else (
        "up" if hhi_change > _TREND_DEADBAND else "down" if hhi_change < -_TREND_DEADBAND else "flat")
    return {
        "window_months": window, "hhi": round(float(current["hhi"]), 4),
        "hhi_bounds": [round(float(current["hhi"]), 4), round(float(current["hhi_upper"]), 4)],
        "top_share": round(float(current["top_share"]), 4), "n_partners": int(current["n_partners"]),
        "partner_coverage": coverage,
        "hhi_year_before": round(float(before["hhi"]), 4) if known(before) else None,
        "hhi_change": None if hhi_change is None else round(hhi_change, 4), "trend": trend,
        "top_partners": result["top_partners"], **result["provenance"],
    }


def build_report(config: Config, session: Session, run_id: int | None = None,
                 simulated: bool = False) -> tuple[dict, dict[str, list[NodeSeries]]]:
    """The report document and, per ``chain/node``, the series to plot.

    Raises
    ------
    ReportError
        If ``run_id`` does not exist or did not succeed, or no run succeeded yet.
    """
    run = get_run(session, run_id)
    if run is None:
        raise ReportError(f"no assessment run {run_id}" if run_id else "no successful assessment run yet: "
                          "run `chainwatch assess --once` first")
    if run.status != "succeeded":
        raise ReportError(f"assessment run {run.id} has status {run.status!r}; only successful runs are reported")
    language = config.settings.report.language
    previous = previous_successful_run(session, run.id)
    scores = {(s.chain, s.node, s.dimension): s for s in run_scores(session, run.id)}
    before = {(s.chain, s.node, s.dimension): s for s in run_scores(session, previous.id)} if previous else {}
    catalog = config.catalog
    codes = sorted({c for chain in catalog.chains for node in chain.nodes for c in node.hs_codes})
    as_of = run.as_of
    flows = load_trade_flows(session, catalog.home, codes if as_of else [], end=as_of, with_provenance=True)
    production_ids = sorted({s for chain in catalog.chains for node in chain.nodes for s in node.production_series})
    production = load_observations(session, production_ids, end=as_of)
    flagged = flagged_periods(session, run.id)

    chains, plots = [], {}
    for chain in catalog.chains:
        chain_doc = _chain_document(chain, scores, before, language)
        for node in chain.nodes:
            key = (chain.id, node.id, "overall")
            node_doc = {
                "id": node.id, "name": node.name.en, "name_zh": node.name.zh, "stage": node.stage,
                "criticality": node.criticality, "hs_codes": list(node.hs_codes), "depends_on": list(node.depends_on),
                **_score_fields(scores.get(key), before.get(key), language),
                **_dimensions(scores, chain.id, node.id),
                "concentration": _concentration(node, flows, as_of, config.settings.assessment.window_months,
                                                config.settings.assessment.min_partner_coverage)
                if as_of else None,
            }
            chain_doc["nodes"].append(node_doc)
            plots[f"{chain.id}/{node.id}"] = _node_series(chain, node, flows, production, flagged)
        chains.append(chain_doc)

    all_nodes = [(c, n) for c in chains for n in c["nodes"] if n["score"] is not None]
    top = sorted(all_nodes, key=lambda cn: -cn[1]["score"])[:TOP_RISKS]
    changes = [
        {"chain": c["id"], "node": n["id"] if n is not None else "", "from": (n or c)["previous_level"],
         "to": (n or c)["level"], "score_change": (n or c)["score_change"]}
        for c in chains for n in [None, *c["nodes"]]
        if (n or c)["previous_level"] is not None and (n or c)["previous_level"] != (n or c)["level"]
    ]
    document = {
        "title": "chainwatch risk assessment" if language == "en" else "chainwatch 产业链风险评估报告",
        "language": language,
        "simulated_data": simulated,
        "home": catalog.home,
        "home_name": country_name_en(catalog.home) if language == "en" else country_name_zh(catalog.home),
        "run": _run_document(run),
        "previous_run": None if previous is None else _run_document(previous),
        "chains": chains,
        "top_risks": [{"chain": c["id"], "chain_name": c["name"], "node": n["id"], "node_name": n["name"],
                       "node_name_zh": n["name_zh"], "score": n["score"], "level": n["level"],
                       "drivers": n["drivers"][:3]} for c, n in top],
        "changes": changes,
        "stress_tests": stress_report_section(session, catalog),  # latest successful stress-test suite, [] if none
        # announced since the previous assessment (docs/events.md); [] when none is stored
        "policy_events": policy_events_section(
            session, catalog, (run.finished_at or run.started_at).date(),
            None if previous is None else (previous.finished_at or previous.started_at).date()),
    }
    return document, plots


def _dimensions(scores: dict, chain: str, node: str) -> dict:
    """``dimensions``: score per dimension measured in the run (None = missing data);
    ``dimensions_missing``: why each missing one is missing."""
    values, missing = {}, {}
    for dim in REPORTED_DIMENSIONS:
        stored = scores.get((chain, node, dim))
        if stored is None:
            continue  # not measured in this run (switched off, or a run from before it existed)
        values[dim] = None if stored.score is None else round(stored.score, 1)
        if stored.score is None:
            missing[dim] = (stored.details or {}).get("missing") or "no data"
    stored = scores.get((chain, node, "world_supply"))
    stages = [s for s in ((stored.details or {}).get("stages", []) if stored is not None else []) if "top_share" in s]
    return {"dimensions": values, "dimensions_missing": missing, "world_supply": stages}


def _run_document(run: RunInfo) -> dict:
    return {"id": run.id, "as_of": _month(run.as_of), "status": run.status, "config_hash": run.config_hash,
            "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
            "duration_seconds": None if run.duration_seconds is None else round(run.duration_seconds, 3)}


def _chain_document(chain: Chain, scores: dict, before: dict, language: str) -> dict:
    key = (chain.id, "", "overall")
    return {
        "id": chain.id, "name": chain.name.en, "name_zh": chain.name.zh,
        "owner": chain.owner.model_dump(), "lead_department": chain.lead_department,
        "co_departments": list(chain.co_departments), "chain_leader_firm": chain.chain_leader_firm,
        "contacts": [c.model_dump(exclude={"receiver"}) for c in chain.contacts],
        **_score_fields(scores.get(key), before.get(key), language),
        "nodes": [],
    }


def _node_series(chain: Chain, node: Node, flows: pd.DataFrame, production: pd.DataFrame,
                 flagged: dict[str, set[date]]) -> list[NodeSeries]:
    series = []
    imports = flows[flows["product"].isin(node.hs_codes)]
    if not imports.empty:
        sid = f"imports.{chain.id}.{node.id}"
        series.append(NodeSeries(sid, "import value (USD per month)", monthly_totals(imports), sorted(flagged.get(sid, ()))))
    for sid in node.production_series:
        values = production[production["series_id"] == sid]
        if not values.empty:
            series.append(NodeSeries(sid, f"output index {sid}", values.set_index("period")["value"].sort_index(),
                                     sorted(flagged.get(sid, ()))))
    return series
