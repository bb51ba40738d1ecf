"""The assessment pipeline: stored data → indicators → node and chain scores → storage.

For every node of every chain it measures:

* **concentration** of the home economy's imports of the node's HS codes over the
  trailing ``window_months`` (HHI and top-partner share across partner countries);
* **disruption** of the node's monthly import value (sum over its HS codes and
  partners) and of its production series, with the two-stage disruption engine
  (robust screen, then a statsmodels forecast model on candidates), judging the
  latest period with data up to that period only; and a collapse of the main
  supplier's share (the signature of an export control);
* **dependence**, **partner risk**, **logistics pressure** and **value** (unit-value
  gap) from exports, partner governance scores and a pressure index where stored
  (:mod:`monitor.assess.dimensions`).

Measuring is split into partitions (a chain, or a group of a big chain's nodes,
:func:`plan_partitions`); each reads only its own data and runs where
``assessment.executor`` says (in process, a local process pool or a Dask cluster,
:mod:`monitor.assess.executors`), so no process holds every observation.

Then it judges, centrally: a node's own score is its worst dimension; risk propagates along
``depends_on`` (a red upstream node raises its dependants); the chain score is the
criticality-weighted combination with the weakest-link floor; levels get hysteresis
against the previous run. Scores and levels come from :mod:`indicators.scoring`;
missing data gives a missing score, never risk, and every score carries its data
completeness and its change since the previous run.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from indicators.concentration import concentration_against_totals, partner_shares
from indicators.disruption import DetectionResult
from indicators.disruption_engine import DisruptionEngine
from indicators.partner_share import PartnerShareCollapseDetector
from indicators.screening import SeriesMatrix
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
from indicators.tables import text_codes
from indicators.trade_totals import monthly_totals
from indicators.vocabulary import AGGREGATE_PARTNERS, UNKNOWN, WORLD_PARTNERS
from monitor.assess.executors import PartitionExecutor, build_executor
from monitor.clock import Clock
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import AssessmentSettings, Chain, Config, Node
from monitor.records import ESTIMATE_FLAGS
from monitor.assess.inputs import exports_collected, load_dimension_inputs
from monitor.assess.dimensions import (
    DimensionInputs,
    DimensionMeasurement,
    measure_partition_dimensions,
)
from monitor.assess.provenance import estimate_summaries, mirror_summaries, with_estimate_note, with_mirror_note
from monitor.store.assessments import PreviousScore, complete_run, fail_run, previous_scores, start_run
from monitor.store.database import make_engine, session_factory
from monitor.store.observations import latest_trade_period, load_observations, load_trade_flows

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
    dimension_details: dict[str, dict] = field(default_factory=dict)

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
    details: dict[str, dict] = field(default_factory=dict)
    """Per exposure dimension (dependence, partner_risk, ...): the numbers behind its score, or why it is missing."""


def build_detector(settings: AssessmentSettings) -> DisruptionEngine:
    """The two-stage disruption engine with the configured sensitivity."""
    return DisruptionEngine(
        threshold=settings.detector.threshold, max_lag=settings.detector.max_lag,
        min_history=settings.min_history_months,
        max_history=settings.detector.max_history_months,
    )


def build_share_detector(settings: AssessmentSettings) -> PartnerShareCollapseDetector:
    """The partner-share-collapse detector (export-control signature) with the configured sensitivity."""
    settings = settings.partner_share
    return PartnerShareCollapseDetector(drop_points=settings.drop_points, window=settings.window_months,
                                        min_share=settings.min_share)


def run_assessment(config: Config, sessions: sessionmaker[Session], clock: Clock,
                   executor: PartitionExecutor | None = None) -> AssessmentResult:
    """Assess every chain on the stored data and store the run (all or nothing).

    Nodes are measured partition by partition on ``executor`` (default: the one
    ``assessment.executor`` configures); judgement happens here, on all of them.
    """
    run_id = start_run(sessions, config.config_hash, clock())
    try:
        result = _assess(config, sessions, run_id, executor or build_executor(config.settings.assessment))
        findings = [_finding_row(chain, node, r) for chain, node, r in result.findings]
        complete_run(sessions, run_id, result.as_of, findings, _score_rows(result), clock())
        return result
    except Exception as err:
        fail_run(sessions, run_id, f"{type(err).__name__}: {err}", clock())
        raise


def _months_back(period: date, months: int) -> date:
    stamp = pd.Timestamp(period) - pd.DateOffset(months=months)
    return date(stamp.year, stamp.month, 1)


# -- partitions: what one worker loads and measures ----------------------------


@dataclass(frozen=True)
class PartitionTask:
    """One unit of work: a group of one chain's nodes, with what measuring them needs.

    Picklable (it travels to pool processes and Dask workers). ``database_url`` is
    None for the in-process executor, which reuses the caller's sessions.
    """

    chain: Chain
    nodes: tuple[Node, ...]
    home: str
    as_of: date | None
    settings: AssessmentSettings
    world_supply_sources: tuple[tuple[str, str], ...] = ()
    """``(series prefix, source id)`` of the configured sources storing world-supply series."""
    exports_collected: bool | None = None
    """Whether the home economy's exports are stored for the window, asked once per run
    (:func:`monitor.assess.inputs.exports_collected`; None: each partition asks)."""
    # Kept out of repr: the URL may carry the database password (tasks can end up in logs).
    database_url: str | None = field(default=None, repr=False)


@dataclass
class PartitionData:
    """The stored data of one partition, latest vintages up to ``as_of`` only."""

    as_of: date | None
    flows: pd.DataFrame
    """The home economy's import flows of the partition's HS codes (columns of :data:`TRADE_FLOW_COLUMNS`,
    ``provenance`` and ``estimate_flags``)."""
    rows_of_product: dict[str, np.ndarray]
    """HS code -> the positions of its rows in ``flows``, in order."""
    production: dict[str, pd.Series]
    """Production series id -> monthly values."""
    dimension_inputs: DimensionInputs | None = None
    """Exports, partner scores and the logistics series (monitor/assess/inputs.py)."""

    @property
    def empty_flows(self) -> pd.DataFrame:
        return self.flows.iloc[0:0]

    def node_flows(self, node: Node) -> pd.DataFrame:
        """Every import flow of the node's HS codes (in the order of its codes)."""
        parts = [self.rows_of_product[c] for c in node.hs_codes if c in self.rows_of_product]
        return self.flows.take(np.concatenate(parts)).reset_index(drop=True) if parts else self.empty_flows


