"""The assessment pipeline: stored data → indicators → node and chain scores → storage.

For every node of every chain it measures:

* **concentration** of the home economy's imports of the node's HS codes over the
  trailing ``window_months`` (HHI and top-partner share across partner countries);
* **disruption** of the node's monthly import value (sum over its HS codes and
  partners) and of its production series, with the STL robust-residual detector,
  judging the latest period with data up to that period only.

Scores and levels come from :mod:`indicators.scoring`; missing data gives a missing
score, never risk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from indicators.concentration import concentration_table
from indicators.disruption import DetectionResult, StlResidualDetector
from indicators.scoring import chain_score, concentration_score, disruption_score, level_for, node_score
from monitor.clock import Clock
from monitor.config.models import Chain, Config
from monitor.storage.assessments import complete_run, fail_run, start_run
from monitor.storage.observations import latest_trade_period, load_observations, load_trade_flows

log = logging.getLogger(__name__)


@dataclass
class NodeAssessment:
    """A node's scores, level and what drove them."""

    chain: str
    node: str
    name_en: str
    name_zh: str
    criticality: float
    score: float | None
    level: str
    dimensions: dict[str, float | None]
    drivers: list[str] = field(default_factory=list)
    drivers_zh: list[str] = field(default_factory=list)


@dataclass
class ChainAssessment:
    """A chain's score and level, with its nodes."""

    chain: str
    name_en: str
    name_zh: str
    score: float | None
    level: str
    nodes: list[NodeAssessment]

    @property
    def drivers(self) -> list[str]:
        """The drivers of its riskiest node."""
        worst = max(self.nodes, key=lambda n: n.score if n.score is not None else -1.0)
        return [f"{worst.node}: {d}" for d in worst.drivers]


@dataclass
class AssessmentResult:
    """Everything one assessment produced."""

    run_id: int
    as_of: date | None
    chains: list[ChainAssessment]
    findings: list[tuple[str, str, DetectionResult]]
    """(chain, node, detector verdict) for every series judged."""


def build_detector(config: Config) -> StlResidualDetector:
    """The disruption detector with the configured sensitivity."""
    settings = config.settings.assessment
    return StlResidualDetector(
        threshold=settings.detector.threshold, robust=settings.detector.robust,
        min_history=settings.min_history_months, seasonal_window=settings.detector.seasonal_window,
        max_history=settings.detector.max_history_months,
    )


def _months_back(period: date, months: int) -> date:
    stamp = pd.Timestamp(period) - pd.DateOffset(months=months)
    return date(stamp.year, stamp.month, 1)


