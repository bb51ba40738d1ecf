"""Writing collected batches and reading observations and trade flows back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.collectors.base import OBSERVATION_COLUMNS, TRADE_FLOW_COLUMNS, CollectedBatch
from monitor.storage.tables import CollectorRun, Observation, Series, TradeFlow
from monitor.storage.upsert import upsert


class BatchError(ValueError):
    """A collected batch is malformed; nothing of it was written."""


def _as_date(value: pd.Timestamp) -> date:
    return date(value.year, value.month, 1)


def _check_frame(frame: pd.DataFrame, columns: tuple[str, ...], what: str, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BatchError(f"source {source!r}: {what} lack columns {missing}")
    required = [c for c in columns if c != "quantity"]
    bad = frame[required].isna().any(axis=1)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise BatchError(f"source {source!r}: {what} row {row} has an empty required field")


def store_batch(sessions: sessionmaker[Session], batch: CollectedBatch, now: datetime) -> int:
    """Write ``batch`` in one transaction and record the collection; returns rows written.

    Either the whole batch lands or none of it does: a failure leaves the previous
    data intact and is recorded as a failed collector run.
    """
    try:
        _check_frame(batch.observations, OBSERVATION_COLUMNS, "observations", batch.source)
        _check_frame(batch.trade_flows, TRADE_FLOW_COLUMNS, "trade flows", batch.source)
        series_rows = [
            {
                "series_id": s.series_id, "source": s.source, "unit": s.unit,
                "description": s.description, "chain": s.chain, "node": s.node,
                "simulated": batch.simulated,
            }
            for s in batch.series
        ]
        obs = batch.observations
        obs_rows = [
            {"series_id": sid, "period": _as_date(p), "vintage": batch.vintage, "value": float(v),
             "source": batch.source, "retrieved_at": now}
            for sid, p, v in zip(obs["series_id"], pd.to_datetime(obs["period"]), obs["value"])
        ]
        flows = batch.trade_flows
        flow_rows = [
            {"source": batch.source, "reporter": r, "partner": pa, "product": str(pr), "flow": fl,
             "period": _as_date(pe), "vintage": batch.vintage, "value": float(v),
             "quantity": None if pd.isna(q) else float(q), "retrieved_at": now}
            for r, pa, pr, fl, pe, v, q in zip(
                flows["reporter"], flows["partner"], flows["product"], flows["flow"],
                pd.to_datetime(flows["period"]), flows["value"], flows["quantity"],
            )
        ]
        with sessions.begin() as session:
            written = upsert(session, Series.__table__, series_rows, ["series_id"])
            written += upsert(session, Observation.__table__, obs_rows, ["series_id", "period", "vintage"])
            written += upsert(
                session, TradeFlow.__table__, flow_rows,
                ["source", "reporter", "partner", "product", "flow", "period", "vintage"],
            )
            session.add(CollectorRun(source=batch.source, started_at=now, finished_at=now,
                                     status="succeeded", rows_written=written))
        return written
    except Exception as err:
        record_failed_collection(sessions, batch.source, now, str(err))
        raise


def record_failed_collection(sessions: sessionmaker[Session], source: str, now: datetime, error: str) -> None:
    """Note a failed collection (for freshness metrics and the log)."""
    with sessions.begin() as session:
        session.add(CollectorRun(source=source, started_at=now, finished_at=now,
                                 status="failed", rows_written=0, error=error[:2000]))


def load_trade_flows(
    session: Session, reporter: str, products: Iterable[str], flow: str = "M",
    start: date | None = None, end: date | None = None,
) -> pd.DataFrame:
    """Trade flows of ``reporter`` for ``products``, latest vintage of each row.

    Returns columns ``reporter, partner, product, flow, period, value, quantity``
    with ``period`` as month-start Timestamps.
    """
    query = select(
        TradeFlow.reporter, TradeFlow.partner, TradeFlow.product, TradeFlow.flow, TradeFlow.period,
        TradeFlow.value, TradeFlow.quantity, TradeFlow.retrieved_at, TradeFlow.vintage,
    ).where(TradeFlow.reporter == reporter, TradeFlow.flow == flow, TradeFlow.product.in_(list(products)))
    if start is not None:
        query = query.where(TradeFlow.period >= start)
    if end is not None:
        query = query.where(TradeFlow.period <= end)
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=[*TRADE_FLOW_COLUMNS, "retrieved_at", "vintage"])
    return _latest_vintage(frame, ["reporter", "partner", "product", "flow", "period"])[list(TRADE_FLOW_COLUMNS)]


def load_observations(session: Session, series_ids: Iterable[str], end: date | None = None) -> pd.DataFrame:
    """Observations of ``series_ids`` (latest vintage), columns ``series_id, period, value``."""
    query = select(Observation.series_id, Observation.period, Observation.value,
                   Observation.retrieved_at, Observation.vintage).where(
        Observation.series_id.in_(list(series_ids)))
    if end is not None:
        query = query.where(Observation.period <= end)
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=[*OBSERVATION_COLUMNS, "retrieved_at", "vintage"])
    return _latest_vintage(frame, ["series_id", "period"])[list(OBSERVATION_COLUMNS)]


def _latest_vintage(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    frame = frame.sort_values([*key, "retrieved_at", "vintage"]).drop_duplicates(key, keep="last")
    frame["period"] = pd.to_datetime(frame["period"])
    return frame.reset_index(drop=True)


def latest_trade_period(session: Session, reporter: str) -> date | None:
    """The most recent period with any trade flow of ``reporter``."""
    return session.scalar(select(func.max(TradeFlow.period)).where(TradeFlow.reporter == reporter))


def collector_last_success(session: Session) -> dict[str, datetime]:
    """Per source, when its last successful collection finished."""
    rows = session.execute(
        select(CollectorRun.source, func.max(CollectorRun.finished_at))
        .where(CollectorRun.status == "succeeded").group_by(CollectorRun.source)
    ).all()
    return {source: finished for source, finished in rows}