def _rows_by_value(column: pd.Series) -> dict:
    """Each distinct value of ``column`` -> the positions of its rows, in order: one stable sort
    instead of a frame per value (a partition has about 1,000 HS codes)."""
    codes, uniques = pd.factorize(column)
    order = np.argsort(codes, kind="stable")
    return dict(zip(uniques, np.split(order, np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])))


def plan_partitions(config: Config, as_of: date | None, database_url: str | None = None,
                    exports_collected: bool | None = None) -> list[PartitionTask]:
    """Split the catalog into partitions: one per chain, big chains in groups of nodes.

    Judgement across nodes (propagation, chain score) happens after all partitions
    are measured, so a chain may be split anywhere.
    """
    settings = config.settings.assessment
    size = settings.partition_max_nodes
    world_sources = tuple((prefix, s.id) for s in config.sources.sources
                          if (prefix := getattr(s, "series_prefix", None)) is not None)
    return [
        PartitionTask(chain=chain, nodes=tuple(chain.nodes[i:i + size]), home=config.catalog.home,
                      as_of=as_of, settings=settings, database_url=database_url,
                      exports_collected=exports_collected, world_supply_sources=world_sources)
        for chain in config.catalog.chains for i in range(0, len(chain.nodes), size)
    ]


def load_partition_data(session: Session, task: PartitionTask) -> PartitionData:
    """Read the flows of the partition's HS codes, its production series and the exposure dimensions' inputs."""
    codes = sorted({c for node in task.nodes for c in node.hs_codes})
    # The CIF/FOB factor is not used here: not read.
    flows = load_trade_flows(session, task.home, codes if task.as_of else [], end=task.as_of,
                             with_provenance=("provenance", ESTIMATE_FLAGS))
    ids = sorted({s for node in task.nodes for s in node.production_series})
    production = load_observations(session, ids, end=task.as_of) if ids else None
    return PartitionData(
        as_of=task.as_of,
        flows=flows,
        rows_of_product=_rows_by_value(flows["product"]),
        production={} if production is None else {
            sid: g.set_index("period")["value"].sort_index() for sid, g in production.groupby("series_id")},
        dimension_inputs=load_dimension_inputs(
            session, task.home, codes, flows["partner"].unique(), task.as_of, task.chain.id,
            [n.id for n in task.nodes], task.settings, exports_known=task.exports_collected,
            world_supply_stems=[s.series for n in task.nodes for s in n.world_supply],
            world_supply_sources=task.world_supply_sources),
    )


