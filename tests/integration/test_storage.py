"""Storage on SQLite and PostgreSQL: migrations, idempotent and all-or-nothing writes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, inspect, select

from monitor.records import CollectedBatch, SeriesInfo
from monitor.store.assessments import PreviousScore, previous_scores
from monitor.store.database import DatabaseURLError, make_engine, migrate, normalise_url, session_factory
from monitor.store.observations import (
    BatchError,
    collector_last_success,
    load_observations,
    load_trade_flows,
    store_batch,
)
from monitor.store.tables import CollectorRun, Observation, TradeFlow

EXPECTED_TABLES = {"series", "observations", "trade_flows", "collector_runs", "assessment_runs",
                   "findings", "risk_scores", "alerts", "notification_outbox", "alembic_version"}


def _batch(vintage="v1", scale=1.0, months=6):
    periods = pd.date_range("2025-01-01", periods=months, freq="MS")
    observations = pd.DataFrame({"series_id": "prod.x", "period": periods,
                                 "value": np.arange(months, dtype=float) * scale + 100})
    flows = pd.DataFrame([
        {"reporter": "CHN", "partner": partner, "product": "2605", "flow": "M", "period": p,
         "value": value * scale, "quantity": np.nan if partner == "ZMB" else value * 10}
        for p in periods for partner, value in (("COD", 900.0), ("ZMB", 100.0))
    ])
    return CollectedBatch(source="demo", vintage=vintage,
                          series=[SeriesInfo("prod.x", "demo", "index", "test series")],
                          observations=observations, trade_flows=flows)


def _count(sessions, model):
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_migration_creates_every_table_and_is_idempotent(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a second run changes nothing and does not fail
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_recollection_adds_no_duplicates(sessions, clock):
    store_batch(sessions, _batch(), clock())
    before = (_count(sessions, Observation), _count(sessions, TradeFlow))
    clock.now += timedelta(hours=1)
    store_batch(sessions, _batch(), clock())
    assert (_count(sessions, Observation), _count(sessions, TradeFlow)) == before == (6, 12)


def test_new_vintage_is_kept_and_read_as_latest(sessions, clock):
    store_batch(sessions, _batch("v1"), clock())
    clock.now += timedelta(days=30)
    store_batch(sessions, _batch("v2", scale=2.0), clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"])
        obs = load_observations(session, ["prod.x"])
    assert len(flows) == 12 and flows["value"].max() == pytest.approx(1800.0)
    assert flows.loc[flows.partner == "ZMB", "quantity"].isna().all()
    assert obs["value"].iloc[-1] == pytest.approx(5 * 2.0 + 100)
    assert _count(sessions, Observation) == 12  # both vintages stored


def test_bad_batch_writes_nothing_and_is_recorded(sessions, clock):
    store_batch(sessions, _batch(), clock())
    bad = _batch(scale=3.0)
    bad.trade_flows.loc[3, "partner"] = None
    clock.now += timedelta(hours=1)
    with pytest.raises(BatchError, match="trade flows row 3"):
        store_batch(sessions, bad, clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"])
        runs = session.scalars(select(CollectorRun).order_by(CollectorRun.id)).all()
        last_success = collector_last_success(session)
    assert flows["value"].max() == pytest.approx(900.0)  # previous data intact
    assert [r.status for r in runs] == ["succeeded", "failed"]
    assert last_success["demo"].replace(tzinfo=None) == (clock.now - timedelta(hours=1)).replace(tzinfo=None)


def test_unsupported_url_is_a_clear_error():
    with pytest.raises(DatabaseURLError, match="unsupported database 'mysql'"):
        normalise_url("mysql://root:pw@localhost/x")
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")


def test_postgresql_without_the_bulk_reader_is_refused_before_connecting(monkeypatch):
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "adbc_driver_postgresql" else found(name, *a))
    with pytest.raises(DatabaseURLError, match=r"pip install 'chainwatch\[postgres\]' \(adbc-driver-postgresql"):
        make_engine("postgresql://u:secret@nowhere.invalid/db")
    make_engine("sqlite://").dispose()  # SQLite does not need it


def test_upgrade_keeps_rows_written_by_an_older_schema(db_url, clock):
    engine = make_engine(db_url)
    migrate(engine, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO assessment_runs (started_at, status, config_hash) VALUES ('2026-01-01', 'succeeded', 'h')")
        connection.exec_driver_sql(
            "INSERT INTO risk_scores (run_id, chain, node, dimension, score, level, drivers) "
            "VALUES (1, 'c', '', 'overall', 50.0, 'yellow', '[]')")
    migrate(engine)
    with session_factory(engine)() as session:
        assert previous_scores(session) == {("c", ""): PreviousScore(50.0, "yellow", 0)}
    engine.dispose()


def _trade_flow_key_and_indexes(engine):
    found = inspect(engine)
    return (found.get_pk_constraint("trade_flows")["constrained_columns"],
            sorted(i["name"] for i in found.get_indexes("trade_flows")))


def _store_in_old_schema(engine, batch, now):
    """Write ``batch`` as a chainwatch of schema 0007 did (no column added later)."""
    from sqlalchemy import MetaData, Table

    flows = Table("trade_flows", MetaData(), autoload_with=engine)
    observations = Table("observations", MetaData(), autoload_with=engine)
    series = Table("series", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(series.insert(), [{"series_id": s.series_id, "source": s.source, "unit": s.unit,
                                              "description": s.description, "simulated": False}
                                             for s in batch.series])
        connection.execute(observations.insert(), [
            {"series_id": r.series_id, "period": r.period.date(), "vintage": batch.vintage, "value": r.value,
             "source": batch.source, "retrieved_at": now} for r in batch.observations.itertuples()])
        connection.execute(flows.insert(), [
            {"source": batch.source, "reporter": r.reporter, "partner": r.partner, "product": r.product,
             "flow": r.flow, "period": r.period.date(), "vintage": batch.vintage, "value": r.value,
             "quantity": None if np.isnan(r.quantity) else r.quantity, "retrieved_at": now}
            for r in batch.trade_flows.itertuples()])


def _downgrade(engine, revision):
    from alembic import command

    from monitor.store.database import _alembic_config
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_trade_flow_key_migration_keeps_rows_and_downgrades(db_url, clock):
    engine = make_engine(db_url)
    migrate(engine, "0007")
    sessions = session_factory(engine)
    _store_in_old_schema(engine, _batch(), clock())
    assert _trade_flow_key_and_indexes(engine) == (
        ["source", "reporter", "partner", "product", "flow", "period", "vintage"],
        ["ix_trade_flows_reporter_product_period"])

    migrate(engine)
    # One full index left: the key, led by the columns every reader filters on (and the
    # partial index of simulated rows, migration 0009, which real rows never enter).
    assert _trade_flow_key_and_indexes(engine) == (
        ["reporter", "product", "flow", "period", "partner", "source", "vintage"],
        ["ix_trade_flows_simulated_reporter"])
    with sessions() as session:
        after = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
    expected = _batch().trade_flows.sort_values(["partner", "product", "period"]).reset_index(drop=True)
    assert after["value"].tolist() == expected["value"].tolist()
    assert after["partner"].tolist() == expected["partner"].tolist()
    # Rows of the older schema are reported figures (no estimate flags).
    assert after["provenance"].eq("reported").all() and after["estimate_flags"].isna().all()
    clock.now += timedelta(hours=1)
    # The same key after the migration: an identical batch writes no flow or observation
    # (the series row is always upserted), a rescaled one rewrites 12 flows and 5 observations.
    assert store_batch(sessions, _batch(), clock()) == 1
    assert store_batch(sessions, _batch(scale=2.0), clock()) == 1 + 12 + 5

    _downgrade(engine, "0007")
    assert _trade_flow_key_and_indexes(engine)[1] == ["ix_trade_flows_reporter_product_period"]
    assert _trade_flow_key_and_indexes(engine)[0][0] == "source"
    assert _count(sessions, TradeFlow) == 12
    engine.dispose()


def test_findings_are_stored_exactly_as_judged(sessions, clock):
    """Findings go in bulk through the driver (COPY on PostgreSQL): every field reads back as given."""
    from datetime import date

    from monitor.store.assessments import complete_run, start_run
    from monitor.store.tables import Finding

    fields = ["chain", "node", "series_id", "method", "period", "status", "direction", "observed", "expected",
              "lower", "upper", "score", "explanation_en", "explanation_zh"]
    findings = [
        dict(zip(fields, ["batteries", "cells", "trade.CHN.M.850760.COD", "screen", date(2025, 11, 1), "flagged",
                          "down", 1.5e9, 2.25e9, 1.9e9, 2.6e9, -4.75, "Imports fell 's \"quoted\"\\ \t tab",
                          "进口下降 33%，低于预期区间"])),
        dict(zip(fields, ["batteries", "cells", "trade.CHN.M.850760.ZMB", "screen", None, "insufficient_history",
                          None, None, None, None, None, None, "Only 5 months", "只有 5 个月"])),
        *(dict(zip(fields, ["semis", "fab", f"s{i}", "seasonal", date(2024, 1 + i % 12, 1), "ok", "down",
                            float(i), float(i) + 0.5, None, float("nan"), 0.0, "", ""])) for i in range(30)),
    ]
    run = start_run(sessions, "hash", clock())
    complete_run(sessions, run, date(2025, 12, 1), findings, [], clock() + timedelta(seconds=1))
    with sessions() as session:
        stored = session.scalars(select(Finding).where(Finding.run_id == run).order_by(Finding.id)).all()
    assert len(stored) == len(findings)
    for given, row in zip(findings, stored):
        expected = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in given.items()}
        assert {k: getattr(row, k) for k in fields} == expected


def test_trade_flow_outside_imports_and_exports_is_rejected(sessions, clock):
    flows = pd.DataFrame([{"reporter": "CHN", "partner": "COD", "product": "2605", "flow": f, "period": "2025-01",
                           "value": 1.0, "quantity": np.nan} for f in ("M", "X", "RX")])
    with pytest.raises(BatchError, match="row 2 has flow 'RX'"):
        store_batch(sessions, CollectedBatch(source="src", vintage="v1", trade_flows=flows), clock())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TradeFlow)) == 0
