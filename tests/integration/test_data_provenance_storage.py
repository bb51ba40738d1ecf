"""Provenance in storage, on SQLite and PostgreSQL: simulated marks, estimate flags, newest-release vintages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from monitor.records import MIRROR, REPORTED, CollectedBatch, SeriesInfo
from monitor.store.observations import BatchError, load_observations, load_trade_flows, store_batch
from monitor.store.simulated_data import assessed_rows_simulated, simulated_rows_stored
from monitor.store.tables import Observation, TradeFlow
from monitor.store.vintages import drop_unchanged

PERIODS = pd.date_range("2022-01-01", periods=3, freq="MS")


def _flows(values: dict[str, float], reporter="CHN", flags=None, provenance=None):
    rows = [{"reporter": reporter, "partner": partner, "product": "2605", "flow": "M", "period": p,
             "value": value, "quantity": np.nan}
            for p in PERIODS for partner, value in values.items()]
    frame = pd.DataFrame(rows)
    if flags is not None:
        frame["estimate_flags"] = [flags.get((r["partner"], r["period"])) for r in rows]
    if provenance is not None:
        frame["provenance"] = provenance
    return frame


def _batch(vintage, values, *, source="usgs", simulated=False, released=None, flags=None, obs_scale=1.0,
           reporter="CHN"):
    observations = pd.DataFrame({"series_id": "prod.lithium", "period": PERIODS,
                                 "value": np.array([100.0, 110.0, 120.0]) * obs_scale})
    return CollectedBatch(source=source, vintage=vintage,
                          series=[SeriesInfo("prod.lithium", source, "t", "lithium production")],
                          observations=observations, trade_flows=_flows(values, reporter, flags),
                          simulated=simulated, released=released)


def _utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


# --- item 4: simulated rows ------------------------------------------------------------


def test_simulated_rows_are_marked_when_stored_and_found_by_what_is_assessed(sessions, clock):
    with sessions() as session:
        assert not simulated_rows_stored(session)
        assert not assessed_rows_simulated(session, "CHN", ["prod.lithium"])
    store_batch(sessions, _batch("real", {"COD": 10.0}), clock())
    with sessions() as session:
        assert not simulated_rows_stored(session)
        assert not assessed_rows_simulated(session, "CHN", ["prod.lithium"])
    # demo rows of another reporter and series: stored, but not what a CHN assessment reads
    demo = CollectedBatch(source="demo", vintage="demo-seed1",
                          series=[SeriesInfo("demo.index", "demo", "index", "SIMULATED")],
                          observations=pd.DataFrame({"series_id": "demo.index", "period": PERIODS,
                                                     "value": [1.0, 2.0, 3.0]}),
                          trade_flows=_flows({"COD": 5.0}, reporter="USA"), simulated=True)
    store_batch(sessions, demo, clock())
    with sessions() as session:
        marks = set(session.execute(select(TradeFlow.reporter, TradeFlow.simulated).distinct()).all())
        assert marks == {("CHN", False), ("USA", True)}
        assert simulated_rows_stored(session)
        assert not assessed_rows_simulated(session, "CHN", ["prod.lithium"])
        assert assessed_rows_simulated(session, "USA", [])
        # a configured series pattern that matches the demo series
        assert assessed_rows_simulated(session, "CHN", ["demo.{chain}"])
        assert not assessed_rows_simulated(session, "CHN", ["demo.other.{chain}"])


# --- item 7: estimate flags stored and read back -----------------------------------------


@pytest.mark.parametrize("overlap", [False, True], ids=["copy", "upsert"])
def test_estimate_flags_and_released_round_trip(sessions, clock, overlap):
    """Both bulk paths (PostgreSQL's direct COPY, and the staged upsert; SQLite's executemany) write the columns."""
    flags = {("COD", PERIODS[0]): "provisional", ("ZMB", PERIODS[2]): "not_reported,estimated"}
    if overlap:  # a stored key sends the batch through the staging table / ON CONFLICT path
        store_batch(sessions, _batch("v1", {"COD": 1.0, "ZMB": 1.0}), clock())
        clock.now += timedelta(hours=1)
    store_batch(sessions, _batch("v1", {"COD": 10.0, "ZMB": 3.0}, flags=flags, released=_utc(2024, 1, 31)),
                clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
        plain = load_trade_flows(session, "CHN", ["2605"])
        released = set(session.scalars(select(TradeFlow.released_at)))
    assert "estimate_flags" not in plain
    got = {(r.partner, r.period): r.estimate_flags for r in flows.itertuples()}
    assert got[("COD", PERIODS[0])] == "provisional"
    assert got[("ZMB", PERIODS[2])] == "not_reported,estimated"
    assert sum(f is not None for f in got.values()) == 2
    assert flows["value"].sum() == pytest.approx(3 * 13.0)
    assert {r.replace(tzinfo=None) for r in released} == {datetime(2024, 1, 31)}


def test_unknown_estimate_kind_is_refused_and_writes_nothing(sessions, clock):
    bad = _batch("v1", {"COD": 1.0}, flags={("COD", PERIODS[0]): "guessed"})
    with pytest.raises(BatchError, match="unknown estimate kind"):
        store_batch(sessions, bad, clock())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TradeFlow)) == 0


def test_a_flag_lifted_at_the_same_value_is_a_revision(sessions, clock):
    provisional = _batch("v1", {"COD": 10.0}, flags={("COD", PERIODS[0]): "provisional"})
    store_batch(sessions, provisional, clock())
    final = _batch("v2", {"COD": 10.0})
    with sessions() as session:
        kept, dropped, _ = drop_unchanged(session, final)
    # only the month whose flag changed is new; the two others are unchanged
    assert list(kept.trade_flows["period"]) == [PERIODS[0]] and dropped == 2 + 3
    clock.now += timedelta(days=1)
    store_batch(sessions, kept, clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
    assert flows["estimate_flags"].isna().all()


# --- item 8: two releases of one statistic are vintages, not sums ---------------------------


def _totals(sessions):
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"])
        obs = load_observations(session, ["prod.lithium"])
    return flows, obs


def test_same_periods_from_two_releases_newest_wins_and_nothing_doubles(sessions, clock):
    store_batch(sessions, _batch("sha256:aaaa", {"COD": 10.0, "ZMB": 2.0}, released=_utc(2023, 1, 31)), clock())
    clock.now += timedelta(days=1)
    # the 2024 release revises the same months, from a second source (another file)
    store_batch(sessions, _batch("sha256:0000", {"COD": 12.0, "ZMB": 3.0}, source="usgs-2024",
                                 released=_utc(2024, 1, 31), obs_scale=2.0), clock())
    flows, obs = _totals(sessions)
    assert len(flows) == 6 and len(obs) == 3  # one row per partner and month, one per month
    assert flows.groupby("period")["value"].sum().tolist() == [15.0, 15.0, 15.0]
    assert obs["value"].tolist() == [200.0, 220.0, 240.0]
    with sessions() as session:  # both vintages are kept
        assert session.scalar(select(func.count()).select_from(Observation)) == 6
        assert session.scalar(select(func.count()).select_from(TradeFlow)) == 12


def test_an_older_release_loaded_after_a_newer_one_does_not_win(sessions, clock):
    store_batch(sessions, _batch("sha256:ffff", {"COD": 12.0}, released=_utc(2024, 1, 31), obs_scale=2.0),
                clock())
    clock.now += timedelta(days=30)  # the 2023 release is loaded a month later
    store_batch(sessions, _batch("sha256:0001", {"COD": 10.0}, source="usgs-2023", released=_utc(2023, 1, 31)),
                clock())
    flows, obs = _totals(sessions)
    assert flows["value"].tolist() == [12.0, 12.0, 12.0]
    assert obs["value"].tolist() == [200.0, 220.0, 240.0]
    # the incremental check compares with the same newest vintage: the 2024 values are unchanged
    with sessions() as session:
        _, dropped, _ = drop_unchanged(session, _batch("sha256:ffff", {"COD": 12.0}, obs_scale=2.0))
    assert dropped == 3 + 3


def test_without_release_dates_the_later_retrieval_wins(sessions, clock):
    store_batch(sessions, _batch("sha256:ffff", {"COD": 10.0}), clock())
    clock.now += timedelta(days=1)
    store_batch(sessions, _batch("sha256:0000", {"COD": 11.0}, source="other"), clock())
    flows, obs = _totals(sessions)
    assert flows["value"].tolist() == [11.0, 11.0, 11.0]  # not the greater vintage string
    assert len(obs) == 3


def test_a_dated_release_beats_an_undated_load_of_the_same_day_only_if_newer(sessions, clock):
    """Mixed: an undated row counts as released when it was retrieved."""
    store_batch(sessions, _batch("api", {"COD": 10.0}), clock())  # retrieved 2026-01-15
    clock.now += timedelta(days=1)
    store_batch(sessions, _batch("file-2024", {"COD": 99.0}, source="file", released=_utc(2024, 1, 31)), clock())
    flows, _ = _totals(sessions)
    assert flows["value"].tolist() == [10.0, 10.0, 10.0]  # the 2024 file is older than the 2026 retrieval


def test_mirror_rows_of_two_vintages_are_not_summed_either(sessions, clock):
    batch = _batch("m1", {"COD": 5.0})
    batch.trade_flows["provenance"] = MIRROR
    store_batch(sessions, batch, clock())
    clock.now += timedelta(days=1)
    newer = _batch("m2", {"COD": 6.0})
    newer.trade_flows["provenance"] = MIRROR
    store_batch(sessions, newer, clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
    assert flows["value"].tolist() == [6.0, 6.0, 6.0]
    assert set(flows["provenance"]) == {MIRROR} and REPORTED not in set(flows["provenance"])


# --- chainwatch_data_simulated ----------------------------------------------------------


def test_data_simulated_gauge_follows_the_stored_rows(sessions, clock):
    from monitor.telemetry.metrics import build_registry

    assessed, _ = build_registry(sessions, clock, simulated=lambda s: assessed_rows_simulated(s, "CHN", []))
    anything, _ = build_registry(sessions, clock)
    assert assessed.get_sample_value("chainwatch_data_simulated") == 0
    store_batch(sessions, _batch("demo", {"COD": 1.0}, source="demo", simulated=True, reporter="USA"), clock())
    assert anything.get_sample_value("chainwatch_data_simulated") == 1  # some stored row is simulated
    assert assessed.get_sample_value("chainwatch_data_simulated") == 0  # but not what a CHN assessment reads
    store_batch(sessions, _batch("demo", {"COD": 1.0}, source="demo", simulated=True), clock())
    assert assessed.get_sample_value("chainwatch_data_simulated") == 1


def test_an_observation_flag_lifted_at_the_same_value_is_a_revision(sessions, clock):
    batch = _batch("v1", {"COD": 10.0})
    batch.observations["estimate_flags"] = ["provisional", None, None]
    store_batch(sessions, batch, clock())
    with sessions() as session:
        assert load_observations(session, ["prod.lithium"], with_provenance=True)["estimate_flags"].tolist() == [
            "provisional", None, None]
        kept, _, _ = drop_unchanged(session, _batch("v2", {"COD": 10.0}))
    assert list(kept.observations["period"]) == [PERIODS[0]]