def measure_partition(task: PartitionTask, sessions: sessionmaker[Session] | None = None) -> list[NodeMeasurement]:
    """Load one partition's data and measure its nodes (in ``task.nodes`` order).

    Runs in the caller's process (``sessions`` given) or in a worker, which opens its
    own connection to ``task.database_url``.
    """
    sessions = sessions if sessions is not None else _worker_sessions(task.database_url)
    with sessions() as session:
        data = load_partition_data(session, task)
    detector = build_detector(task.settings)
    share_detector = build_share_detector(task.settings)
    frames = {node.id: data.node_flows(node) for node in task.nodes}
    # Each node's monthly import totals, computed once: judged as a series and used by the partner-risk dimension.
    totals = {node_id: monthly_totals(frame) for node_id, frame in frames.items() if not frame.empty}
    bilateral = judge_bilateral_flows(task, frames, detector)
    own_series = judge_node_series(task, frames, data, detector, totals)
    shares = judge_partner_shares(task, frames, share_detector)
    exposures = measure_partition_dimensions(task.chain.id, task.nodes, frames, data.dimension_inputs, data.as_of,
                                             task.settings, task.home, import_totals=totals)
    concentration = measure_partition_concentration(frames, data.as_of, task.settings.window_months,
                                                    task.settings.min_partner_coverage)
    return [_measure_node(task.chain, node, frames[node.id], data, detector, share_detector,
                          bilateral.get(node.id, []), exposures[node.id],
                          shares=shares.get(node.id, []), own_series=own_series.get(node.id, []),
                          concentration=concentration.get(node.id, (None, None, None)))
            for node in task.nodes]


@functools.cache
def _worker_sessions(database_url: str | None) -> sessionmaker[Session]:
    # One engine per worker process and database, reused by every partition it measures.
    if database_url is None:
        raise ValueError("a partition measured outside the assessing process needs a database URL")
    return session_factory(make_engine(database_url))


def _window_start(as_of: date, window: int) -> pd.Timestamp:
    return pd.Timestamp(_months_back(as_of, window - 1))


def top_partners(frame: pd.DataFrame, as_of: date | None, window: int, n: int) -> list[str]:
    """The node's ``n`` largest partners by import value over the concentration window (World rows excluded)."""
    if as_of is None or frame.empty or n == 0:
        return []
    recent = frame[(frame["period"] >= _window_start(as_of, window)) & ~frame["partner"].isin(WORLD_PARTNERS)]
    values = recent.groupby("partner")["value"].sum()
    # Ties broken by partner code so every executor picks the same partners.
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    return [str(p) for p, v in ranked[:n] if v > 0]


