"""The assessment pipeline: stored data → indicators → node and chain scores → storage.

For every node of every chain it measures:

* **concentration** of the home economy's imports of the node's HS codes over the
  trailing ``window_months`` (HHI and top-partner share across partner countries);
* **disruption** of the node's monthly import value (sum over its HS codes and
  partners) and of its production series, with the two-stage disruption engine
  (robust screen, then a statsmodels forecast model on candidates), judging the
  latest period with data up to that period only; and a collapse of the main
  supplier's share (the signature of an export control).

Then it judges: a node's own score is its worst dimension; risk propagates along
``depends_on`` (a red upstream node raises its dependants); the chain score is the
criticality-weighted combination with the weakest-link floor; levels get hysteresis
against the previous run. Scores and levels come from :mod:`indicators.scoring`;
missing data gives a missing score, never risk, and every score carries its data
completeness and its change since the previous run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from indicators.concentration import concentration_table
from indicators.disruption import DetectionResult
from indicators.disruption_engine import DisruptionEngine
from indicators.partner_share import PartnerShareCollapseDetector
from indicators.scoring import (
    apply_hysteresis,
    chain_score,
    concentration_score,
    disruption_score,
    level_for,
    node_score,
    propagate_along_dependencies,
    weakest_link_floor,
)
from monitor.clock import Clock
from monitor.config.models import Chain, Config, Node
from monitor.storage.assessments import PreviousScore, complete_run, fail_run, previous_scores, start_run
from monitor.storage.observations import latest_trade_period, load_observations, load_trade_flows

log = logging.getLogger(__name__)
TOP_PARTNERS_STORED = 10
"""Partners whose shares are kept per node (metrics export at most this many)."""


@dataclass
class Judgement:
    """A score with its level, hysteresis state, completeness and change since last run."""

    score: float | None
    raw_level: str
    level: str
    runs_below: int
    completeness: float
    previous_score: float | None = None
    previous_level: str | None = None

    @property
    def score_change(self) -> float | None:
        """Score minus the previous run's score (None if either is missing)."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


@dataclass
class NodeAssessment:
    """A node's scores, level and what drove them."""

    chain: str
    node: str
    name_en: str
    name_zh: str
    criticality: float
    own_score: float | None
    judgement: Judgement
    dimensions: dict[str, float | None]
    drivers: list[str] = field(default_factory=list)
    drivers_zh: list[str] = field(default_factory=list)
    concentration: dict | None = None

    @property
    def score(self) -> float | None:
        """The node's score after propagation from its inputs."""
        return self.judgement.score

    @property
    def level(self) -> str:
        """The reported (hysteretic) level."""
        return self.judgement.level


@dataclass
class ChainAssessment:
    """A chain's score and level, with its nodes."""

    chain: str
    name_en: str
    name_zh: str
    judgement: Judgement
    nodes: list[NodeAssessment]

    @property
    def score(self) -> float | None:
        """The chain's score."""
        return self.judgement.score

    @property
    def level(self) -> str:
        """The reported (hysteretic) level."""
        return self.judgement.level

    def _riskiest_node(self) -> NodeAssessment:
        return max(self.nodes, key=lambda n: n.score if n.score is not None else -1.0)

    @property
    def drivers(self) -> list[str]:
        """The drivers of its riskiest node."""
        worst = self._riskiest_node()
        return [f"{worst.name_en}: {d}" for d in worst.drivers]

    @property
    def drivers_zh(self) -> list[str]:
        """The drivers of its riskiest node, in Chinese."""
        worst = self._riskiest_node()
        return [f"{worst.name_zh}：{d}" for d in worst.drivers_zh]


@dataclass
class AssessmentResult:
    """Everything one assessment produced."""

    run_id: int
    as_of: date | None
    chains: list[ChainAssessment]
    findings: list[tuple[str, str, DetectionResult]]
    """(chain, node, detector verdict) for every series judged."""


@dataclass
class NodeMeasurement:
    """What the indicators measured on one node, before judgement."""

    dimensions: dict[str, float | None]
    ranked_drivers: list[tuple[float, str, str]]
    """(contribution to the score, English, Chinese)."""
    inputs_expected: int
    inputs_available: int
    findings: list[DetectionResult]
    concentration: dict | None = None
    """HHI, top share, partner count and the top partners' shares of the window, if measured."""


def build_detector(config: Config) -> DisruptionEngine:
    """The two-stage disruption engine with the configured sensitivity."""
    settings = config.settings.assessment
    return DisruptionEngine(
        threshold=settings.detector.threshold, max_lag=settings.detector.max_lag,
        min_history=settings.min_history_months,
        max_history=settings.detector.max_history_months,
    )


def build_share_detector(config: Config) -> PartnerShareCollapseDetector:
    """The partner-share-collapse detector (export-control signature) with the configured sensitivity."""
    settings = config.settings.assessment.partner_share
    return PartnerShareCollapseDetector(drop_points=settings.drop_points, window=settings.window_months,
                                        min_share=settings.min_share)


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


