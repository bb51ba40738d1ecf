"""Partitioned assessment: every executor gives the same result, and partitions read only their own data."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

import monitor.assess.assessment as assessment
import monitor.assess.inputs as dimension_inputs
from benchmarks.synthetic import SyntheticCatalog
from monitor.assess.assessment import plan_partitions, run_assessment, top_partners
from monitor.assess.executors import ExecutorError, LocalExecutor
from monitor.config.loader import load_config
from monitor.config.models import AssessmentSettings
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch
from tests.conftest import CONFIG_DIR

SMALL = SyntheticCatalog(nodes=6, hs_per_node=2, partners=3, months=60, chains=2, drops=((1, 0, 0),))
"""Node n00001's imports of HS 100002 from AUS fall to a fifth in the last month."""


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _configure(config, catalog=None, **assessment_changes):
    settings = config.settings.assessment.model_copy(update=assessment_changes)
    update = {"settings": config.settings.model_copy(update={"assessment": settings})}
    if catalog is not None:
        update["catalog"] = catalog
    return config.model_copy(update=update)


def _outcome(result):
    """Everything a run decided, in comparable form (no run ids)."""
    chains = [(c.chain, c.score, c.level, c.judgement.completeness,
               [(n.node, n.score, n.level, n.dimensions, n.drivers, n.drivers_zh, n.concentration,
                 n.judgement.completeness) for n in c.nodes]) for c in result.chains]
    findings = [(chain, node, f.series_id, f.method, f.status, f.direction, f.score, f.observed, f.expected)
                for chain, node, f in result.findings]
    return result.as_of, chains, repr(findings)  # repr: NaN compares equal to itself


@pytest.fixture(scope="module")
def demo_db(demo_sqlite, small_config):
    # The demo data judged on two chains (small_config): the demo's disruption and several
    # partitions per chain, at two fifths of the work of all five chains.
    engine = make_engine(demo_sqlite())
    yield small_config, session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory):
    config = _configure(load_config(CONFIG_DIR, environ={}), catalog=SMALL.catalog(),
                        bilateral_series_top_partners=3, partition_max_nodes=2)
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('synthetic') / 'synthetic.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    from tests.conftest import FrozenClock

    for batch in SMALL.batches(nodes_per_batch=4):
        store_batch(sessions, batch, FrozenClock()())
    yield config, sessions
    engine.dispose()


@pytest.mark.parametrize("database", ["demo_db", "synthetic_db"])
def test_serial_local_and_dask_executors_give_identical_results(database, request, dask_scheduler, clock):
    config, sessions = request.getfixturevalue(database)
    serial = _outcome(run_assessment(_configure(config, executor="serial"), sessions, clock))
    # Smaller partitions too: where a chain is split must not matter either.
    local = _outcome(run_assessment(_configure(config, executor="local", workers=2, partition_max_nodes=1),
                                    sessions, clock))
    dask = _outcome(run_assessment(_configure(config, executor="dask", dask_scheduler=dask_scheduler),
                                   sessions, clock))
    assert serial[1] and len(serial[2]) > 2
    assert local == serial
    assert dask == serial


def test_bilateral_flow_drop_drives_its_node(synthetic_db, clock):
    config, sessions = synthetic_db
    result = run_assessment(config, sessions, clock)
    node = next(n for c in result.chains for n in c.nodes if n.node == "n00001")
    flagged = [f.series_id for _, node_id, f in result.findings if f.status == "flagged"]
    assert "imports.chain-000.n00001.100002.AUS" in flagged
    assert node.drivers[0].startswith("imports of HS 100002 from Australia:")
    assert node.dimensions["disruption"] >= 90
    bilateral = [f for _, node_id, f in result.findings if f.series_id.count(".") == 4]
    assert len(bilateral) == SMALL.series  # every HS code x partner flow judged once
    others = [n for c in result.chains for n in c.nodes if n.node != "n00001"]
    assert all(not n.drivers or not n.drivers[0].startswith("imports of HS") for n in others)


