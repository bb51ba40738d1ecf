"""Prometheus metrics.

:class:`StoredStateCollector` reads the latest stored assessment and service state
at scrape time (a handful of cheap queries, no model computation), so a restarted
process shows the same values at once. :class:`ServiceMetrics` holds the counters
this process increments itself. Both are built against an injected registry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indicators.scoring import level_index
from monitor.storage.alert_store import alert_counts, outbox_counts
from monitor.storage.assessments import last_run_status, latest_assessment
from monitor.storage.observations import collector_last_success

log = logging.getLogger(__name__)


def _timestamp(value: datetime) -> float:
    return value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp()


class StoredStateCollector(Collector):
    """Exposes the stored state: risk scores and levels, freshness, outbox, alerts."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def describe(self) -> list[Metric]:
        # Declaring no fixed families keeps registration from querying the database.
        return []

    def collect(self) -> Iterator[Metric]:
        """Read the stored state once per scrape and yield metric families."""
        up = GaugeMetricFamily("chainwatch_storage_up", "1 if the database answered this scrape, else 0.")
        try:
            with self._sessions() as session:
                latest = latest_assessment(session)
                status = last_run_status(session)
                freshness = collector_last_success(session)
                outbox = outbox_counts(session)
                alerts = alert_counts(session)
        except SQLAlchemyError as err:
            log.warning("metrics: database unavailable: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        chain_score = GaugeMetricFamily("chainwatch_chain_risk_score", "Chain risk score, 0-100, latest assessment.", labels=["chain"])
        chain_level = GaugeMetricFamily("chainwatch_chain_risk_level", "Chain early-warning level: 0 none, 1 blue, 2 yellow, 3 orange, 4 red.", labels=["chain"])
        node_score = GaugeMetricFamily("chainwatch_node_risk_score", "Node risk score, 0-100, latest assessment.", labels=["chain", "node"])
        node_level = GaugeMetricFamily("chainwatch_node_risk_level", "Node early-warning level: 0 none, 1 blue, 2 yellow, 3 orange, 4 red.", labels=["chain", "node"])
        dimension = GaugeMetricFamily("chainwatch_node_dimension_score", "Node risk score of one dimension, 0-100 (absent when data is missing).", labels=["chain", "node", "dimension"])
        if latest is not None:
            for s in latest.scores:
                if s.dimension != "overall":
                    if s.score is not None:
                        dimension.add_metric([s.chain, s.node, s.dimension], s.score)
                    continue
                if s.node == "":
                    if s.score is not None:
                        chain_score.add_metric([s.chain], s.score)
                    chain_level.add_metric([s.chain], level_index(s.level))
                else:
                    if s.score is not None:
                        node_score.add_metric([s.chain, s.node], s.score)
                    node_level.add_metric([s.chain, s.node], level_index(s.level))
        yield from (chain_score, chain_level, node_score, node_level, dimension)

        last = GaugeMetricFamily("chainwatch_last_assessment_timestamp_seconds", "Unix time the latest successful assessment finished.")
        duration = GaugeMetricFamily("chainwatch_last_assessment_duration_seconds", "Duration of the latest successful assessment.")
        as_of = GaugeMetricFamily("chainwatch_assessment_data_period_timestamp_seconds", "Start of the data month the latest assessment judged (Unix time).")
        if latest is not None:
            last.add_metric([], latest.finished_at.timestamp())
            duration.add_metric([], latest.duration_seconds)
            if latest.as_of is not None:
                as_of.add_metric([], datetime(latest.as_of.year, latest.as_of.month, 1, tzinfo=timezone.utc).timestamp())
        yield from (last, duration, as_of)

        failing = GaugeMetricFamily("chainwatch_last_assessment_failed", "1 if the most recent assessment run failed, else 0.")
        if status is not None:
            failing.add_metric([], 1 if status[0] == "failed" else 0)
        yield failing

        fresh = GaugeMetricFamily("chainwatch_collector_last_success_timestamp_seconds", "Unix time of the last successful collection per source.", labels=["source"])
        for source, finished in sorted(freshness.items()):
            fresh.add_metric([source], _timestamp(finished))
        yield fresh

        queue = GaugeMetricFamily("chainwatch_notification_outbox_messages", "Notifications in the outbox by status (pending, delivered, dead).", labels=["status"])
        for state in ("pending", "delivered", "dead"):
            queue.add_metric([state], outbox.get(state, 0))
        yield queue

        alert_family = GaugeMetricFamily("chainwatch_alerts", "Alerts by state and severity.", labels=["state", "severity"])
        for (state, severity), count in sorted(alerts.items()):
            alert_family.add_metric([state, severity], count)
        yield alert_family


class ServiceMetrics:
    """Counters this process increments (collections, deliveries, jobs)."""

    def __init__(self, registry: CollectorRegistry):
        self.collections = Counter(
            "chainwatch_collections", "Collections per source and outcome.", ["source", "outcome"], registry=registry)
        self.notifications = Counter(
            "chainwatch_notifications", "Notification delivery attempts per receiver and outcome.",
            ["receiver", "outcome"], registry=registry)
        self.jobs = Counter("chainwatch_job_runs", "Scheduled job runs per job and outcome.", ["job", "outcome"], registry=registry)


def build_registry(sessions: sessionmaker[Session]) -> tuple[CollectorRegistry, ServiceMetrics]:
    """A fresh registry holding the stored-state collector and the service counters."""
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions))
    return registry, ServiceMetrics(registry)