def _months_back(period: date, months: int) -> date:
    stamp = pd.Timestamp(period) - pd.DateOffset(months=months)
    return date(stamp.year, stamp.month, 1)


class _StoredData:
    """The stored observations one assessment reads, loaded once."""

    def __init__(self, config: Config, session: Session):
        catalog = config.catalog
        self.as_of = latest_trade_period(session, catalog.home)
        codes = sorted({c for chain in catalog.chains for node in chain.nodes for c in node.hs_codes})
        flows = load_trade_flows(session, catalog.home, codes if self.as_of else [], end=self.as_of)
        self._by_product = {product: group for product, group in flows.groupby("product", sort=False)}
        self._empty = flows.iloc[0:0]
        ids = sorted({s for chain in catalog.chains for node in chain.nodes for s in node.production_series})
        production = load_observations(session, ids, end=self.as_of)
        self.production = {sid: g.set_index("period")["value"].sort_index()
                           for sid, g in production.groupby("series_id")}

    def node_flows(self, node: Node) -> pd.DataFrame:
        """Every import flow of the node's HS codes."""
        return pd.concat([self._by_product.get(code, self._empty) for code in node.hs_codes], ignore_index=True)


def _measure_node(chain: Chain, node: Node, data: _StoredData, config: Config,
                  detector: DisruptionEngine, share_detector: PartnerShareCollapseDetector) -> NodeMeasurement:
    window = config.settings.assessment.window_months
    frame = data.node_flows(node)
    ranked: list[tuple[float, str, str]] = []
    findings: list[DetectionResult] = []
    conc = None
    details = None
    if data.as_of is not None and not frame.empty:
        window_start = pd.Timestamp(_months_back(data.as_of, window - 1))
        recent = frame[frame["period"] >= window_start].assign(chain=chain.id, node=node.id)
        table = concentration_table(recent, keys=("chain", "node")) if not recent.empty else None
        if table is not None and len(table):
            row = table.iloc[0]
            conc = float(concentration_score(float(row["hhi"]), float(row["top_share"])))
            partner_values = recent.groupby("partner")["value"].sum().sort_values(ascending=False, kind="stable")
            details = {
                "window_months": window, "hhi": float(row["hhi"]), "top_share": float(row["top_share"]),
                "top_partner": str(row["top_partner"]), "n_partners": int(row["n_partners"]),
                "top_partners": [{"partner": str(p), "share": float(v / partner_values.sum())}
                                 for p, v in partner_values.head(TOP_PARTNERS_STORED).items()],
            }
            ranked.append((
                conc,
                f"imports concentrated: top partner {row['top_partner']} {row['top_share']:.0%} "
                f"of the last {window} months, HHI {row['hhi']:.2f} ({int(row['n_partners'])} partners)",
                f"进口集中：近{window}个月最大来源国 {row['top_partner']} 占 {row['top_share']:.0%}，"
                f"HHI {row['hhi']:.2f}（{int(row['n_partners'])} 个来源国）",
            ))
    # series id -> (values, what the series is, in English and Chinese)
    series: dict[str, tuple[pd.Series, str, str]] = {}
    if not frame.empty:
        series[f"imports.{chain.id}.{node.id}"] = (
            frame.groupby("period")["value"].sum().sort_index(), "import value (USD)", "进口额（美元）")
    for sid in node.production_series:
        if sid in data.production:
            series[sid] = (data.production[sid], f"output index {sid}", f"产出指数 {sid}")
    disruption_scores: list[float] = []
    for sid, (values, label_en, label_zh) in series.items():
        result = detector.judge(values, series_id=sid)
        findings.append(result)
        if result.status not in ("flagged", "normal"):
            continue  # insufficient history or a missing month: no score, never risk
        contribution = float(disruption_score(result.score, threshold=detector.threshold))
        disruption_scores.append(contribution)
        if result.status == "flagged" and result.direction == "down":
            ranked.append((contribution, f"{label_en}: {result.explanation_en}", f"{label_zh}：{result.explanation_zh}"))
    if data.as_of is not None and not frame.empty:
        # The node's partners across all its HS codes: does its main supplier's share collapse?
        node_partners = (frame.assign(product=node.id)
                         .groupby(["reporter", "partner", "product", "period"], as_index=False)["value"].sum())
        for result in share_detector.detect(node_partners, at=pd.Timestamp(data.as_of)):
            findings.append(result)
            if result.status not in ("flagged", "normal") or pd.isna(result.score):
                continue
            contribution = float(disruption_score(result.score, threshold=share_detector.drop_points))
            disruption_scores.append(contribution)
            if result.status == "flagged":
                ranked.append((contribution, f"main supplier share: {result.explanation_en}",
                               f"主要来源份额：{result.explanation_zh}"))
    # Inputs: the concentration window, the main-supplier share, one judged series per
    # import aggregate and per configured production series.
    expected = 3 + len(node.production_series)
    available = (conc is not None) + len(disruption_scores)
    return NodeMeasurement(
        dimensions={"concentration": conc, "disruption": max(disruption_scores) if disruption_scores else None},
        ranked_drivers=sorted(ranked, key=lambda item: -item[0]),
        inputs_expected=expected, inputs_available=available, findings=findings, concentration=details,
    )