def test_bilateral_series_are_off_by_default(synthetic_db, clock):
    config, sessions = synthetic_db
    result = run_assessment(_configure(config, bilateral_series_top_partners=0), sessions, clock)
    assert not [f for _, _, f in result.findings if f.series_id.count(".") == 4]


def test_each_partition_loads_only_its_own_flows(synthetic_db, clock, monkeypatch):
    config, sessions = synthetic_db
    calls = []
    real = assessment.load_trade_flows

    def recording(session, reporter, products, *args, **kwargs):
        calls.append(sorted(products))
        return real(session, reporter, products, *args, **kwargs)

    monkeypatch.setattr(assessment, "load_trade_flows", recording)
    run_assessment(config, sessions, clock)
    partitions = plan_partitions(config, None)
    assert len(partitions) == 4  # two chains of three nodes, at most two nodes each
    assert calls == [sorted(c for node in p.nodes for c in node.hs_codes) for p in partitions]
    assert max(len(c) for c in calls) == 4  # never the whole catalog's 12 codes


def test_whether_exports_are_collected_is_asked_once_per_run_not_per_partition(synthetic_db, clock, monkeypatch):
    # Without an index on the flow the question scans every stored row of the reporter.
    config, sessions = synthetic_db
    calls = []
    real = dimension_inputs.exports_stored

    def recording(*args, **kwargs):
        calls.append(args[1:])
        return real(*args, **kwargs)

    monkeypatch.setattr(dimension_inputs, "exports_stored", recording)
    result = run_assessment(config, sessions, clock)
    assert len(plan_partitions(config, None)) == 4 and len(calls) == 1
    # The synthetic catalog stores no exports: dependence stays missing, never zero risk.
    assert all(n.dimensions["dependence"] is None for c in result.chains for n in c.nodes)


def test_top_partners_rank_by_window_value_with_stable_ties():
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    rows = [{"partner": p, "period": m, "value": v}
            for m in months for p, v in (("USA", 5.0), ("AUS", 5.0), ("BRA", 1.0 if m.year == 2025 else 100.0),
                                         ("WORLD", 1000.0))]
    frame = pd.DataFrame(rows)
    # BRA was the largest partner, but not over the last 12 months; AUS/USA tie → by code;
    # the World total is no partner.
    assert top_partners(frame, months[-1].date(), window=12, n=2) == ["AUS", "USA"]
    assert top_partners(frame, months[-1].date(), window=24, n=1) == ["BRA"]
    assert top_partners(frame, None, window=12, n=2) == []


def test_dask_executor_needs_a_scheduler_address():
    with pytest.raises(ValidationError, match="dask_scheduler"):
        AssessmentSettings.model_validate({"executor": "dask"})
    with pytest.raises(ValidationError) as err:
        AssessmentSettings.model_validate({"executor": "dask", "dask_scheduler": "localhost:8786"})
    assert err.value.errors()[0]["loc"] == ("dask_scheduler",)
    with pytest.raises(ValidationError) as err:
        AssessmentSettings.model_validate({"executor": "local", "workers": 0})
    assert err.value.errors()[0]["loc"] == ("workers",)


def test_process_executors_refuse_an_in_memory_database(clock):
    engine = make_engine("sqlite://")
    with pytest.raises(ExecutorError, match="in-memory SQLite"):
        LocalExecutor(2).database_url(session_factory(engine))
    engine.dispose()


def test_partition_tasks_keep_the_database_password_out_of_their_repr():
    config = load_config(CONFIG_DIR, environ={})
    url = "postgresql+psycopg://chainwatch:s3cret-pw@db.internal:5432/chainwatch"
    tasks = plan_partitions(config, None, url)
    assert tasks and all(task.database_url == url for task in tasks)  # workers still get it
    assert not any("s3cret-pw" in repr(task) for task in tasks)
