"""Bulk ingest (COPY + ON CONFLICT on PostgreSQL, batched on SQLite): idempotent, vintages kept, nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from benchmarks.synthetic import SyntheticCatalog
from monitor.records import CollectedBatch
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import BatchError, load_observations, load_trade_flows, store_batch
from monitor.store.tables import CollectorRun, Observation, TradeFlow
from monitor.store.upsert import key_order
from monitor.store.vintages import drop_unchanged

# More rows than one SQLite executemany chunk (20,000), so chunking is exercised.
DATA = SyntheticCatalog(nodes=9, hs_per_node=2, partners=5, months=240, chains=1)


def _count(sessions, model):
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _observations(values, vintage="v1", source="src"):
    periods = pd.date_range("2024-01-01", periods=len(values), freq="MS")
    return CollectedBatch(source=source, vintage=vintage, observations=pd.DataFrame(
        {"series_id": "s.x", "period": periods.strftime("%Y-%m"), "value": values}))


def test_bulk_batch_round_trips_exactly_and_reingest_writes_nothing(sessions, clock):
    batch = next(DATA.batches(nodes_per_batch=DATA.nodes))
    assert len(batch.trade_flows) == DATA.rows > 20000
    assert store_batch(sessions, batch, clock()) == DATA.rows
    first_arrival = clock()
    clock.now += timedelta(hours=1)
    assert store_batch(sessions, batch, clock()) == 0
    with sessions() as session:
        stored = load_trade_flows(session, "CHN", sorted(set(batch.trade_flows["product"])))
        retrieved = set(session.scalars(select(TradeFlow.retrieved_at).distinct()))
        runs = session.scalars(select(CollectorRun.rows_written).order_by(CollectorRun.id)).all()
    key = ["partner", "product", "period"]
    expected = batch.trade_flows.sort_values(key).reset_index(drop=True)
    stored = stored.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(stored[["partner", "product", "value"]], expected[["partner", "product", "value"]])
    assert (stored["period"].to_numpy() == expected["period"].to_numpy()).all()
    assert stored["quantity"].isna().all()
    assert {r.replace(tzinfo=None) for r in retrieved} == {first_arrival.replace(tzinfo=None)}
    assert runs == [DATA.rows, 0]


def test_changed_value_is_a_new_vintage_and_the_old_one_is_kept(sessions, clock):
    store_batch(sessions, _observations([1.0, 2.0, 3.0]), clock())
    clock.now += timedelta(days=30)
    revised = _observations([1.0, 2.0, 4.0], vintage="v2")
    with sessions() as session:
        revised, unchanged, _ = drop_unchanged(session, revised)
    assert unchanged == 2
    assert store_batch(sessions, revised, clock()) == 1
    with sessions() as session:
        latest = load_observations(session, ["s.x"])
        vintages = session.execute(select(Observation.vintage, Observation.value)
                                   .where(Observation.period == date(2024, 3, 1))
                                   .order_by(Observation.vintage)).all()
    assert latest["value"].tolist() == [1.0, 2.0, 4.0]
    assert [tuple(v) for v in vintages] == [("v1", 3.0), ("v2", 4.0)]


def test_same_vintage_with_a_changed_value_updates_in_place(sessions, clock):
    store_batch(sessions, _observations([1.0, 2.0]), clock())
    assert store_batch(sessions, _observations([1.0, 2.5]), clock()) == 1
    with sessions() as session:
        assert load_observations(session, ["s.x"])["value"].tolist() == [1.0, 2.5]
    assert _count(sessions, Observation) == 2


def test_batch_repeating_a_key_is_rejected_whole(sessions, clock):
    flows = pd.DataFrame([
        {"reporter": "CHN", "partner": p, "product": "2605", "flow": "M", "period": "2025-01",
         "value": v, "quantity": np.nan} for p, v in (("COD", 1.0), ("ZMB", 2.0), ("COD", 3.0))])
    bad = CollectedBatch(source="src", vintage="v1", observations=_observations([5.0]).observations,
                         trade_flows=flows)
    with pytest.raises(BatchError, match="trade flows row 2 repeats"):
        store_batch(sessions, bad, clock())
    assert (_count(sessions, Observation), _count(sessions, TradeFlow)) == (0, 0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from([0.0, 1.5, -2.0, 1e12, None]), min_size=4, max_size=4),
                min_size=1, max_size=4))
def test_stored_values_equal_the_last_batch_of_each_vintage(sessions, clock, rounds):
    """Property: after any sequence of batches, each key holds the value last written to it."""
    source = f"p{clock.now.timestamp():.0f}"
    clock.now += timedelta(seconds=1)
    expected: dict[date, float] = {}
    for values in rounds:
        kept = [(i, v) for i, v in enumerate(values) if v is not None]
        periods = [date(2020, 1 + i, 1) for i, _ in kept]
        batch = CollectedBatch(source=source, vintage="v1", observations=pd.DataFrame(
            {"series_id": source, "period": pd.to_datetime(periods), "value": [v for _, v in kept]}))
        store_batch(sessions, batch, clock())
        expected.update({p: v for p, (_, v) in zip(periods, kept)})
    with sessions() as session:
        stored = dict(session.execute(select(Observation.period, Observation.value)
                                      .where(Observation.series_id == source)).all())
    assert stored == expected


def _mixed_flows(periods: list[str], scale: float = 1.0) -> pd.DataFrame:
    """Flows with codes of unequal length, missing quantities and both provenances."""
    return pd.DataFrame([
        {"reporter": "CHN", "partner": partner, "product": product, "flow": flow, "period": period,
         "value": (i + 1) * scale, "quantity": np.nan if i % 3 == 0 else i * 10.0,
         "provenance": "mirror" if partner == "AUS" else "reported",
         "cif_fob_factor": 1.1 if partner == "AUS" else np.nan}
        for i, (period, partner, product, flow) in enumerate(
            (p, partner, product, flow) for p in periods for partner in ("AUS", "COD", "ZMB")
            for product in ("2605", "850760") for flow in ("M", "X"))])


def test_copy_meeting_a_stored_key_falls_back_to_the_upsert(sessions, clock, monitor_probe_blind):
    """The direct COPY is only a fast path: when it meets a stored key the batch still lands exactly once."""
    first = CollectedBatch(source="src", vintage="v1", trade_flows=_mixed_flows(["2025-01", "2025-02"]),
                           observations=_observations([1.0, 2.0]).observations.assign(series_id="s.é"))
    assert store_batch(sessions, first, clock()) == 24 + 2
    # Overlaps the stored months (every value doubled) and adds a month; the probe is
    # blinded, so the COPY is tried, fails on the first stored key and is taken back.
    second = CollectedBatch(source="src", vintage="v1",
                            trade_flows=_mixed_flows(["2025-01", "2025-02", "2025-03"], scale=2.0))
    clock.now += timedelta(hours=1)
    monitor_probe_blind.clear()
    assert store_batch(sessions, second, clock()) == 36
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert monitor_probe_blind == ["trade_flows", "chainwatch_stage_trade_flows"]
    assert store_batch(sessions, second, clock()) == 0
    columns = ["partner", "product", "flow", "period", "value", "quantity", "provenance", "cif_fob_factor"]
    with sessions() as session:
        stored = pd.DataFrame(session.execute(select(*(getattr(TradeFlow, c) for c in columns))).all(),
                              columns=columns)
        observed = load_observations(session, ["s.é"])
    expected = second.trade_flows.assign(period=pd.to_datetime(second.trade_flows["period"]))
    got = stored.assign(period=pd.to_datetime(stored["period"])).merge(
        expected, on=["partner", "product", "flow", "period"], suffixes=("", "_sent"))
    assert len(got) == len(stored) == 36
    assert (got["value"] == got["value_sent"]).all()
    assert (got["quantity"].isna() == got["quantity_sent"].isna()).all()
    assert (got["quantity"].fillna(-1) == got["quantity_sent"].fillna(-1)).all()
    assert (got["provenance"] == got["provenance_sent"]).all()
    assert (got["cif_fob_factor"].fillna(-1) == got["cif_fob_factor_sent"].fillna(-1)).all()
    assert observed["value"].tolist() == [1.0, 2.0]


def _spy_copies(monkeypatch) -> list[str]:
    """The tables each PostgreSQL ``COPY`` of ``bulk_upsert`` goes to, in order."""
    from monitor.store import upsert as upsert_module
    copies = []
    copy_rows = upsert_module._copy_rows

    def spy(cursor, target, *args):
        copies.append(target)
        return copy_rows(cursor, target, *args)

    monkeypatch.setattr(upsert_module, "_copy_rows", spy)
    return copies


@pytest.fixture
def monitor_probe_blind(monkeypatch):
    """PostgreSQL's probe for stored keys always answers "none stored"; yields the tables each COPY went to."""
    from monitor.store import upsert as upsert_module
    monkeypatch.setattr(upsert_module, "_any_key_stored", lambda *args: False)
    return _spy_copies(monkeypatch)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the direct COPY is PostgreSQL's
