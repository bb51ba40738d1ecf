"""config/grafana/: provisioning files and dashboards are well-formed, and every query
uses only metrics chainwatch exports (a real Prometheus runs them in
test_prometheus_integration.py)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import yaml

from monitor.store.database import make_engine, migrate, session_factory
from tests.promql_sources import (
    DASHBOARD_FILES,
    GRAFANA_DIR,
    PROMETHEUS_BUILTINS,
    dashboard_expressions,
    load_dashboards,
    metric_names,
    recorded_names,
    template_queries,
)
from tests.stored_state import exported_sample_names

DATASOURCE_UID = "chainwatch-prometheus"
BOARDS = load_dashboards()


def test_the_three_dashboards_exist():
    assert {b["uid"] for b in BOARDS.values()} == {"chainwatch-overview", "chainwatch-chain", "chainwatch-operations"}
    assert len({b["title"] for b in BOARDS.values()}) == len(BOARDS)


def test_provisioning_files():
    datasources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/chainwatch.yml").read_text())
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == DATASOURCE_UID and source["url"]
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/chainwatch.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_structure(path):
    board = BOARDS[path]
    assert board["uid"].startswith("chainwatch-") and "chainwatch" in board["tags"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert panels, "no panels"
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids {ids}"
    for panel in panels:
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("title") and panel.get("description"), where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0, where
        targets = panel["targets"]
        assert targets, f"{where}: no targets"
        assert len({t["refId"] for t in targets}) == len(targets), f"{where}: duplicate refIds"
        for target in targets:
            assert target.get("expr", "").strip(), f"{where}: target {target.get('refId')} has no expr"
            assert target["datasource"] == panel["datasource"], where
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= set(variables), f"{where}: unknown variable(s) {used - set(variables)}"


def test_chain_drill_down_is_driven_by_the_chain_variable():
    board = next(b for b in BOARDS.values() if b["uid"] == "chainwatch-chain")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["chain"]["type"] == "query"
    assert variables["chain"]["query"]["query"] == "label_values(chainwatch_chain_risk_score, chain)"
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert 'chain="$chain"' in target["expr"], f"panel {panel['title']!r} ignores $chain"


def test_overview_and_operations_cover_what_ops_need():
    exprs = {b["uid"]: " ".join(t["expr"] for p in b["panels"] for t in p["targets"]) for b in BOARDS.values()}
    for name in ("chainwatch_chain_risk_level", "chainwatch_chain_nodes_by_level", "chainwatch_chain_risk_score",
                 "chainwatch_node_risk_score", "chainwatch_alerts"):
        assert name in exprs["chainwatch-overview"], name
    for name in ("chainwatch_node_risk_score", "chainwatch_node_dimension_score", "chainwatch_node_data_age_seconds"):
        assert name in exprs["chainwatch-chain"], name
    for name in ("chainwatch_collector_last_success", "chainwatch_collector_runs_total",
                 "chainwatch_notification_outbox_messages", "chainwatch_notification_oldest_pending_age_seconds",
                 "chainwatch_last_assessment_duration_seconds"):
        assert name in exprs["chainwatch-operations"], name


def test_dashboards_use_only_exported_metrics(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    exported = exported_sample_names(session_factory(engine), datetime(2026, 1, 15, tzinfo=timezone.utc))
    engine.dispose()
    known = exported | PROMETHEUS_BUILTINS | recorded_names()
    queries = [*dashboard_expressions(), *(q for q in template_queries())]
    assert queries
    for query in queries:
        expr = query.expr if hasattr(query, "expr") else query.match
        names = metric_names(expr)
        assert names, f"{query.where}: selects no metric"
        assert not names - known, f"{query.where}: {sorted(names - known)} not exported by chainwatch"
