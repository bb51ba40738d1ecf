"""Bulk ingest (COPY + ON CONFLICT on PostgreSQL, batched on SQLite): idempotent, vintages kept, nothing half-written."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from benchmarks.synthetic import SyntheticCatalog
from monitor.collectors.base import CollectedBatch
from monitor.storage.observations import BatchError, load_observations, load_trade_flows, store_batch
from monitor.storage.tables import CollectorRun, Observation, TradeFlow
from monitor.storage.vintages import drop_unchanged

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
        revised, unchanged = drop_unchanged(session, revised)
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