def test_new_rows_are_copied_straight_in_and_a_reingest_goes_through_staging(db_url, clock, monkeypatch):
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    copies = _spy_copies(monkeypatch)
    batch = CollectedBatch(source="src", vintage="v1", trade_flows=_mixed_flows(["2025-01", "2025-02"]))
    assert store_batch(sessions, batch, clock()) == 24
    assert copies == ["trade_flows"]  # no key stored: one COPY into the table itself
    copies.clear()
    assert store_batch(sessions, batch, clock()) == 0
    assert copies == ["chainwatch_stage_trade_flows"]  # the probe found stored keys: no COPY was tried and failed
    engine.dispose()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["CHN", "AUS", "KOR"]), st.sampled_from(["2605", "850760", "26"]),
                          st.integers(1, 3)), min_size=1, max_size=30))
def test_key_order_sorts_like_pandas_and_finds_the_first_repeat(keys):
    frame = pd.DataFrame(keys, columns=["reporter", "product", "month"]).assign(source="s")
    frame["period"] = pd.to_datetime("2025-" + frame.pop("month").astype(str) + "-01")
    order, repeat = key_order(frame, ["reporter", "product", "period", "source"])
    expected = frame.sort_values(["reporter", "product", "period"], kind="stable")
    assert order.tolist() == expected.index.tolist()
    duplicated = np.flatnonzero(frame.duplicated())
    assert repeat == (int(duplicated[0]) if len(duplicated) else None)


