"""Collect counts truthfully (issue 25): a rerun with nothing changed is 0 new, 0 revised,
N unchanged in the outcome, in ``collector_runs`` and in ``rows_ingested``; a revised
value counts as revised. The demo source is not incremental (stored whole each time)."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from monitor.collect.collection import CollectionRunner, build_collectors
from monitor.config.loader import load_config
from monitor.store.tables import CollectorRun
from monitor.telemetry.metrics import ServiceMetrics
from tests.conftest import CONFIG_DIR


def _ingested(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("chainwatch_collector_rows_ingested_total", {"source": "demo"}) or 0.0


def test_a_rerun_with_nothing_changed_counts_every_row_unchanged(sessions, clock):
    registry = CollectorRegistry()
    config = load_config(CONFIG_DIR, environ={})
    runner = CollectionRunner(build_collectors(config, clock=clock), sessions, clock, ServiceMetrics(registry))

    first = runner.collect("demo")
    assert first.ok and first.rows_new > 0 and (first.rows_revised, first.rows_unchanged) == (0, 0)
    assert first.rows_ingested == first.rows_new
    assert _ingested(registry) == first.rows_new

    second = runner.collect("demo")
    assert (second.rows_new, second.rows_revised, second.rows_unchanged) == (0, 0, first.rows_new)
    assert second.rows_ingested == 0
    assert _ingested(registry) == first.rows_new  # the rerun added nothing

    with sessions() as session:
        runs = session.execute(select(CollectorRun.rows_new, CollectorRun.rows_revised, CollectorRun.rows_unchanged)
                               .order_by(CollectorRun.id)).all()
    assert [tuple(r) for r in runs] == [(first.rows_new, 0, 0), (0, 0, first.rows_new)]


def test_a_changed_value_counts_as_revised(sessions, clock):
    config = load_config(CONFIG_DIR, environ={})
    (demo,) = build_collectors(config, clock=clock)
    runner = CollectionRunner([demo], sessions, clock)
    first = runner.collect("demo")

    class Revising:
        """The demo source, one observation revised."""

        source_id = demo.source_id

        def collect(self):
            batch = demo.collect()
            observations = batch.observations.copy()
            observations.loc[0, "value"] = float(observations.loc[0, "value"]) + 1.0
            return replace(batch, observations=observations)

    outcome = CollectionRunner([Revising()], sessions, clock).collect("demo")
    assert (outcome.rows_new, outcome.rows_revised, outcome.rows_unchanged) == (0, 1, first.rows_new - 1)
