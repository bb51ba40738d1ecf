"""Loose index scans (monitor.store.key_scan) answer exactly what the plain scans they replace answered."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, exists, func, insert, select

from monitor.records import REPORTED, trade_key
from monitor.assess.inputs import exports_stored
from monitor.store.observations import latest_trade_period
from monitor.store.tables import TradeFlow
from monitor.store.vintages import latest_periods

RETRIEVED = datetime(2026, 1, 15, tzinfo=timezone.utc)

_rows = st.lists(
    st.tuples(st.sampled_from(["CHN", "USA"]), st.sampled_from(["2605", "8507", "850760", "9"]),
              st.sampled_from(["M", "X"]), st.integers(0, 29), st.sampled_from(["COD", "ZMB", "JPN"]),
              st.sampled_from(["comtrade", "comext"]), st.sampled_from(["v1", "v2"]),
              st.sampled_from([REPORTED, "mirror"])),
    max_size=60, unique_by=lambda r: r[:7])


def _month(index: int) -> date:
    return date(2023 + index // 12, index % 12 + 1, 1)


def _store(sessions, rows) -> None:
    with sessions.begin() as session:
        session.execute(delete(TradeFlow))
        if rows:
            session.execute(insert(TradeFlow), [
                {"reporter": r, "product": p, "flow": f, "period": _month(m), "partner": partner, "source": s,
                 "vintage": v, "provenance": prov, "value": 1.0, "quantity": None, "retrieved_at": RETRIEVED}
                for r, p, f, m, partner, s, v, prov in rows])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, window=st.tuples(st.integers(0, 29), st.integers(0, 29)))
def test_seeking_answers_as_the_full_scan_does(sessions, rows, window):
    _store(sessions, rows)
    start, end = _month(min(window)), _month(max(window))
    with sessions() as session:
        for reporter in ("CHN", "USA", "DEU"):
            scanned = session.scalar(select(func.max(TradeFlow.period)).where(TradeFlow.reporter == reporter))
            assert latest_trade_period(session, reporter) == scanned
            exported = session.scalar(select(exists().where(
                TradeFlow.reporter == reporter, TradeFlow.flow == "X", TradeFlow.period >= start,
                TradeFlow.period <= end)))
            assert exports_stored(session, reporter, start, end) is bool(exported)
        for source in ("comtrade", "comext", "census"):
            grouped = session.execute(
                select(TradeFlow.reporter, TradeFlow.product, TradeFlow.flow, func.max(TradeFlow.period))
                .where(TradeFlow.source == source, TradeFlow.provenance == REPORTED)
                .group_by(TradeFlow.reporter, TradeFlow.product, TradeFlow.flow)).all()
            assert latest_periods(session, source) == {trade_key(r, p, f): period for r, p, f, period in grouped}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # counts SQLite's virtual-machine steps
def test_seeking_reads_a_few_rows_per_group_not_every_row(sessions):
    """The point of the scan: work grows with the groups, not with the rows stored."""
    many = [("CHN", p, "M", m, partner, "comtrade", "v1", REPORTED)
            for p in ("2605", "8507") for m in range(30) for partner in ("COD", "ZMB", "JPN")]
    _store(sessions, many)
    with sessions() as session:
        raw = session.connection().connection.driver_connection
        steps = []
        raw.set_progress_handler(lambda: steps.append(1), 1)
        try:
            assert latest_trade_period(session, "CHN") == _month(29)
            seeking = len(steps)
            steps.clear()
            session.scalar(select(func.max(TradeFlow.period)).where(TradeFlow.reporter == "CHN"))
            scanning = len(steps)
        finally:
            raw.set_progress_handler(None, 1)
    assert seeking < scanning / 2, (seeking, scanning)
