"""Running collectors and storing what they return.

A failing source is logged once when it goes down and once when it recovers (not
on every attempt), and its failure is recorded for the freshness metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError, CollectionWindow, Collector
from monitor.collect.demo import DemoCollector
from monitor.collect.http import HttpOptions
from monitor.config.models import Config
from monitor.store.observations import BatchError, record_failed_collection, store_collection
from monitor.store.vintages import drop_unchanged, latest_periods

if TYPE_CHECKING:
    from monitor.telemetry.metrics import ServiceMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionOutcome:
    """How one collection of one source went."""

    source: str
    ok: bool
    rows_written: int
    error: str | None = None
    rows_ingested: int = 0
    """New or revised observations and trade flows (``rows_new + rows_revised``)."""
    rows_unchanged: int = 0
    """Rows equal to their latest stored vintage."""
    rows_rejected: dict[str, int] = field(default_factory=dict)
    rows_new: int = 0
    """Rows without a stored vintage."""
    rows_revised: int = 0
    """Rows different from their latest stored vintage (stored beside it)."""


def request_observer(metrics: "ServiceMetrics") -> Callable[[str, str], None]:
    """An HTTP observer counting ``chainwatch_collector_requests_total{source,outcome}``."""

    def observe(source: str, outcome: str) -> None:
        metrics.collector_requests.labels(source, outcome).inc()

    return observe


def build_collectors(config: Config, options: HttpOptions | None = None,
                     clock: Clock = system_clock) -> list[Collector]:
    """One collector per configured source (``options``: injected transport, sleep, observer)."""
    from monitor.collect.census import CensusCollector
    from monitor.collect.comext import ComextCollector
    from monitor.collect.comtrade import ComtradeCollector
    from monitor.collect.eto import EtoChipsCollector
    from monitor.collect.eurostat import EurostatCollector
    from monitor.collect.federal_register import FederalRegisterCollector
    from monitor.collect.feeds import FeedCollector
    from monitor.collect.files import FileCollector
    from monitor.collect.fred import FredCollector
    from monitor.collect.usgs import UsgsCollector
    from monitor.collect.worldbank import WorldBankCollector

    network = {"comtrade": ComtradeCollector, "fred": FredCollector, "worldbank": WorldBankCollector,
               "eurostat": EurostatCollector, "census": CensusCollector, "comext": ComextCollector,
               "file": FileCollector, "usgs": UsgsCollector, "eto_chips": EtoChipsCollector,
               "federal_register": FederalRegisterCollector, "feed": FeedCollector}
    collectors: list[Collector] = []
    for source in config.sources.sources:
        if source.kind == "demo":
            collectors.append(DemoCollector(config.catalog, source))
        else:
            collectors.append(network[source.kind](source, config.catalog, options, clock))
    return collectors


class CollectionRunner:
    """Collects sources and stores their batches, remembering which sources are down."""

    def __init__(self, collectors: list[Collector], sessions: sessionmaker[Session], clock: Clock,
                 metrics: "ServiceMetrics | None" = None):
        self._collectors = {c.source_id: c for c in collectors}
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self._down: set[str] = set()

    @property
    def source_ids(self) -> list[str]:
        """Ids of the configured sources."""
        return list(self._collectors)

    def collect(self, source_id: str, since: date | None = None) -> CollectionOutcome:
        """Collect one source and store its batch in one transaction.

        Network collectors are incremental: they fetch from the latest stored period
        minus their look-back (or from ``since``), and values equal to the latest
        stored vintage are not written again.
        """
        collector = self._collectors[source_id]
        started = time.perf_counter()
        unchanged, rejected = 0, {}
        try:
            if getattr(collector, "incremental", False):
                with self._sessions() as session:
                    latest = latest_periods(session, source_id)
                window = CollectionWindow(since=since, latest=latest,
                                          lookback_months=collector.lookback_months)  # type: ignore[attr-defined]
                batch = collector.collect(window)  # type: ignore[call-arg]
                rejected = dict(batch.rejected)
                with self._sessions() as session:
                    batch, unchanged, revised = drop_unchanged(session, batch)
                ingested = len(batch.observations) + len(batch.trade_flows)
            else:
                batch = collector.collect()
                rejected = dict(batch.rejected)
                # Stored whole, as always (the upsert writes only what changed); counted
                # against the stored vintages so a rerun does not report every row as new.
                with self._sessions() as session:
                    changed, unchanged, revised = drop_unchanged(session, batch)
                ingested = len(changed.observations) + len(changed.trade_flows)
            try:
                # policy events are counted as they are stored, against their stored rows
                rows, (new, revised, unchanged) = store_collection(
                    self._sessions, batch, self._clock(), (ingested - revised, revised, unchanged))
                ingested = new + revised
            except SQLAlchemyError as err:
                # e.g. "database or disk is full": the source failed, the service goes on.
                detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
                raise BatchError(f"could not store the batch: {detail}") from err
        except (CollectionError, BatchError) as err:
            self._observe(source_id, started, 0, rejected, 0)
            if isinstance(err, CollectionError):
                record_failed_collection(self._sessions, source_id, self._clock(), str(err))
            if source_id not in self._down:
                log.error("source %s is failing: %s", source_id, err)
                self._down.add(source_id)
            return CollectionOutcome(source_id, False, 0, str(err))
        self._observe(source_id, started, ingested, rejected, unchanged)
        if source_id in self._down:
            log.info("source %s recovered", source_id)
            self._down.discard(source_id)
        # As `chainwatch collect` counts them; "written" also counts the series definitions upserted.
        log.info("source %s: %d new, %d revised, %d unchanged, %d rejected row(s); %d written with the series",
                 source_id, new, revised, unchanged, sum(rejected.values()), rows)
        return CollectionOutcome(source_id, True, rows, None, ingested, unchanged, rejected, new, revised)

    def _observe(self, source_id: str, started: float, ingested: int, rejected: dict[str, int],
                 unchanged: int) -> None:
        if self._metrics is None:
            return
        self._metrics.collector_duration.labels(source_id).observe(time.perf_counter() - started)
        self._metrics.collector_rows_ingested.labels(source_id).inc(ingested)
        self._metrics.collector_rows_unchanged.labels(source_id).inc(unchanged)
        for reason, count in rejected.items():
            self._metrics.collector_rows_rejected.labels(source_id, reason).inc(count)

    def close(self) -> None:
        """Release the collectors' HTTP connections."""
        for collector in self._collectors.values():
            close = getattr(collector, "close", None)
            if close is not None:
                close()

    def collect_all(self) -> list[CollectionOutcome]:
        """Collect every source in turn."""
        return [self.collect(source_id) for source_id in self._collectors]