def _judge(score: float | None, previous: PreviousScore | None, completeness: float, config: Config) -> Judgement:
    settings = config.settings.assessment
    thresholds = settings.levels.model_dump()
    raw = level_for(score, thresholds) if score is not None else "none"
    level, below = apply_hysteresis(
        raw, previous.level if previous else None, previous.runs_below if previous else 0,
        settings.hysteresis_runs)
    return Judgement(score=score, raw_level=raw, level=level, runs_below=below, completeness=completeness,
                     previous_score=previous.score if previous else None,
                     previous_level=previous.level if previous else None)


def _assess(config: Config, session: Session, run_id: int) -> AssessmentResult:
    settings = config.settings.assessment
    thresholds = settings.levels.model_dump()
    detector = build_detector(config)
    share_detector = build_share_detector(config)
    data = _StoredData(config, session)
    previous = previous_scores(session)
    chains: list[ChainAssessment] = []
    all_findings: list[tuple[str, str, DetectionResult]] = []
    for chain in config.catalog.chains:
        measured = {node.id: _measure_node(chain, node, data, config, detector, share_detector)
                    for node in chain.nodes}
        own = {node_id: node_score(m.dimensions) for node_id, m in measured.items()}
        propagated = propagate_along_dependencies(
            own, {n.id: n.depends_on for n in chain.nodes}, settings.propagation_factor)
        nodes: list[NodeAssessment] = []
        for node in chain.nodes:
            m = measured[node.id]
            all_findings.extend((chain.id, node.id, f) for f in m.findings)
            ranked = list(m.ranked_drivers)
            score = propagated[node.id]
            if score is not None and (own[node.id] is None or score > own[node.id]):
                source = max((d for d in node.depends_on if propagated.get(d) is not None),
                             key=lambda d: propagated[d])
                ranked.insert(0, (
                    score,
                    f"inherits risk from upstream {source} (score {propagated[source]:.0f} × "
                    f"{settings.propagation_factor:g})",
                    f"上游环节 {source} 风险传导（风险分 {propagated[source]:.0f} × {settings.propagation_factor:g}）",
                ))
            completeness = m.inputs_available / m.inputs_expected
            nodes.append(NodeAssessment(
                chain=chain.id, node=node.id, name_en=node.name.en, name_zh=node.name.zh,
                criticality=node.criticality, own_score=own[node.id],
                judgement=_judge(score, previous.get((chain.id, node.id)), completeness, config),
                dimensions=m.dimensions, drivers=[en for _, en, _ in ranked], drivers_zh=[zh for _, _, zh in ranked],
                concentration=m.concentration,
            ))
        combined = chain_score([n.score for n in nodes], [n.criticality for n in nodes])
        combined = weakest_link_floor(
            combined, [n.level for n in nodes], [n.criticality for n in nodes], thresholds,
            settings.weakest_link_min_criticality)
        completeness = sum(n.judgement.completeness for n in nodes) / len(nodes)
        chains.append(ChainAssessment(
            chain=chain.id, name_en=chain.name.en, name_zh=chain.name.zh,
            judgement=_judge(combined, previous.get((chain.id, "")), completeness, config), nodes=nodes,
        ))
    return AssessmentResult(run_id=run_id, as_of=data.as_of, chains=chains, findings=all_findings)


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


def _judgement_row(chain: str, node: str, j: Judgement, drivers: list[str], drivers_zh: list[str]) -> dict:
    return {"chain": chain, "node": node, "dimension": "overall", "score": j.score, "level": j.level,
            "raw_level": j.raw_level, "runs_below": j.runs_below, "completeness": j.completeness,
            "drivers": drivers, "drivers_zh": drivers_zh}


def _score_rows(result: AssessmentResult) -> list[dict]:
    rows = []
    for chain in result.chains:
        rows.append(_judgement_row(chain.chain, "", chain.judgement, chain.drivers, chain.drivers_zh))
        for node in chain.nodes:
            rows.append(_judgement_row(chain.chain, node.node, node.judgement, node.drivers, node.drivers_zh))
            for dimension, value in node.dimensions.items():
                rows.append({"chain": chain.chain, "node": node.node, "dimension": dimension,
                             "score": value, "level": "", "raw_level": "", "runs_below": 0,
                             "completeness": 1.0 if value is not None else 0.0, "drivers": [],
                             "details": node.concentration if dimension == "concentration" else None})
    return rows