_KILLED_INGEST = """
import os, signal, sys
from datetime import datetime, timezone

from benchmarks.synthetic import SyntheticCatalog
from monitor.store import observations, upsert
from monitor.store.database import make_engine, session_factory

url, point = sys.argv[1], sys.argv[2]
upsert._COPY_BLOCK_ROWS = 500
blocks = []

def write_then_die(copy, data):
    original_write(copy, data)
    blocks.append(1)
    if len(blocks) == 4:  # signature and three blocks of rows are on their way to the server
        os.kill(os.getpid(), signal.SIGKILL)

def upsert_then_die(*args, **kwargs):
    written = upsert.bulk_upsert(*args, **kwargs)
    if args[1].name == "trade_flows":  # every row sent, the transaction not committed
        os.kill(os.getpid(), signal.SIGKILL)
    return written

if point == "mid-copy":
    from psycopg import Copy
    original_write = Copy.write
    Copy.write = write_then_die
else:
    observations.bulk_upsert = upsert_then_die
batch = next(SyntheticCatalog(nodes=2, hs_per_node=2, partners=5, months=120, chains=1).batches(2))
observations.store_batch(session_factory(make_engine(url)), batch, datetime(2026, 1, 15, tzinfo=timezone.utc))
"""


@pytest.mark.parametrize(("db_url", "point"), [("sqlite", "before-commit"),
                                                pytest.param("postgresql", "before-commit", marks=pytest.mark.postgres),
                                                pytest.param("postgresql", "mid-copy", marks=pytest.mark.postgres)],
                         indirect=["db_url"])
def test_ingest_killed_midway_leaves_nothing_and_runs_again(db_url, clock, point, tmp_path):
    """SIGKILL inside a batch's transaction: no row of it is stored, and the same batch then lands whole."""
    engine = make_engine(db_url)
    migrate(engine)
    script = tmp_path / "killed_ingest.py"
    script.write_text(_KILLED_INGEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script), db_url, point], env=env, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    sessions = session_factory(engine)
    assert (_count(sessions, TradeFlow), _count(sessions, CollectorRun)) == (0, 0)
    batch = next(SyntheticCatalog(nodes=2, hs_per_node=2, partners=5, months=120, chains=1).batches(2))
    assert store_batch(sessions, batch, clock()) == len(batch.trade_flows) == _count(sessions, TradeFlow)
    engine.dispose()
