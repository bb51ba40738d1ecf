"""Running collectors and storing what they return.

A failing source is logged once when it goes down and once when it recovers (not
on every attempt), and its failure is recorded for the freshness metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import Clock
from monitor.collectors.base import CollectionError, Collector
from monitor.collectors.demo import DemoCollector
from monitor.config.models import Config
from monitor.storage.observations import BatchError, record_failed_collection, store_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionOutcome:
    """How one collection of one source went."""

    source: str
    ok: bool
    rows_written: int
    error: str | None = None


def build_collectors(config: Config) -> list[Collector]:
    """One collector per configured source."""
    collectors: list[Collector] = []
    for source in config.sources.sources:
        if source.kind == "demo":
            collectors.append(DemoCollector(config.catalog, source))
    return collectors


class CollectionRunner:
    """Collects sources and stores their batches, remembering which sources are down."""

    def __init__(self, collectors: list[Collector], sessions: sessionmaker[Session], clock: Clock):
        self._collectors = {c.source_id: c for c in collectors}
        self._sessions = sessions
        self._clock = clock
        self._down: set[str] = set()

    @property
    def source_ids(self) -> list[str]:
        """Ids of the configured sources."""
        return list(self._collectors)

    def collect(self, source_id: str) -> CollectionOutcome:
        """Collect one source and store its batch in one transaction."""
        collector = self._collectors[source_id]
        try:
            batch = collector.collect()
            rows = store_batch(self._sessions, batch, self._clock())
        except (CollectionError, BatchError) as err:
            if isinstance(err, CollectionError):
                record_failed_collection(self._sessions, source_id, self._clock(), str(err))
            if source_id not in self._down:
                log.error("source %s is failing: %s", source_id, err)
                self._down.add(source_id)
            return CollectionOutcome(source_id, False, 0, str(err))
        if source_id in self._down:
            log.info("source %s recovered", source_id)
            self._down.discard(source_id)
        log.info("source %s: %d rows stored", source_id, rows)
        return CollectionOutcome(source_id, True, rows)

    def collect_all(self) -> list[CollectionOutcome]:
        """Collect every source in turn."""
        return [self.collect(source_id) for source_id in self._collectors]
