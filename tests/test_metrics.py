"""/metrics reads stored state: values, levels, freshness, outbox — and survives a dead database."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from monitor.collectors.base import CollectedBatch
from monitor.metrics import StoredStateCollector, build_registry
from monitor.server import create_http_app
from monitor.storage.assessments import complete_run, fail_run, start_run
from monitor.storage.database import session_factory
from monitor.storage.observations import store_batch


def _scores(chain_score, node_score):
    return [
        {"chain": "batteries", "node": "", "dimension": "overall", "score": chain_score, "level": "orange", "drivers": []},
        {"chain": "batteries", "node": "cells", "dimension": "overall", "score": node_score, "level": "red", "drivers": ["x"]},
        {"chain": "batteries", "node": "cells", "dimension": "concentration", "score": None, "level": "", "drivers": []},
        {"chain": "batteries", "node": "cells", "dimension": "disruption", "score": 90.0, "level": "", "drivers": []},
    ]


def test_latest_successful_run_is_exposed(sessions, clock):
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions))
    assert registry.get_sample_value("chainwatch_storage_up") == 1
    assert registry.get_sample_value("chainwatch_chain_risk_score", {"chain": "batteries"}) is None

    run = start_run(sessions, "hash", clock())
    clock.now += timedelta(seconds=4)
    complete_run(sessions, run, date(2025, 12, 1), [], _scores(65.0, 90.0), clock())
    failed = start_run(sessions, "hash", clock())
    fail_run(sessions, failed, "boom", clock())  # a later failure does not hide the last good scores

    value = registry.get_sample_value
    assert value("chainwatch_chain_risk_score", {"chain": "batteries"}) == 65.0
    assert value("chainwatch_chain_risk_level", {"chain": "batteries"}) == 3
    assert value("chainwatch_node_risk_score", {"chain": "batteries", "node": "cells"}) == 90.0
    assert value("chainwatch_node_risk_level", {"chain": "batteries", "node": "cells"}) == 4
    assert value("chainwatch_node_dimension_score", {"chain": "batteries", "node": "cells", "dimension": "disruption"}) == 90.0
    # missing data is absent, not zero
    assert value("chainwatch_node_dimension_score", {"chain": "batteries", "node": "cells", "dimension": "concentration"}) is None
    assert value("chainwatch_last_assessment_duration_seconds") == pytest.approx(4.0)
    assert value("chainwatch_last_assessment_timestamp_seconds") == pytest.approx((clock.now).timestamp())
    assert value("chainwatch_assessment_data_period_timestamp_seconds") == pd.Timestamp("2025-12-01", tz="UTC").timestamp()
    assert value("chainwatch_last_assessment_failed") == 1
    assert value("chainwatch_notification_outbox_messages", {"status": "pending"}) == 0


def test_collector_freshness(sessions, clock):
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions))
    store_batch(sessions, CollectedBatch(source="demo", vintage="v"), clock())
    assert registry.get_sample_value(
        "chainwatch_collector_last_success_timestamp_seconds", {"source": "demo"}) == clock().timestamp()


def test_scrape_survives_unreachable_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(session_factory(engine)))
    assert registry.get_sample_value("chainwatch_storage_up") == 0


def test_http_endpoints(sessions):
    registry, metrics = build_registry(sessions)
    metrics.collections.labels("demo", "success").inc()
    client = TestClient(create_http_app(registry, sessions.kw["bind"]))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "# HELP chainwatch_chain_risk_score" in response.text
    assert 'chainwatch_collections_total{outcome="success",source="demo"} 1.0' in response.text
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_red_without_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    registry = CollectorRegistry()
    client = TestClient(create_http_app(registry, engine))
    assert client.get("/readyz").status_code == 503