def judge_bilateral_flows(task: PartitionTask, frames: dict[str, pd.DataFrame],
                          detector: DisruptionEngine) -> dict[str, list[tuple[str, str, DetectionResult]]]:
    """Judge every HS code x top-partner import flow of the partition's nodes in one batch.

    Off unless ``bilateral_series_top_partners`` > 0. Each flow is judged at the
    assessment's month (a flow without it is ``missing``, never risk) by
    :meth:`DisruptionEngine.detect` on one matrix of all the partition's flows.
    Returns node id -> (HS code, partner, verdict).
    """
    n = task.settings.bilateral_series_top_partners
    if n == 0 or task.as_of is None:
        return {}
    keys: dict[str, tuple[str, str, str]] = {}
    cells = []  # per node: (its flows' series ids, each row's flow, month numbers, values)
    for node in task.nodes:
        frame = frames[node.id]
        partners = top_partners(frame, task.as_of, task.settings.window_months, n)
        if not partners:
            continue
        chosen = frame[frame["partner"].isin(partners)]
        # Series ids are built once per flow, not per row (a partition has ~10^6 rows).
        product_code, products = text_codes(chosen["product"])
        partner_code, partner_names = text_codes(chosen["partner"])
        pair, row_pair = np.unique(product_code * len(partner_names) + partner_code, return_inverse=True)
        ids = []
        for code in pair.tolist():
            product, partner = products[code // len(partner_names)], partner_names[code % len(partner_names)]
            ids.append(f"imports.{task.chain.id}.{node.id}.{product}.{partner}")
            keys[ids[-1]] = (node.id, str(product), str(partner))
        cells.append((np.asarray(ids, dtype=object), row_pair,
                      chosen["period"].to_numpy().astype("datetime64[M]").astype(np.int64),
                      chosen["value"].to_numpy(dtype="float64")))
    if not cells:
        return {}
    matrix = _series_matrix(cells)
    judged: dict[str, list[tuple[str, str, DetectionResult]]] = {}
    node_threshold = {node.id: task.chain.detector_threshold_of(node, detector.threshold) for node in task.nodes}
    thresholds = {sid: node_threshold[node_id] for sid, (node_id, _, _) in keys.items()}
    for result in detector.detect(matrix, at=pd.Timestamp(task.as_of), thresholds=thresholds):
        node_id, product, partner = keys[result.series_id]
        judged.setdefault(node_id, []).append((product, partner, result))
    return judged


def judge_node_series(task: PartitionTask, frames: dict[str, pd.DataFrame], data: PartitionData,
                      detector: DisruptionEngine, totals: dict[str, pd.Series],
                      ) -> dict[str, list[tuple[str, str, DetectionResult]]]:
    """Each node's import aggregate and production series, judged at their last month in one run.

    ``totals``: node id -> ``monthly_totals`` of its frame (nodes with imports).

    The verdicts are :meth:`DisruptionEngine.judge`'s series by series, at the node's own
    sensitivity (its ``detector_threshold``, else its chain's); one batched run saves the
    per-call cost. Returns node id -> (what the series is in English, in Chinese, verdict),
    the import aggregate first.
    """
    items: list[tuple[str, pd.Series, float]] = []
    owners: list[tuple[str, str, str]] = []
    for node in task.nodes:
        frame = frames[node.id]
        threshold = task.chain.detector_threshold_of(node, detector.threshold)
        if not frame.empty:
            # World row where the source gives one, else the partners: never both (no double count)
            items.append((f"imports.{task.chain.id}.{node.id}", totals[node.id], threshold))
            owners.append((node.id, "import value (USD)", "进口额（美元）"))
        for sid in dict.fromkeys(node.production_series):
            if sid in data.production:
                items.append((sid, data.production[sid], threshold))
                owners.append((node.id, f"output index {sid}", f"产出指数 {sid}"))
    judged: dict[str, list[tuple[str, str, DetectionResult]]] = {}
    for (node_id, label_en, label_zh), result in zip(owners, detector.judge_each(items)):
        if result.series_id == f"imports.{task.chain.id}.{node_id}":
            frame = frames[node_id]
            # The notes read the judged month's rows only: select them once, not once per note.
            month = frame[frame["period"] == result.period] if pd.notna(result.period) else frame.iloc[0:0]
            result = with_estimate_note(with_mirror_note(result, month), month)
        judged.setdefault(node_id, []).append((label_en, label_zh, result))
    return judged


def judge_partner_shares(task: PartitionTask, frames: dict[str, pd.DataFrame],
                         share_detector: PartnerShareCollapseDetector) -> dict[str, list[DetectionResult]]:
    """The main-supplier share verdicts of each of the partition's nodes (node id -> verdicts).

    A node's flows over all its HS codes are summed per reporter, partner and month
    (product = the node id), and the detector judges all the partition's nodes in one
    call. It judges each reporter/product on its own rows only, so a node's verdicts do
    not depend on which nodes share its partition.
    """
    nodes = [node for node in task.nodes if not frames[node.id].empty]
    if task.as_of is None or not nodes:
        return {}
    summed = _partner_month_sums([node.id for node in nodes], [frames[node.id] for node in nodes])
    node_of = {f"{reporter}/{node}": node for reporter, node in
               summed[["reporter", "product"]].drop_duplicates().itertuples(index=False)}
    judged: dict[str, list[DetectionResult]] = {}
    for result in share_detector.detect(summed, at=pd.Timestamp(task.as_of)):
        judged.setdefault(node_of[result.series_id], []).append(result)
    return judged


def _partner_month_sums(node_ids: list[str], frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Each node's ``value`` summed per reporter, partner and period, as the long table
    ``reporter, partner, product, period, value`` with product = the node id.

    The sums of ``groupby(["reporter", "partner", "product", "period"]).sum()`` on the
    nodes' rows in order (so the same floats; rows with a missing key left out), grouped
    on one integer code instead of three text and date columns (a partition has ~10^6 rows).
    """
    node = np.repeat(np.arange(len(frames), dtype=np.int64), [len(frame) for frame in frames])
    code, span = node, len(frames)
    present = np.ones(len(node), dtype=bool)
    labels = {}
    for column in ("reporter", "partner", "period"):
        codes, uniques = pd.factorize(pd.concat([frame[column] for frame in frames], ignore_index=True))
        labels[column] = (codes, uniques)
        present &= codes >= 0
        width = max(len(uniques), 1)
        if span * width >= 2 ** 62:  # renumber the combinations seen so far
            code, seen = pd.factorize(code)
            span = len(seen)
        code, span = code * width + codes, span * width
    rows = np.flatnonzero(present)
    group, _ = pd.factorize(code[rows])
    # groups are numbered in order of appearance: a group's first row is where the highest
    # number so far rises
    seen = np.maximum.accumulate(group)
    first = rows[np.flatnonzero(group > np.concatenate([[-1], seen[:-1]]))]
    value = pd.Series(np.concatenate([frame["value"].to_numpy(dtype="float64") for frame in frames])[rows])
    return pd.DataFrame({
        "reporter": labels["reporter"][1].take(labels["reporter"][0][first]),
        "partner": labels["partner"][1].take(labels["partner"][0][first]),
        "product": np.asarray(node_ids, dtype=object)[node[first]],
        "period": labels["period"][1].take(labels["period"][0][first]),
        "value": value.groupby(group, sort=True).sum().to_numpy(),
    })


def _series_matrix(cells: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> SeriesMatrix:
    """The matrix :meth:`SeriesMatrix.from_long` would build (ids sorted, one calendar), from
    (series ids, each row's index into them, month number since 1970, value) arrays, without a
    long string table."""
    ids = np.concatenate([c[0] for c in cells])
    offsets = np.cumsum([0, *(len(c[0]) for c in cells[:-1])])
    flow_of_row = np.concatenate([c[1] + offset for c, offset in zip(cells, offsets)])
    months = np.concatenate([c[2] for c in cells])
    values = np.concatenate([c[3] for c in cells])
    ids, row_of_flow = np.unique(ids, return_inverse=True)
    row = row_of_flow[flow_of_row]
    first = int(months.min())
    out = np.full((len(ids), int(months.max()) - first + 1), np.nan)
    out[row, months - first] = values
    calendar = pd.date_range(pd.Timestamp(np.datetime64(first, "M")), periods=out.shape[1], freq="MS")
    return SeriesMatrix(tuple(str(i) for i in ids), calendar, out)


def _measure_node(chain: Chain, node: Node, frame: pd.DataFrame, data: PartitionData,
                  detector: DisruptionEngine, share_detector: PartnerShareCollapseDetector,
                  bilateral: list[tuple[str, str, DetectionResult]],
                  exposure: DimensionMeasurement, shares: list[DetectionResult],
                  own_series: list[tuple[str, str, DetectionResult]],
                  concentration: tuple[float | None, dict | None, tuple[float, str, str] | None]) -> NodeMeasurement:
    """One node's dimensions and drivers; ``bilateral``, ``exposure``, ``shares``, ``own_series``
    and ``concentration`` are judged for the whole partition at once by :func:`measure_partition`."""
    ranked: list[tuple[float, str, str]] = []
    findings: list[DetectionResult] = []
    conc, details, driver = concentration
    gated = conc is None and details is not None
    if driver is not None:
        ranked.append(_with_basket_caveat(driver, node))
    disruption_scores: list[float] = []
    threshold = chain.detector_threshold_of(node, detector.threshold)
    for label_en, label_zh, result in own_series:
        findings.append(result)
        if result.status not in ("flagged", "normal"):
            continue  # insufficient history or a missing month: no score, never risk
        contribution = float(disruption_score(result.score, threshold=threshold))
        disruption_scores.append(contribution)
        if result.status == "flagged" and result.direction == "down":
            ranked.append((contribution, f"{label_en}: {result.explanation_en}", f"{label_zh}：{result.explanation_zh}"))
    if data.as_of is not None and not frame.empty:
        # The node's partners across all its HS codes: does its main supplier's share collapse?
        for result in shares:
            if gated:
                # On a partial partner list the share of the named part says nothing: never an alert.
                result = dataclasses.replace(
                    result, status="missing",
                    explanation_en="not judged: named partners cover too little of World imports",
                    explanation_zh="未判断：已列明来源国占全球进口比重过低")
            findings.append(result)
            if result.status not in ("flagged", "normal") or pd.isna(result.score):
                continue
            contribution = float(disruption_score(result.score, threshold=share_detector.drop_points))
            disruption_scores.append(contribution)
            if result.status == "flagged":
                ranked.append((contribution, f"main supplier share: {result.explanation_en}",
                               f"主要来源份额：{result.explanation_zh}"))
    # Bilateral flows (HS code x top partner) are extra evidence for the disruption
    # dimension; they do not count as inputs of the node's completeness.
    bilateral_scores: list[float] = []
    for product, partner, result in bilateral:
        findings.append(result)
        if result.status not in ("flagged", "normal"):
            continue
        contribution = float(disruption_score(result.score, threshold=threshold))
        bilateral_scores.append(contribution)
        if result.status == "flagged" and result.direction == "down":
            ranked.append((contribution, f"imports of HS {product} from {country_name_en(partner)}: {result.explanation_en}",
                           f"自{country_name_zh(partner)}进口 HS {product}：{result.explanation_zh}"))
    # Inputs: the concentration window, the main-supplier share, one judged series per
    # import aggregate and per configured production series.
    expected = 3 + len(node.production_series)
    available = (conc is not None) + len(disruption_scores)
    disruption = disruption_scores + bilateral_scores
    # Dependence, partner risk, logistics pressure and value: one input each.
    ranked.extend(exposure.ranked_drivers)
    note = node.basket_note()
    if note is not None and not frame.empty:
        # Last and adding no risk: what the trade figures above actually measure.
        ranked.append((0.0, f"caveat: {note[0]}", f"注意：{note[1]}"))
    return NodeMeasurement(
        dimensions={"concentration": conc, "disruption": max(disruption) if disruption else None,
                    **exposure.dimensions},
        ranked_drivers=sorted(ranked, key=lambda item: -item[0]),
        inputs_expected=expected + exposure.inputs_expected,
        inputs_available=available + exposure.inputs_available,
        findings=findings, concentration=details, details=exposure.details,
    )


def _with_basket_caveat(driver: tuple[float, str, str], node: Node) -> tuple[float, str, str]:
    """The driver with a short note naming the node's basket codes (full note: the last driver)."""
    codes = [code for code in node.hs_codes if code in node.baskets]
    if not codes:
        return driver
    listed = ", ".join(codes)
    return (driver[0], f"{driver[1]} [basket code{'s' if len(codes) > 1 else ''} {listed}: not only this product]",
            f"{driver[2]}［{listed} 为篮子税目，不只含本产品］")


def measure_partition_concentration(
        frames: dict[str, pd.DataFrame], as_of: date | None, window: int, min_coverage: float,
) -> dict[str, tuple[float | None, dict, tuple[float, str, str]]]:
    """The concentration dimension of every node's imports over the window, in one pass:
    node id -> (score, details, driver); nodes without imports in the window are absent.

    Shares are of the World total where the source gives one
    (:func:`indicators.concentration.concentration_against_totals`): the part no named
    partner accounts for is unallocated, and the top share and HHI are given as bounds.
    When named partners cover less than ``min_coverage`` of that total the dimension is
    missing (score None, the reason in ``details["missing"]``) and the driver states only
    what the totals support. Scored on the lower bounds (what is known for sure).

    All nodes go through one table (one group per node), and every sum in it is over
    one node's rows in their order, so a node's result is bit-identical whichever other
    nodes share its partition.
    """
    if as_of is None:
        return {}
    start = _window_start(as_of, window)
    recent = [frame[frame["period"] >= start].assign(node=node_id) for node_id, frame in frames.items()
              if not frame.empty]
    recent = [part for part in recent if not part.empty]
    if not recent:
        return {}
    flows = pd.concat(recent, ignore_index=True)
    nodes = flows["node"].to_numpy()
    table = concentration_against_totals(flows, keys=("node",))
    named = flows[~flows["partner"].isin(WORLD_PARTNERS) & ~flows["partner"].isin(AGGREGATE_PARTNERS)]
    # each node's partners by value, largest first (ties: partner code ascending); the
    # values are summed as in the table, so the first one's share is the top share
    by_partner = partner_shares(named[["node", "partner", "value"]], keys=("node",))
    by_partner = by_partner.sort_values(["node", "value"], ascending=[True, False], kind="stable")
    listed = by_partner.groupby("node", sort=False).head(TOP_PARTNERS_STORED)
    partners: dict[str, list[tuple[str, float]]] = {}
    for node_id, partner, value in zip(listed["node"], listed["partner"], listed["value"]):
        partners.setdefault(node_id, []).append((str(partner), float(value)))
    mirror, estimate = mirror_summaries(flows, nodes), estimate_summaries(flows, nodes)
    return {row["node"]: _node_concentration(row, partners.get(row["node"], []), mirror[row["node"]],
                                             estimate[row["node"]], window, min_coverage)
            for row in table.to_dict("records")}


def _node_concentration(row: dict, partners: list[tuple[str, float]], mirror: dict, estimate: dict, window: int,
                        min_coverage: float) -> tuple[float | None, dict, tuple[float, str, str]]:
    """(score, details, driver) of one node from its row of the concentration table."""
    coverage, unallocated = float(row["partner_coverage"]), float(row["unallocated_share"])
    hhi, hhi_hi = float(row["hhi"]), float(row["hhi_upper"])
    top, top_hi = float(row["top_share"]), float(row["top_share_upper"])
    partner, n = str(row["top_partner"]), int(row["n_partners"])
    total = float(row["total"])
    world_share = float(row["world_total_share"])
    details = {
        "window_months": window, "hhi": hhi, "hhi_bounds": [hhi, hhi_hi], "top_share": top,
        "top_share_bounds": [top, top_hi], "top_partner": partner, "n_partners": n,
        "partner_coverage": coverage, "unallocated_share": unallocated, "min_partner_coverage": min_coverage,
        "total_basis": "world_total" if world_share >= 0.999 else "partner_sum" if world_share <= 0.001 else "mixed",
        "top_partners": [{"partner": p, "share": v / total} for p, v in partners],
        **mirror,  # partner-reported (mirror) part of the window, shown in the API
        **estimate,  # estimated / provisional part (docs/provenance.md)
    }
    estimated = details["estimated_share"]
    est_en = f"; {estimated:.0%} of the window's value is estimated, not reported" if estimated else ""
    est_zh = f"；窗口内 {estimated:.0%} 的金额为估计值而非申报值" if estimated else ""
    if coverage < min_coverage:
        # No point values: on this coverage only the bounds are supported by the data.
        for key in ("hhi", "top_share", "top_partner"):
            details.pop(key)
        details["largest_named_partner"] = partner
        details["missing"] = (f"partner coverage {coverage:.0%} of World imports "
                              f"(needs {min_coverage:.0%}): concentration unknown")
        return None, details, (
            0.0,
            f"concentration unknown: the named partners cover {coverage:.0%} of World imports in the last "
            f"{window} months (needs {min_coverage:.0%}); the top supplier holds between {top:.0%} "
            f"({country_name_en(partner)}) and {top_hi:.0%}{est_en}",
            f"集中度未知：近{window}个月已列明来源国仅占全球进口的 {coverage:.0%}（需 {min_coverage:.0%}）；"
            f"最大来源国份额在 {top:.0%}（{country_name_zh(partner)}）至 {top_hi:.0%} 之间{est_zh}",
        )
    score = float(concentration_score(hhi, top))
    if unallocated > 0.0005:
        top_en, top_zh = f"{top:.0%}–{top_hi:.0%}", f"{top:.0%}–{top_hi:.0%}"
        hhi_en = f"HHI {hhi:.2f}–{hhi_hi:.2f}"
        cover_en = f"; named partners cover {coverage:.0%} of World imports"
        cover_zh = f"；已列明来源国占全球进口 {coverage:.0%}"
    else:
        top_en = top_zh = f"{top:.0%}"
        hhi_en, cover_en, cover_zh = f"HHI {hhi:.2f}", "", ""
    return score, details, (
        score,
        f"imports concentrated: top partner {country_name_en(partner)} {top_en} of the last {window} months, "
        f"{hhi_en} ({n} partners{cover_en}){est_en}",
        f"进口集中：近{window}个月最大来源国{country_name_zh(partner)}占 {top_zh}，{hhi_en}（{n} 个来源国{cover_zh}）{est_zh}",
    )


def _completeness(m: NodeMeasurement) -> float:
    """Share of the node's expected inputs that had data (0-1)."""
    return m.inputs_available / m.inputs_expected if m.inputs_expected else 0.0


def _judge(score: float | None, previous: PreviousScore | None, completeness: float, config: Config) -> Judgement:
    settings = config.settings.assessment
    thresholds = settings.levels.model_dump()
    if completeness < settings.min_completeness:
        raw = UNKNOWN  # too little data: neither safe nor at risk, and no alert
    else:
        raw = level_for(score, thresholds) if score is not None else "none"
    level, below = apply_hysteresis(
        raw, previous.level if previous else None, previous.runs_below if previous else 0,
        settings.hysteresis_runs)
    return Judgement(score=score, raw_level=raw, level=level, runs_below=below, completeness=completeness,
                     previous_score=previous.score if previous else None,
                     previous_level=previous.level if previous else None)


def _assess(config: Config, sessions: sessionmaker[Session], run_id: int,
            executor: PartitionExecutor) -> AssessmentResult:
    settings = config.settings.assessment
    thresholds = settings.levels.model_dump()
    with sessions() as session:
        as_of = latest_trade_period(session, config.catalog.home)
        previous = previous_scores(session)
        exports = exports_collected(session, config.catalog.home, as_of, settings)
    tasks = plan_partitions(config, as_of, executor.database_url(sessions), exports)
    by_chain: dict[str, dict[str, NodeMeasurement]] = {}
    for task, measurements in zip(tasks, executor.map(measure_partition, tasks, sessions)):
        by_chain.setdefault(task.chain.id, {}).update(zip((n.id for n in task.nodes), measurements))
    chains: list[ChainAssessment] = []
    all_findings: list[tuple[str, str, DetectionResult]] = []
    for chain in config.catalog.chains:
        measured = by_chain[chain.id]
        # A node with too little data is unknown: its partial score neither alarms nor propagates.
        own = {node_id: node_score(m.dimensions) if _completeness(m) >= settings.min_completeness else None
               for node_id, m in measured.items()}
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
            completeness = _completeness(m)
            nodes.append(NodeAssessment(
                chain=chain.id, node=node.id, name_en=node.name.en, name_zh=node.name.zh,
                criticality=node.criticality, own_score=own[node.id],
                judgement=_judge(score, previous.get((chain.id, node.id)), completeness, config),
                dimensions=m.dimensions, drivers=[en for _, en, _ in ranked], drivers_zh=[zh for _, _, zh in ranked],
                concentration=m.concentration, dimension_details=m.details,
            ))
        combined = chain_score([n.score if n.level != UNKNOWN else None for n in nodes],
                               [n.criticality for n in nodes])
        combined = weakest_link_floor(
            combined, [n.level for n in nodes], [n.criticality for n in nodes], thresholds,
            settings.weakest_link_min_criticality)
        completeness = sum(n.judgement.completeness for n in nodes) / len(nodes)
        chains.append(ChainAssessment(
            chain=chain.id, name_en=chain.name.en, name_zh=chain.name.zh,
            judgement=_judge(combined, previous.get((chain.id, "")), completeness, config), nodes=nodes,
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
                             "details": node.concentration if dimension == "concentration"
                             else node.dimension_details.get(dimension)})
    return rows
