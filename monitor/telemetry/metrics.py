"""Prometheus metrics.

:class:`StoredStateCollector` reads the stored state at scrape time, once per scrape
(a few small aggregate queries, no model computation), so a restarted process shows
the same values at once; what a completed assessment run stored is read and encoded
once per run (:class:`RunFamilies`), since it never changes.
:class:`ServiceMetrics` holds the counters this process increments itself. Both are
built against an injected registry.

Monthly data and scrape time: a month's trade figures are not samples of "now", and
Prometheus drops samples with old timestamps, so the data's own month is exported as
a *value* (``chainwatch_node_data_period_timestamp_seconds``, Unix time of the month's
first day) beside its age at scrape time (``chainwatch_node_data_age_seconds``).

Cardinality: labels are chain, node, dimension, level, source, receiver and a few
fixed status sets; nothing is labelled by partner country or product.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_1_0
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indicators.vocabulary import ALL_LEVELS, level_index
from monitor import __version__
from monitor.clock import Clock, system_clock
from monitor.store.service_state import LiveState, RunKey, RunState, read_live_state, read_run_state
from monitor.store.simulated_data import simulated_rows_stored
from monitor.store.stress_results import latest_stress_key, stress_results

log = logging.getLogger(__name__)

#: Terminal statuses of assessment runs and collections; always exported (0 if none)
#: so that ``increase(...{status="failed"}[1d])`` has a series to work on.
RUN_STATUSES = ("succeeded", "failed")
#: Terminal statuses of assessment runs: also ``abandoned`` (left ``running`` by a process that died).
ASSESSMENT_RUN_STATUSES = (*RUN_STATUSES, "abandoned")
#: Outbox statuses, exported for every receiver that has messages.
OUTBOX_STATUSES = ("pending", "delivered", "dead")
_LEVEL_HELP = "-1 unknown (too little data), 0 none, 1 blue, 2 yellow, 3 orange, 4 red"

#: Names that every exposition format writes as they are (Prometheus data model without
#: ":", which prometheus_client rewrites in OpenMetrics sample lines; label names starting
#: with "__" are reserved).
_METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LABEL_NAME = re.compile(r"(?!__)[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class MetricSpec:
    """Name, type, help text and labels of one stored-state metric family.

    ``per_run`` families come from one completed assessment run and only change when
    a newer run succeeds; the others are read on every scrape.
    """

    name: str
    help: str
    labels: tuple[str, ...] = ()
    counter: bool = False
    per_run: bool = False

    def family(self) -> GaugeMetricFamily | CounterMetricFamily:
        """An empty family to fill."""
        kind = CounterMetricFamily if self.counter else GaugeMetricFamily
        return kind(self.name, self.help, labels=list(self.labels))


#: Every family :class:`StoredStateCollector` exports.
STORED_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "chainwatch_storage_up",
        "1 if the database answered this scrape, else 0 (then no stored-state metric is exported)."),
    # from the latest successful assessment run
    MetricSpec(
        "chainwatch_chain_risk_score",
        "Chain risk score, 0-100, latest successful assessment.", ("chain",), per_run=True),
    MetricSpec(
        "chainwatch_chain_risk_level",
        f"Chain early-warning level: {_LEVEL_HELP}.", ("chain",), per_run=True),
    MetricSpec(
        "chainwatch_chain_nodes_by_level",
        "Number of the chain's nodes at each early-warning level, latest assessment.",
        ("chain", "level"), per_run=True),
    MetricSpec(
        "chainwatch_chain_data_completeness_ratio",
        "Mean share (0-1) of the chain's nodes' inputs that had data, latest assessment.",
        ("chain",), per_run=True),
    MetricSpec(
        "chainwatch_node_risk_score",
        "Node risk score, 0-100, latest assessment (absent when the node has no data).",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_risk_level",
        f"Node early-warning level: {_LEVEL_HELP}.", ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_dimension_score",
        "Node risk score of one dimension (concentration, disruption, dependence, partner_risk, logistics, value), "
        "0-100; absent when data is missing.",
        ("chain", "node", "dimension"), per_run=True),
    MetricSpec(
        "chainwatch_node_world_top_share_ratio",
        "Share (0-1) of world output held by the top producing country, at the node's highest-scoring "
        "world-supply stage, latest year (USGS MCS via the usgs source).",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_world_hhi_ratio",
        "Herfindahl-Hirschman index (0-1) of world output across producing countries, same stage and year.",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_home_world_share_ratio",
        "The home economy's share (0-1) of world output at that stage (self-sufficiency proxy).",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_partner_coverage_ratio",
        "Named partners' share (0-1) of the node's World imports, trailing window; below "
        "assessment.min_partner_coverage the concentration is unknown.",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_import_hhi_ratio",
        "Herfindahl-Hirschman index (0-1) of the node's imports across partner countries, trailing window "
        "(lower bound where part of the World total is unallocated; absent below the partner-coverage gate).",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_top_partner_share_ratio",
        "Share (0-1) of the node's World imports from its largest named partner, trailing window "
        "(lower bound; absent below the partner-coverage gate).",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_partner_share_ratio",
        "Share (0-1) of the node's imports from one of its top partners (opt-in: metrics.top_partners).",
        ("chain", "node", "partner"), per_run=True),
    MetricSpec(
        "chainwatch_node_data_completeness_ratio",
        "Share (0-1) of the node's inputs that had data, latest assessment.",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_data_completeness_ratio",
        "Share (0-1) of the node's expected inputs (series and trade periods) that had data, latest "
        "assessment; missing data lowers it instead of reading as a drop. The issue's name for "
        "chainwatch_node_data_completeness_ratio, which is kept with the same value.",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_node_data_period_timestamp_seconds",
        "Start of the latest data month (Unix time) among the node's series judged by the latest assessment.",
        ("chain", "node"), per_run=True),
    MetricSpec(
        "chainwatch_assessment_findings",
        "Detector findings of the latest assessment by method and status "
        "(flagged, normal, insufficient_history, missing).",
        ("chain", "method", "status"), per_run=True),
    MetricSpec(
        "chainwatch_last_assessment_timestamp_seconds",
        "Unix time the latest successful assessment finished.", per_run=True),
    MetricSpec(
        "chainwatch_last_assessment_duration_seconds",
        "Duration of the latest successful assessment.", per_run=True),
    MetricSpec(
        "chainwatch_assessment_data_period_timestamp_seconds",
        "Start of the data month the latest successful assessment judged (Unix time).", per_run=True),
    # read on every scrape
    MetricSpec(
        "chainwatch_node_data_age_seconds",
        "Seconds from the start of the node's latest data month to this scrape.", ("chain", "node")),
    MetricSpec("chainwatch_last_assessment_failed", "1 if the most recent assessment run failed, else 0."),
    MetricSpec(
        "chainwatch_assessment_in_progress",
        "1 if the most recent assessment run has not finished (running, or its process died and it is not "
        "yet marked abandoned: assessment.abandon_after_hours after its start), else 0."),
    MetricSpec(
        "chainwatch_assessment_runs_total",
        "Stored assessment runs by final status (succeeded, failed, abandoned: its process died mid-run).",
        ("status",), counter=True),
    MetricSpec(
        "chainwatch_collector_last_success_timestamp_seconds",
        "Unix time of the last successful collection per source.", ("source",)),
    MetricSpec(
        "chainwatch_collector_last_run_failed",
        "1 if the most recent collection of the source failed, else 0.", ("source",)),
    MetricSpec(
        "chainwatch_collector_runs_total",
        "Stored collections per source and status.", ("source", "status"), counter=True),
    MetricSpec(
        "chainwatch_notification_outbox_messages",
        "Notifications in the outbox per receiver and status: pending (queue), delivered, dead (dead letters).",
        ("receiver", "status")),
    MetricSpec(
        "chainwatch_notification_queue_depth",
        "Notifications waiting for delivery (pending in the outbox) per receiver.", ("receiver",)),
    MetricSpec(
        "chainwatch_notification_oldest_pending_age_seconds",
        "Age of the receiver's oldest pending notification; 0 when none is pending.", ("receiver",)),
    MetricSpec(
        "chainwatch_alerts",
        "Chainwatch's own risk alerts (sent to analysts) per chain, state and severity.",
        ("chain", "state", "severity")),
    MetricSpec(
        "chainwatch_data_simulated",
        "1 if the rows an assessment reads (the home economy's trade flows, the configured series) include "
        "simulated demo rows, else 0; decided by the stored rows, not by the configuration."),
)
_SPEC = {spec.name: spec for spec in STORED_METRICS}
_RUN_SPECS = tuple(spec for spec in STORED_METRICS if spec.per_run)
_LIVE_SPECS = tuple(spec for spec in STORED_METRICS[1:] if not spec.per_run)
_RUN_SPECS_ARE_GAUGES = all(not spec.counter and _METRIC_NAME.fullmatch(spec.name)
                            and all(_LABEL_NAME.fullmatch(label) for label in spec.labels) for spec in _RUN_SPECS)

#: Families of the latest successful stress-test suite run (read once per suite run).
STRESS_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "chainwatch_stress_peak_shortfall_ratio",
        "Peak monthly shortfall (0-1 of normal demand) of the node in the scenario, latest stress-test suite.",
        ("scenario", "chain", "node")),
    MetricSpec(
        "chainwatch_stress_time_to_impact_months",
        "Months from the scenario start until the chain's first node falls short (absent: no shortfall "
        "within the horizon), latest stress-test suite.", ("scenario", "chain")),
    MetricSpec(
        "chainwatch_stress_value_at_risk_usd",
        "Value at risk of the chain in the scenario: shortfall-months x normal monthly demand at import "
        "prices, summed over its nodes (USD), latest stress-test suite.", ("scenario", "chain")),
    MetricSpec(
        "chainwatch_stress_time_to_survive_months",
        "Time to survive (Simchi-Levi): months the chain meets demand before its first shortfall (absent: "
        "none within the horizon), latest stress-test suite.", ("scenario", "chain")),
    MetricSpec(
        "chainwatch_stress_time_to_recover_months",
        "Time to recover (Simchi-Levi): months until every node of the chain is whole again (0: never hit; "
        "absent: not within the horizon), latest stress-test suite.", ("scenario", "chain")),
    MetricSpec(
        "chainwatch_stress_impact_score",
        "Chain stress impact score, 0-100 (criticality-weighted peak shortfalls), latest stress-test suite.",
        ("scenario", "chain")),
    MetricSpec(
        "chainwatch_stress_last_run_timestamp_seconds",
        "Unix time the latest successful stress-test suite run finished."),
)


def _timestamp(value: datetime) -> float:
    return value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp()


def _month_start(value: date) -> float:
    return datetime(value.year, value.month, 1, tzinfo=timezone.utc).timestamp()


class _Families:
    """The one method of a registry that prometheus_client's encoders call."""

    def __init__(self, families: Iterable[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


_EOF = b"# EOF\n"

#: Content types :func:`_encode_gauge` writes, and whether each is OpenMetrics: the two
#: Prometheus asks for (text 0.0.4, OpenMetrics 1.0.0 with its default escaping).
_FAST_FORMATS = {CONTENT_TYPE_PLAIN_0_0_4: False, OPENMETRICS_1_0: True,
                 f"{OPENMETRICS_1_0}; escaping=underscores": True}


def _label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


def _gauge_head(name: str, documentation: str, openmetrics: bool) -> str:
    help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
    if openmetrics:
        help_text = help_text.replace('"', r'\"')
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


def _gauge_lines(name: str, label_names: Sequence[str], samples: Iterable[tuple[Sequence[str], float]]) -> str:
    """Sample lines; labels sorted by name, as prometheus_client writes them."""
    if not label_names:
        return "".join([f"{name} {floatToGoString(value)}\n" for _, value in samples])
    order = sorted(range(len(label_names)), key=label_names.__getitem__)
    keys = [(f'{label_names[i]}="', i) for i in order]
    lines = []
    for labels, value in samples:
        pairs = ",".join([f'{key}{_label_value(labels[i])}"' for key, i in keys])
        lines.append(f"{name}{{{pairs}}} {floatToGoString(value)}\n")
    return "".join(lines)


def _encode_gauge(metric: Metric, openmetrics: bool) -> str | None:
    """One family as prometheus_client writes it, or None unless it is a plain gauge with legacy names."""
    if metric.type != "gauge" or metric.unit or not _METRIC_NAME.fullmatch(metric.name):
        return None
    groups: dict[tuple[str, ...], list[tuple[list[str], float]]] = {}
    for sample in metric.samples:
        if sample.name != metric.name or sample.timestamp is not None or sample.exemplar is not None \
                or sample.native_histogram is not None:
            return None
        groups.setdefault(tuple(sample.labels), []).append((list(sample.labels.values()), sample.value))
    if len(groups) > 1 or not all(_LABEL_NAME.fullmatch(n) for names in groups for n in names):
        return None
    names, samples = next(iter(groups.items()), ((), []))
    return _gauge_head(metric.name, metric.documentation, openmetrics) + _gauge_lines(metric.name, names, samples)


def encode_families(families: Iterable[Metric], content_type: str, encoder: Callable[[_Families], bytes]) -> bytes:
    """What ``encoder`` (prometheus_client's, for ``content_type``) writes for ``families``, without ``# EOF``.

    Plain gauges in the two formats Prometheus asks for are written here, the rest
    (counters, histograms, other formats) by ``encoder``, family by family: its
    output is the concatenation of each family's. Why: prometheus_client 0.26
    escapes every sample's name character by character for OpenMetrics (~10 µs a
    sample), most of the cost of the first scrape after a run (8,500 samples at 50
    chains × 20 nodes). A test compares the output with the library's for both formats.
    """
    openmetrics = _FAST_FORMATS.get(content_type)
    parts: list[bytes] = []
    for metric in families:
        text = None if openmetrics is None else _encode_gauge(metric, openmetrics)
        parts.append(text.encode("utf-8") if text is not None
                     else encoder(_Families([metric])).removesuffix(_EOF))
    return b"".join(parts)


@dataclass
class RunFamilies:
    """The per-run families of one completed run, and their encodings (made once per format).

    A completed run never changes, so neither do these: scrapes reuse them until a
    newer run succeeds. ``/metrics`` encodes the samples directly (the first scrape
    after a run pays for it); the metric objects are built only for ``collect()``.
    """

    key: RunKey | None
    samples: dict[str, list[tuple[list[str], float]]]
    """Family name -> (label values in the spec's label order, value) of each sample."""
    data_periods: list[tuple[list[str], float]]
    """([chain, node], start of the node's latest data month) for the per-scrape ages."""
    _families: list[Metric] | None = None
    _encoded: dict[str, bytes] = field(default_factory=dict)

    @property
    def families(self) -> list[Metric]:
        """The families as prometheus_client metrics (for ``collect()``), in spec order."""
        if self._families is None:
            families = []
            for spec in _RUN_SPECS:
                family = spec.family()
                for labels, value in self.samples[spec.name]:
                    family.add_metric(labels, value)
                families.append(family)
            self._families = families
        return self._families

    @classmethod
    def build(cls, state: RunState | None, top_partners: int = 0) -> RunFamilies:
        """Families of ``state`` (empty families when there is no successful run yet).

        ``top_partners`` > 0 also exports each node's N largest partner shares; off by
        default because partner labels multiply the series count.
        """
        samples: dict[str, list[tuple[list[str], float]]] = {spec.name: [] for spec in _RUN_SPECS}
        if state is None:
            return cls(None, samples, [])

        def add(name: str, labels: list[str], value: float) -> None:
            samples[name].append((labels, value))

        by_level: dict[str, dict[str, int]] = {}
        for s in state.scores:
            if s.dimension != "overall":
                if s.score is not None:
                    add("chainwatch_node_dimension_score", [s.chain, s.node, s.dimension], s.score)
                if s.dimension == "world_supply" and s.details:
                    # the stage that scored highest: per node, not per country (low cardinality)
                    scored = [st for st in s.details.get("stages", []) if "score" in st]
                    if scored:
                        worst = max(scored, key=lambda st: st["score"])
                        add("chainwatch_node_world_top_share_ratio", [s.chain, s.node], worst["top_share"])
                        add("chainwatch_node_world_hhi_ratio", [s.chain, s.node], worst["hhi"])
                        if worst.get("home_share") is not None:
                            add("chainwatch_node_home_world_share_ratio", [s.chain, s.node], worst["home_share"])
                if s.dimension == "concentration" and s.details:
                    if "partner_coverage" in s.details:
                        add("chainwatch_node_partner_coverage_ratio", [s.chain, s.node], s.details["partner_coverage"])
                    if "hhi" in s.details:  # not where coverage is too low for a point value
                        add("chainwatch_node_import_hhi_ratio", [s.chain, s.node], s.details["hhi"])
                        add("chainwatch_node_top_partner_share_ratio", [s.chain, s.node], s.details["top_share"])
                    for partner in s.details.get("top_partners", [])[:top_partners]:
                        add("chainwatch_node_partner_share_ratio", [s.chain, s.node, partner["partner"]],
                            partner["share"])
                continue
            if s.node == "":
                by_level.setdefault(s.chain, dict.fromkeys(ALL_LEVELS, 0))
                prefix, labels = "chainwatch_chain", [s.chain]
            else:
                by_level.setdefault(s.chain, dict.fromkeys(ALL_LEVELS, 0))[s.level] += 1
                prefix, labels = "chainwatch_node", [s.chain, s.node]
            if s.score is not None:
                add(f"{prefix}_risk_score", labels, s.score)
            add(f"{prefix}_risk_level", labels, level_index(s.level))
            if s.completeness is not None:
                add(f"{prefix}_data_completeness_ratio", labels, s.completeness)
                if s.node != "":
                    add("chainwatch_data_completeness_ratio", labels, s.completeness)
        for chain, counts in sorted(by_level.items()):
            for level, count in counts.items():
                add("chainwatch_chain_nodes_by_level", [chain, level], count)
        periods = [([chain, node], _month_start(period))
                   for (chain, node), period in sorted(state.node_data_periods.items())]
        for labels, start in periods:
            add("chainwatch_node_data_period_timestamp_seconds", labels, start)
        for (chain, method, status), count in sorted(state.findings.items()):
            add("chainwatch_assessment_findings", [chain, method, status], count)
        add("chainwatch_last_assessment_timestamp_seconds", [], state.key.finished_at.timestamp())
        add("chainwatch_last_assessment_duration_seconds", [], state.duration_seconds)
        if state.as_of is not None:
            add("chainwatch_assessment_data_period_timestamp_seconds", [], _month_start(state.as_of))
        return cls(state.key, samples, periods)

    def encoded(self, content_type: str, encoder: Callable[[_Families], bytes]) -> bytes:
        """The families encoded for ``content_type`` (OpenMetrics without its ``# EOF``)."""
        openmetrics = _FAST_FORMATS.get(content_type)
        # The formats written here differ only in OpenMetrics or not: one encoding each.
        cache_key = content_type if openmetrics is None else f"fast openmetrics={openmetrics}"
        body = self._encoded.get(cache_key)
        if body is None:
            if openmetrics is None or not _RUN_SPECS_ARE_GAUGES:
                body = encode_families(self.families, content_type, encoder)
            else:
                body = "".join([
                    _gauge_head(spec.name, spec.help, openmetrics)
                    + _gauge_lines(spec.name, spec.labels, self.samples[spec.name])
                    for spec in _RUN_SPECS]).encode("utf-8")
            self._encoded[cache_key] = body  # a concurrent scrape may encode it too: harmless
        return body


@dataclass(frozen=True)
class StoredSnapshot:
    """What one scrape read: ``run`` is None when the database did not answer."""

    up: Metric
    run: RunFamilies | None
    live: list[Metric]
    stress: list[Metric] = field(default_factory=list)

    def families(self) -> list[Metric]:
        """Every family, in exposition order."""
        return [self.up, *(self.run.families if self.run else ()), *self.live, *self.stress]


class StoredStateCollector(Collector):
    """Exposes the stored state: risk scores and levels, data periods, runs, freshness, outbox, alerts.

    Each scrape runs the few queries of
    :func:`~monitor.store.service_state.read_live_state`; the families of the latest
    successful run are read and built once per run and reused (a completed run never
    changes), so a scrape costs the same whether 5 or 1,000 nodes are stored.

    Parameters
    ----------
    sessions
        Sessions on the chainwatch database.
    clock
        Scrape time, for the ages (``*_age_seconds``).
    top_partners
        Export each node's N largest partner shares (0, the default: none).
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock = system_clock, top_partners: int = 0,
                 simulated: Callable[[Session], bool] | None = None):
        self._sessions = sessions
        self._clock = clock
        # What chainwatch_data_simulated reports (the composition root passes the assessed
        # rows' question); without it, whether any stored row is simulated.
        self._simulated = simulated or simulated_rows_stored
        self._top_partners = top_partners
        self._run: RunFamilies | None = None
        self._stress: tuple[tuple[int, datetime] | None, list[Metric]] | None = None
        self.exports_stored_state: Callable[[], bool] = lambda: True
        """Whether this process exports the database-derived families (``chainwatch run``: only
        while it is the leader, so that N replicas give one value per fact, docs/metrics.md)."""

    def describe(self) -> list[Metric]:
        """The families this collector exports (keeps registration from reading the database)."""
        return [spec.family() for spec in (*STORED_METRICS, *STRESS_METRICS)]

    def collect(self) -> Iterator[Metric]:
        """Every family, from one read of the database."""
        yield from self.snapshot().families()

    def snapshot(self) -> StoredSnapshot:
        """Read the stored state once for this scrape."""
        up = _SPEC["chainwatch_storage_up"].family()
        if not self.exports_stored_state():
            # A follower: its process metrics and whether it reaches the database; the stored
            # facts come from the leader alone (a replica more must not double them).
            try:
                with self._sessions() as session:
                    session.execute(text("SELECT 1"))
            except SQLAlchemyError as err:
                log.warning("metrics: database unavailable: %s", type(err).__name__)
                up.add_metric([], 0)
                return StoredSnapshot(up, None, [])
            up.add_metric([], 1)
            return StoredSnapshot(up, None, [])
        try:
            with self._sessions() as session:
                live = read_live_state(session)
                run = self._run_families(session, live.latest_run)
                stress = self._stress_families(session)
                simulated = self._simulated(session)
        except SQLAlchemyError as err:
            log.warning("metrics: database unavailable: %s", type(err).__name__)
            up.add_metric([], 0)
            return StoredSnapshot(up, None, [])
        up.add_metric([], 1)
        return StoredSnapshot(up, run, _live_families(live, run, self._clock(), simulated), stress)

    def _stress_families(self, session: Session) -> list[Metric]:
        key = latest_stress_key(session)
        cached = self._stress
        if cached is not None and cached[0] == key:
            return cached[1]
        families = build_stress_families(key, stress_results(session, key[0], with_monthly=False) if key else [])
        self._stress = (key, families)
        return families

    def prepare(self) -> None:
        """Read and encode the latest run's families now (after a run), so the next scrape does not.

        Helps the process that ran the assessment (the leader); other replicas build
        them on their first scrape. A database error is left for the scrape to report.
        """
        try:
            with self._sessions() as session:
                run = self._run_families(session, read_live_state(session).latest_run)
        except SQLAlchemyError:
            return
        for content_type in (OPENMETRICS_1_0, CONTENT_TYPE_PLAIN_0_0_4):  # what Prometheus asks for
            run.encoded(content_type, choose_encoder(content_type)[0])

    def _run_families(self, session: Session, key: RunKey | None) -> RunFamilies:
        cached = self._run
        if cached is not None and cached.key == key:
            return cached
        run = RunFamilies.build(read_run_state(session, key) if key is not None else None, self._top_partners)
        self._run = run
        return run


def build_stress_families(key: tuple[int, datetime] | None, results: Iterable) -> list[Metric]:
    """The stress-test families of one suite run (empty families when none succeeded yet).

    ``results`` are :class:`~monitor.store.stress_results.StoredStressResult` rows:
    node rows give the peak shortfall, chain rows (``node == ""``) the impact score,
    the time to impact, the value at risk and the time to survive / to recover.
    """
    families = {spec.name: spec.family() for spec in STRESS_METRICS}
    for row in results:
        if row.node:
            families["chainwatch_stress_peak_shortfall_ratio"].add_metric(
                [row.scenario, row.chain, row.node], row.peak_shortfall)
            continue
        families["chainwatch_stress_impact_score"].add_metric([row.scenario, row.chain], row.impact_score)
        for name, value in (("chainwatch_stress_value_at_risk_usd", row.value_at_risk_usd),
                            ("chainwatch_stress_time_to_survive_months", row.time_to_survive_months),
                            ("chainwatch_stress_time_to_recover_months", row.time_to_recover_months)):
            if value is not None:  # None: beyond the horizon, or a run stored before migration 0010
                families[name].add_metric([row.scenario, row.chain], value)
        if row.time_to_impact_months is not None:
            families["chainwatch_stress_time_to_impact_months"].add_metric(
                [row.scenario, row.chain], row.time_to_impact_months)
    if key is not None:
        families["chainwatch_stress_last_run_timestamp_seconds"].add_metric([], _timestamp(key[1]))
    return list(families.values())


def _live_families(state: LiveState, run: RunFamilies, now: datetime, simulated: bool = False) -> list[Metric]:
    families = {spec.name: spec.family() for spec in _LIVE_SPECS}
    families["chainwatch_data_simulated"].add_metric([], 1 if simulated else 0)

    def add(name: str, labels: list[str], value: float) -> None:
        families[name].add_metric(labels, value)

    scrape_time = now.timestamp()
    for labels, start in run.data_periods:
        add("chainwatch_node_data_age_seconds", labels, scrape_time - start)
    if state.last_run_status is not None:
        add("chainwatch_last_assessment_failed", [], 1 if state.last_run_status == "failed" else 0)
        add("chainwatch_assessment_in_progress", [], 1 if state.last_run_status == "running" else 0)
    for status in ASSESSMENT_RUN_STATUSES:
        add("chainwatch_assessment_runs_total", [status], state.runs_by_status.get(status, 0))

    for source, finished in sorted(state.collector_last_success.items()):
        add("chainwatch_collector_last_success_timestamp_seconds", [source], _timestamp(finished))
    for source, status in sorted(state.collector_last_status.items()):
        add("chainwatch_collector_last_run_failed", [source], 1 if status == "failed" else 0)
    for source in sorted({source for source, _ in state.collector_runs}):
        for status in RUN_STATUSES:
            add("chainwatch_collector_runs_total", [source, status], state.collector_runs.get((source, status), 0))

    for receiver in sorted({receiver for receiver, _ in state.outbox}):
        for status in OUTBOX_STATUSES:
            add("chainwatch_notification_outbox_messages", [receiver, status], state.outbox.get((receiver, status), 0))
        add("chainwatch_notification_queue_depth", [receiver], state.outbox.get((receiver, "pending"), 0))
        oldest = state.outbox_oldest_pending.get(receiver)
        add("chainwatch_notification_oldest_pending_age_seconds", [receiver],
            max(0.0, scrape_time - oldest.timestamp()) if oldest is not None else 0.0)
    for (chain, alert_state, severity), count in sorted(state.alerts.items()):
        add("chainwatch_alerts", [chain, alert_state, severity], count)
    return list(families.values())


class ChainwatchRegistry(CollectorRegistry):
    """The service's registry: the stored state plus whatever is registered (the process counters).

    ``collect()`` (and so ``generate_latest``, ``get_sample_value``) sees everything.
    :meth:`render` encodes the same content for ``/metrics`` but reuses the encoding
    of the latest run's families, which is most of the exposition.
    """

    def __init__(self, stored: StoredStateCollector):
        super().__init__()
        self.stored = stored

    def collect(self) -> Iterator[Metric]:
        """The stored-state families, then the registered collectors'."""
        yield from self.stored.collect()
        yield from super().collect()

    def render(self, accept: str) -> tuple[bytes, str]:
        """``/metrics`` body and content type for an ``Accept`` header (OpenMetrics when asked)."""
        encoder, content_type = choose_encoder(accept)
        snapshot = self.stored.snapshot()
        head = snapshot.run.encoded(content_type, encoder) if snapshot.run is not None else b""
        tail = encode_families([snapshot.up, *snapshot.live, *snapshot.stress, *super().collect()], content_type,
                               encoder)
        # OpenMetrics ends with "# EOF"; the text format has no end marker.
        end = _EOF if encoder(_Families([])).endswith(_EOF) else b""
        return head + tail + end, content_type


def render_metrics(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """Encode ``registry`` in the format ``accept`` asks for: Prometheus text 0.0.4 or OpenMetrics."""
    if isinstance(registry, ChainwatchRegistry):
        return registry.render(accept)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class ServiceMetrics:
    """Counters this process increments (collections, notification deliveries, jobs).

    They start at zero with each process; the stored-state counterparts
    (``chainwatch_collector_runs_total``, ``chainwatch_notification_outbox_messages``,
    ``chainwatch_assessment_runs_total``) survive restarts and are what the shipped
    dashboards and rules use.
    """

    def __init__(self, registry: CollectorRegistry):
        Info("chainwatch_build", "Version of the running chainwatch.", registry=registry).info({"version": __version__})
        # process_* (memory, CPU, start time: restarts) of this replica, leader or follower
        self.process = ProcessCollector(registry=registry)
        self.collections = Counter(
            "chainwatch_collections", "Collections by this process per source and outcome.", ["source", "outcome"],
            registry=registry)
        self.notifications = Counter(
            "chainwatch_notifications",
            "Notification delivery attempts by this process per receiver and outcome (delivered, retrying, dead).",
            ["receiver", "outcome"], registry=registry)
        self.delivery_seconds = Histogram(
            "chainwatch_notification_delivery_seconds", "Duration of one notification delivery attempt per receiver.",
            ["receiver"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=registry)
        self.notifications_dead = Counter(
            "chainwatch_notifications_dead", "Notifications dead-lettered by this process per receiver.",
            ["receiver"], registry=registry)
        self.jobs = Counter(
            "chainwatch_job_runs", "Scheduled job runs by this process per job and outcome.", ["job", "outcome"],
            registry=registry)
        self.collector_requests = Counter(
            "chainwatch_collector_requests",
            "HTTP requests (attempts) of collectors per source and outcome "
            "(success, rate_limited, http_4xx, http_5xx, timeout, connect_error).",
            ["source", "outcome"], registry=registry)
        self.collector_rows_ingested = Counter(
            "chainwatch_collector_rows_ingested", "New or revised rows stored by collectors per source.",
            ["source"], registry=registry)
        # Its own counter, not a label of rows_ingested: summed over a label, rows_ingested
        # must stay "rows stored", and an unchanged row is not stored.
        self.collector_rows_unchanged = Counter(
            "chainwatch_collector_rows_unchanged",
            "Rows collectors fetched that equal the latest stored vintage (not stored again) per source.",
            ["source"], registry=registry)
        self.collector_rows_rejected = Counter(
            "chainwatch_collector_rows_rejected",
            "Rows collectors rejected per source and reason (non_numeric, negative, duplicate, unknown_country...).",
            ["source", "reason"], registry=registry)
        self.collector_duration = Histogram(
            "chainwatch_collector_duration_seconds", "Duration of one collection (fetch and store) per source.",
            ["source"], buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=registry)
        self.job_seconds = Histogram(
            "chainwatch_job_duration_seconds", "Duration of scheduled job runs by this process per job.", ["job"],
            buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600), registry=registry)
        self.leader = Gauge(
            "chainwatch_scheduler_leader", "1 if this process holds the leader lock and runs the jobs, else 0.",
            registry=registry)


def build_registry(
    sessions: sessionmaker[Session], clock: Clock = system_clock, top_partners: int = 0,
    simulated: Callable[[Session], bool] | None = None,
) -> tuple[ChainwatchRegistry, ServiceMetrics]:
    """A fresh registry holding the stored-state collector and the service counters.

    ``simulated``: whether the assessed rows include simulated ones
    (``chainwatch_data_simulated``; default: whether any stored row is simulated).
    """
    registry = ChainwatchRegistry(StoredStateCollector(sessions, clock, top_partners, simulated))
    return registry, ServiceMetrics(registry)