def _node_flows(chain: Chain, flows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    by_product = {product: group for product, group in flows.groupby("product", sort=False)}
    empty = flows.iloc[0:0]
    return {
        node.id: pd.concat([by_product.get(code, empty) for code in node.hs_codes], ignore_index=True)
        for node in chain.nodes
    }


def run_assessment(config: Config, sessions: sessionmaker[Session], clock: Clock) -> AssessmentResult:
    """Assess every chain on the stored data and store the run (all or nothing)."""
    run_id = start_run(sessions, config.config_hash, clock())
    try:
        with sessions() as session:
            result = _assess(config, session, run_id)
        findings = [_finding_row(chain, node, r) for chain, node, r in result.findings]
        complete_run(sessions, run_id, result.as_of, findings, _score_rows(result), clock())
        return result
    except Exception as err:
        fail_run(sessions, run_id, f"{type(err).__name__}: {err}", clock())
        raise


def _assess(config: Config, session: Session, run_id: int) -> AssessmentResult:
    settings = config.settings.assessment
    thresholds = settings.levels.model_dump()
    catalog = config.catalog
    detector = build_detector(config)
    as_of = latest_trade_period(session, catalog.home)
    codes = sorted({code for chain in catalog.chains for node in chain.nodes for code in node.hs_codes})
    flows = load_trade_flows(session, catalog.home, codes, end=as_of) if as_of else load_trade_flows(session, catalog.home, [])
    production_ids = sorted({s for chain in catalog.chains for node in chain.nodes for s in node.production_series})
    production = load_observations(session, production_ids, end=as_of)
    production_by_id = {sid: g.set_index("period")["value"].sort_index() for sid, g in production.groupby("series_id")}
    window_start = pd.Timestamp(_months_back(as_of, settings.window_months - 1)) if as_of else None

    chains: list[ChainAssessment] = []
    all_findings: list[tuple[str, str, DetectionResult]] = []
    for chain in catalog.chains:
        node_flows = _node_flows(chain, flows)
        nodes: list[NodeAssessment] = []
        for node in chain.nodes:
            frame = node_flows[node.id]
            # (contribution to the score, English, Chinese), sorted below so the first
            # driver is the one that set the node's score.
            ranked: list[tuple[float, str, str]] = []
            conc = None
            if as_of is not None and not frame.empty:
                recent = frame[frame["period"] >= window_start].assign(chain=chain.id, node=node.id)
                table = concentration_table(recent, keys=("chain", "node")) if not recent.empty else None
                if table is not None and len(table):
                    row = table.iloc[0]
                    conc = float(concentration_score(float(row["hhi"]), float(row["top_share"])))
                    ranked.append((conc,
                        f"imports concentrated: top partner {row['top_partner']} {row['top_share']:.0%} "
                        f"of the last {settings.window_months} months, HHI {row['hhi']:.2f} "
                        f"({int(row['n_partners'])} partners)",
                        f"进口集中：近{settings.window_months}个月最大来源国 {row['top_partner']} 占 "
                        f"{row['top_share']:.0%}，HHI {row['hhi']:.2f}（{int(row['n_partners'])} 个来源国）",
                    ))
            # series id -> (values, what the series is, in English and Chinese)
            series: dict[str, tuple[pd.Series, str, str]] = {}
            if not frame.empty:
                series[f"imports.{chain.id}.{node.id}"] = (
                    frame.groupby("period")["value"].sum().sort_index(), "import value (USD)", "进口额（美元）")
            for sid in node.production_series:
                if sid in production_by_id:
                    series[sid] = (production_by_id[sid], f"output index {sid}", f"产出指数 {sid}")
            disruption_scores: list[float] = []
            for sid, (values, label_en, label_zh) in series.items():
                result = detector.judge(values, series_id=sid)
                all_findings.append((chain.id, node.id, result))
                if result.status not in ("flagged", "normal"):
                    continue  # insufficient history or a missing month: no score, never risk
                contribution = float(disruption_score(result.score, threshold=detector.threshold))
                disruption_scores.append(contribution)
                if result.status == "flagged" and result.direction == "down":
                    ranked.append((contribution, f"{label_en}: {result.explanation_en}",
                                   f"{label_zh}：{result.explanation_zh}"))
            disruption = max(disruption_scores) if disruption_scores else None
            ranked.sort(key=lambda item: -item[0])
            drivers = [en for _, en, _ in ranked]
            drivers_zh = [zh for _, _, zh in ranked]
            dims = {"concentration": conc, "disruption": disruption}
            score = node_score(dims)
            nodes.append(NodeAssessment(
                chain=chain.id, node=node.id, name_en=node.name.en, name_zh=node.name.zh,
                criticality=node.criticality, score=score,
                level=level_for(score, thresholds) if score is not None else "none",
                dimensions=dims, drivers=drivers, drivers_zh=drivers_zh,
            ))
        score = chain_score([n.score for n in nodes], [n.criticality for n in nodes])
        chains.append(ChainAssessment(
            chain=chain.id, name_en=chain.name.en, name_zh=chain.name.zh, score=score,
            level=level_for(score, thresholds) if score is not None else "none", nodes=nodes,
        ))
    return AssessmentResult(run_id=run_id, as_of=as_of, chains=chains, findings=all_findings)


def _finding_row(chain: str, node: str, r: DetectionResult) -> dict:
    def num(value):
        return None if value is None or pd.isna(value) else float(value)

    return {
        "chain": chain, "node": node, "series_id": r.series_id, "method": r.method,
        "period": None if r.period is None or pd.isna(r.period) else date(r.period.year, r.period.month, 1),
        "status": r.status, "direction": r.direction, "observed": num(r.observed),
        "expected": num(r.expected), "lower": num(r.lower), "upper": num(r.upper),
        "score": num(r.score), "explanation_en": r.explanation_en, "explanation_zh": r.explanation_zh,
    }


def _score_rows(result: AssessmentResult) -> list[dict]:
    rows = []
    for chain in result.chains:
        rows.append({"chain": chain.chain, "node": "", "dimension": "overall", "score": chain.score,
                     "level": chain.level, "drivers": chain.drivers})
        for node in chain.nodes:
            rows.append({"chain": chain.chain, "node": node.node, "dimension": "overall",
                         "score": node.score, "level": node.level, "drivers": node.drivers})
            for dimension, value in node.dimensions.items():
                rows.append({"chain": chain.chain, "node": node.node, "dimension": dimension,
                             "score": value, "level": "", "drivers": []})
    return rows
