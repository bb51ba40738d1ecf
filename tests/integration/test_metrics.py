"""/metrics reads stored state: values, levels, data periods, freshness, outbox — and survives a dead database."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, update

from monitor.records import CollectedBatch
from monitor.telemetry.metrics import STORED_METRICS, ChainwatchRegistry, StoredStateCollector, build_registry
from monitor.serve.server import create_http_app
from monitor.store.assessments import complete_run, fail_run, start_run
from monitor.store.database import session_factory
from monitor.store.observations import store_batch
from monitor.store.tables import OutboxMessage
from tests.stored_state import populate


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
    assert value("chainwatch_assessment_in_progress") == 0
    assert value("chainwatch_assessment_runs_total", {"status": "failed"}) == 1
    assert value("chainwatch_assessment_runs_total", {"status": "succeeded"}) == 1


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
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_red_without_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    registry = CollectorRegistry()
    client = TestClient(create_http_app(registry, engine))
    assert client.get("/readyz").status_code == 503


@pytest.fixture
def populated(sessions, clock):
    populate(sessions, clock())
    clock.now += timedelta(minutes=5)
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions, clock))
    return registry


def _month(year, month):
    return datetime(year, month, 1, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("name, labels, expected", [
    # levels per chain: every level present, zeros included, the chain itself not counted
    ("chainwatch_chain_nodes_by_level", {"chain": "batteries", "level": "red"}, 1),
    ("chainwatch_chain_nodes_by_level", {"chain": "batteries", "level": "blue"}, 1),
    ("chainwatch_chain_nodes_by_level", {"chain": "batteries", "level": "yellow"}, 0),
    ("chainwatch_chain_nodes_by_level", {"chain": "batteries", "level": "none"}, 0),
    # the data's own month as a value: the newest judged month, "missing" verdicts aside
    ("chainwatch_node_data_period_timestamp_seconds", {"chain": "batteries", "node": "cells"}, _month(2025, 11)),
    ("chainwatch_node_data_period_timestamp_seconds", {"chain": "batteries", "node": "lithium"}, _month(2025, 9)),
    ("chainwatch_assessment_findings", {"chain": "batteries", "method": "stl_residual", "status": "flagged"}, 1),
    ("chainwatch_assessment_findings", {"chain": "batteries", "method": "stl_residual", "status": "normal"}, 1),
    ("chainwatch_assessment_findings", {"chain": "batteries", "method": "stl_residual", "status": "missing"}, 1),
    ("chainwatch_last_assessment_failed", {}, 1),
    ("chainwatch_assessment_runs_total", {"status": "succeeded"}, 1),
    ("chainwatch_collector_runs_total", {"source": "comtrade", "status": "failed"}, 2),
    ("chainwatch_collector_runs_total", {"source": "comtrade", "status": "succeeded"}, 1),
    ("chainwatch_collector_runs_total", {"source": "demo", "status": "failed"}, 0),
    ("chainwatch_collector_last_run_failed", {"source": "comtrade"}, 1),
    ("chainwatch_collector_last_run_failed", {"source": "demo"}, 0),
    ("chainwatch_notification_outbox_messages", {"receiver": "ops-webhook", "status": "pending"}, 1),
    ("chainwatch_notification_outbox_messages", {"receiver": "ops-webhook", "status": "delivered"}, 1),
    ("chainwatch_notification_outbox_messages", {"receiver": "ops-webhook", "status": "dead"}, 1),
    ("chainwatch_notification_outbox_messages", {"receiver": "chat", "status": "dead"}, 0),
    ("chainwatch_notification_oldest_pending_age_seconds", {"receiver": "chat"}, 2 * 3600 + 300),
    ("chainwatch_alerts", {"chain": "batteries", "state": "firing", "severity": "critical"}, 1),
    ("chainwatch_alerts", {"chain": "batteries", "state": "resolved", "severity": "info"}, 1),
    ("chainwatch_node_dimension_score", {"chain": "batteries", "node": "lithium", "dimension": "concentration"}, 30.0),
    ("chainwatch_chain_data_completeness_ratio", {"chain": "batteries"}, 0.75),
    ("chainwatch_node_data_completeness_ratio", {"chain": "batteries", "node": "cells"}, 0.5),
    ("chainwatch_node_data_completeness_ratio", {"chain": "batteries", "node": "lithium"}, 1.0),
    # the name, exported beside the older one with the same value
    ("chainwatch_data_completeness_ratio", {"chain": "batteries", "node": "cells"}, 0.5),
    ("chainwatch_data_completeness_ratio", {"chain": "batteries", "node": "lithium"}, 1.0),
])
def test_stored_state_values(populated, name, labels, expected):
    assert populated.get_sample_value(name, labels) == pytest.approx(expected)


def test_data_age_is_measured_at_scrape_time(populated, clock):
    labels = {"chain": "batteries", "node": "cells"}
    age = populated.get_sample_value("chainwatch_node_data_age_seconds", labels)
    assert age == pytest.approx(clock().timestamp() - _month(2025, 11))
    clock.now += timedelta(days=1)
    assert populated.get_sample_value("chainwatch_node_data_age_seconds", labels) == pytest.approx(age + 86400)


def test_nothing_pending_means_zero_backlog_age(sessions, clock):
    populate(sessions, clock())
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).values(status="delivered"))
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(sessions, clock))
    assert registry.get_sample_value("chainwatch_notification_oldest_pending_age_seconds", {"receiver": "chat"}) == 0


def _families(text):
    return list(text_string_to_metric_families(text))


def test_every_metric_has_help_and_follows_naming_conventions(sessions, clock):
    populate(sessions, clock())
    registry, metrics = build_registry(sessions, clock)
    metrics.collections.labels("demo", "success").inc()
    metrics.notifications.labels("ops-webhook", "delivered").inc()
    metrics.jobs.labels("assess", "success").inc()
    families = _families(generate_latest(registry).decode())
    names = {f.name for f in families}
    assert {spec.name.removesuffix("_total") for spec in STORED_METRICS} <= names
    for family in families:
        # #23: the standard process_* collector (memory, CPU, start time) is the one other prefix
        assert family.name.startswith(("chainwatch_", "process_")), family.name
        assert len(family.documentation) > 15, f"{family.name} has no real HELP text"
        for sample in family.samples:
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
            if family.type == "gauge":
                assert not sample.name.endswith("_total"), f"gauge {sample.name} looks like a counter"
            assert not {"partner", "product", "reporter"} & set(sample.labels), sample
        if {"timestamp", "duration", "age"} & set(family.name.split("_")):
            assert family.name.endswith("_seconds"), f"{family.name}: times are in seconds"


# The one partner-labelled family, exported only on opt-in (settings metrics.top_partners).
OPT_IN_PARTNER_METRICS = {"chainwatch_node_partner_share_ratio"}


def test_no_partner_or_product_labels_in_specs():
    for spec in STORED_METRICS:
        if spec.name not in OPT_IN_PARTNER_METRICS:
            assert not {"partner", "product", "reporter"} & set(spec.labels), spec.name
        assert spec.help.endswith("."), spec.name


def test_registration_does_not_read_the_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    registry = CollectorRegistry()
    registry.register(StoredStateCollector(session_factory(engine)))  # describe() only
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(StoredStateCollector(session_factory(engine)))


@pytest.mark.parametrize("accept, content_type, last_line", [
    (None, "text/plain; version=0.0.4; charset=utf-8", None),
    ("text/plain", "text/plain; version=0.0.4; charset=utf-8", None),
    ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text; version=1.0.0", "# EOF"),
    # what Prometheus 2.x sends
    ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "application/openmetrics-text; version=1.0.0", "# EOF"),
])
def test_metrics_content_negotiation(sessions, clock, accept, content_type, last_line):
    populate(sessions, clock())
    registry, _ = build_registry(sessions, clock)
    client = TestClient(create_http_app(registry, sessions.kw["bind"]))
    response = client.get("/metrics", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    lines = response.text.strip().splitlines()
    if last_line:
        assert lines[-1] == last_line
        families = {f.name: f for f in openmetrics_families(response.text)}
        assert families["chainwatch_collector_runs"].type == "counter"
        assert families["chainwatch_build"].type == "info"
    else:
        assert "# EOF" not in lines
        assert "chainwatch_chain_risk_score" in {f.name for f in _families(response.text)}


def _samples(families):
    # process_* (#23) moves between two reads (CPU, memory): compared by name only
    return {(s.name, tuple(sorted(s.labels.items())), None if s.name.startswith("process_") else s.value)
            for f in families for s in f.samples}


OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_render_shows_what_collect_shows(sessions, clock, accept):
    populate(sessions, clock())
    registry, metrics = build_registry(sessions, clock)
    metrics.jobs.labels("assess", "success").inc()
    for _ in range(2):  # the second render reuses the encoded run families
        body, content_type = registry.render(accept)
        if accept:
            assert content_type.startswith(OPENMETRICS) and body.endswith(b"# EOF\n")
            assert body.count(b"# EOF") == 1
            rendered, expected = openmetrics_families(body.decode()), openmetrics_families(
                openmetrics_generate_latest(registry).decode())
        else:
            rendered, expected = _families(body.decode()), _families(generate_latest(registry).decode())
        rendered = list(rendered)
        names = [f.name for f in rendered]
        assert len(names) == len(set(names)), "a family appears twice"
        assert _samples(rendered) == _samples(expected)


def test_completeness_ratio_under_both_names_on_the_metrics_endpoint(sessions, clock):
    populate(sessions, clock())
    registry, _ = build_registry(sessions, clock)
    client = TestClient(create_http_app(registry, sessions.kw["bind"]))
    families = {f.name: f for f in _families(client.get("/metrics").text)}
    new = {tuple(sorted(s.labels.items())): s.value for s in families["chainwatch_data_completeness_ratio"].samples}
    old = {tuple(sorted(s.labels.items())): s.value
           for s in families["chainwatch_node_data_completeness_ratio"].samples}
    assert new == old
    assert new[(("chain", "batteries"), ("node", "cells"))] == pytest.approx(0.5)
    # per node only: the chain's figure keeps its own family
    assert all(dict(labels)["node"] for labels in new)


def test_a_newer_run_replaces_the_reused_families(sessions, clock):
    populate(sessions, clock())
    registry, _ = build_registry(sessions, clock)
    first, _ = registry.render("")
    assert b'chainwatch_chain_risk_score{chain="batteries"} 65.0' in first
    run = start_run(sessions, "hash", clock())
    complete_run(sessions, run, date(2026, 1, 1), [], _scores(80.0, 95.0), clock())
    second, _ = registry.render("")
    assert b'chainwatch_chain_risk_score{chain="batteries"} 80.0' in second
    assert b'chainwatch_chain_risk_score{chain="batteries"} 65.0' not in second
    assert registry.get_sample_value("chainwatch_node_risk_score", {"chain": "batteries", "node": "cells"}) == 95.0


def test_database_lost_after_a_scrape_shows_only_storage_down(sessions, clock, tmp_path):
    populate(sessions, clock())
    database = {"sessions": sessions}
    registry = ChainwatchRegistry(StoredStateCollector(lambda: database["sessions"](), clock))
    assert b'chainwatch_chain_risk_score{chain="batteries"}' in registry.render("")[0]
    database["sessions"] = session_factory(create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}"))
    body = registry.render("")[0].decode()
    assert "chainwatch_storage_up 0.0" in body
    assert "chainwatch_chain_risk_score{" not in body, "reused run families must not outlive the database"


def _concentration_run(sessions, clock):
    details = {"window_months": 12, "hhi": 0.62, "top_share": 0.75, "top_partner": "COD", "n_partners": 3,
               "top_partners": [{"partner": "COD", "share": 0.75}, {"partner": "ZMB", "share": 0.2},
                                {"partner": "AUS", "share": 0.05}]}
    rows = [
        {"chain": "minerals", "node": "", "dimension": "overall", "score": 80.0, "level": "orange", "drivers": []},
        {"chain": "minerals", "node": "cobalt", "dimension": "overall", "score": 80.0, "level": "orange", "drivers": []},
        {"chain": "minerals", "node": "cobalt", "dimension": "concentration", "score": 80.0, "level": "",
         "drivers": [], "details": details},
    ]
    run = start_run(sessions, "hash", clock())
    complete_run(sessions, run, date(2025, 12, 1), [], rows, clock())


@pytest.mark.parametrize("top_partners", [0, 2])
def test_partner_shares_only_when_opted_in(sessions, clock, top_partners):
    _concentration_run(sessions, clock)
    registry, _ = build_registry(sessions, clock, top_partners=top_partners)
    node = {"chain": "minerals", "node": "cobalt"}
    assert registry.get_sample_value("chainwatch_node_import_hhi_ratio", node) == 0.62
    assert registry.get_sample_value("chainwatch_node_top_partner_share_ratio", node) == 0.75
    shares = {partner: registry.get_sample_value("chainwatch_node_partner_share_ratio", {**node, "partner": partner})
              for partner in ("COD", "ZMB", "AUS")}
    if top_partners == 0:
        assert set(shares.values()) == {None}
    else:
        assert shares == {"COD": 0.75, "ZMB": 0.2, "AUS": None}


def test_the_exposition_is_byte_for_byte_what_prometheus_client_writes(sessions, clock):
    """/metrics writes plain gauges itself (speed); its bytes must equal the library's, in every format."""
    from prometheus_client.exposition import choose_encoder

    from monitor.telemetry.metrics import _Families, _EOF, encode_families

    populate(sessions, clock())
    run = start_run(sessions, "hash", clock())
    odd = 'quote " backslash \\ newline \n 中文 é'
    scores = [{"chain": "batteries", "node": "", "dimension": "overall", "score": 70.0, "level": "orange",
               "drivers": []},
              {"chain": "batteries", "node": odd, "dimension": "overall", "score": float("nan"), "level": "red",
               "drivers": []},
              {"chain": "batteries", "node": odd, "dimension": "concentration", "score": 1e21, "level": "",
               "drivers": [], "details": {"hhi": 1 / 3, "top_share": 5e-324, "top_partners": [
                   {"partner": odd, "share": 0.123456789012345678}]}}]
    complete_run(sessions, run, date(2025, 12, 1), [], scores, clock() + timedelta(seconds=1))
    registry, metrics = build_registry(sessions, clock, top_partners=3)
    registry.unregister(metrics.process)  # CPU and memory move between two renders (#23)
    metrics.jobs.labels("assess", "success").inc()  # counters and histograms go through the library
    metrics.job_seconds.labels("assess").observe(float("inf"))
    accepts = ("", "application/openmetrics-text", "application/openmetrics-text;version=1.0.0;escaping=underscores",
               "text/plain;version=0.0.4", "text/plain;version=1.0.0;escaping=allow-utf-8",
               "application/openmetrics-text;version=1.0.0;escaping=dots")
    for accept in accepts:
        body, content_type = registry.render(accept)
        encoder, expected_type = choose_encoder(accept)
        snapshot = registry.stored.snapshot()
        rest = [snapshot.up, *snapshot.live, *snapshot.stress, *CollectorRegistry.collect(registry)]
        assert content_type == expected_type
        assert body == encoder(_Families(snapshot.run.families)).removesuffix(_EOF) + encoder(_Families(rest)), accept
        assert encode_families(rest, content_type, encoder) + (
            _EOF if "openmetrics" in content_type else b"") == encoder(_Families(rest)), accept
    assert 'node="quote \\" backslash \\\\ newline \\n 中文 é"' in registry.render("")[0].decode()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_process_that_assessed_serves_the_next_scrape_without_reading_the_run(db_url, clock):
    from sqlalchemy import event

    from monitor.app import build_app
    from tests.conftest import CONFIG_DIR

    app = build_app(CONFIG_DIR, db_url, clock)
    try:
        result = app.assess()
        statements = []
        event.listen(app.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        body, _ = app.registry.render("application/openmetrics-text; version=1.0.0")
        assert "chainwatch_assessment_runs_total{status=\"succeeded\"} 1.0".encode() in body
        assert statements and not any("risk_scores" in sql for sql in statements), statements
        assert result.run_id == app.registry.stored.snapshot().run.key.run_id
    finally:
        app.close()
