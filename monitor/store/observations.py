"""Writing collected batches and reading observations and trade flows back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indicators.vocabulary import FLOWS
from monitor.records import (
    ESTIMATE_FLAGS,
    MIRROR,
    OBSERVATION_COLUMNS,
    PROVENANCE_COLUMNS,
    REPORTED,
    TRADE_FLOW_COLUMNS,
    CollectedBatch,
    estimate_flags,
)
from monitor.store.events import save_events
from monitor.store.key_scan import distinct_values
from monitor.store.tables import CollectorRun, Observation, Series, TradeFlow
from monitor.store.upsert import bulk_upsert, key_order, upsert


class BatchError(ValueError):
    """A collected batch is malformed or could not be stored; nothing of it was written."""


# In the order of the tables' primary keys (tables.py): rows are written sorted by them.
_OBSERVATION_KEY = ["series_id", "period", "vintage"]
_TRADE_FLOW_KEY = ["reporter", "product", "flow", "period", "partner", "source", "vintage"]


def _month_starts(periods: pd.Series) -> np.ndarray:
    """Any date within a month (or ``YYYY-MM``) → that month's first day, as datetime64."""
    return pd.to_datetime(periods).to_numpy().astype("datetime64[M]").astype("datetime64[ns]")


def _labels(values: pd.Series | str, count: int = 0) -> pd.Categorical:
    """Text column ``values`` (or ``values`` repeated ``count`` times) as a categorical.

    Codes and labels come in few distinct values per batch: as categoricals, sorting
    by key and encoding for the database handle each distinct value once.
    """
    if isinstance(values, str):
        return pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), categories=[values])
    return pd.Categorical(values.astype(str).to_numpy())


def _in_key_order(frame: pd.DataFrame, key: list[str], what: str, source: str) -> pd.DataFrame:
    """``frame`` sorted by ``key``; a :class:`BatchError` naming the first row that repeats a key."""
    order, repeat = key_order(frame, key)
    if repeat is not None:
        raise BatchError(f"source {source!r}: {what} row {repeat} repeats the "
                         f"{'/'.join(k for k in key if k not in ('source', 'vintage'))} of an earlier row")
    return frame.take(order)


def _check_frame(frame: pd.DataFrame, columns: tuple[str, ...], what: str, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BatchError(f"source {source!r}: {what} lack columns {missing}")
    required = [c for c in columns if c != "quantity"]
    bad = frame[required].isna().any(axis=1)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise BatchError(f"source {source!r}: {what} row {row} has an empty required field")


def _released(batch: CollectedBatch, count: int) -> pd.Series:
    """The batch's release time for each of ``count`` rows (all missing when the source does not say)."""
    if batch.released is None:
        return pd.Series([None] * count, dtype=object)
    if batch.released.tzinfo is None:
        raise BatchError(f"source {batch.source!r}: release time {batch.released} has no time zone")
    return pd.Series(pd.Timestamp(batch.released).tz_convert("UTC"), index=range(count))


def _row_released(batch: CollectedBatch, obs: pd.DataFrame) -> pd.Series:
    """Per observation row: its own ``released_at`` column where the batch has one (a
    source holding several releases, e.g. USGS MCS 2023 and 2024), else the batch's."""
    if "released_at" not in obs:
        return _released(batch, len(obs))
    return pd.to_datetime(obs["released_at"], utc=True).reset_index(drop=True)


def _flag_column(flows: pd.DataFrame, source: str) -> np.ndarray:
    """The ``estimate_flags`` of each trade-flow row in their stored encoding (None: a reported figure)."""
    out = np.full(len(flows), None, dtype=object)
    if ESTIMATE_FLAGS not in flows:
        return out
    codes, uniques = pd.factorize(flows[ESTIMATE_FLAGS])
    encoded = []
    for value in uniques:
        try:
            encoded.append(estimate_flags(str(value).split(",")))
        except ValueError as err:
            raise BatchError(f"source {source!r}: trade flows have {err}") from None
    lookup = np.array([*encoded, None], dtype=object)  # code -1: missing
    return lookup[codes]


def store_batch(sessions: sessionmaker[Session], batch: CollectedBatch, now: datetime) -> int:
    """Write ``batch`` in one transaction and record the collection; returns rows written.

    Either the whole batch lands or none of it does: a failure leaves the previous
    data intact and is recorded as a failed collector run.
    """
    return _store(sessions, batch, now, None)[0]


def store_collection(sessions: sessionmaker[Session], batch: CollectedBatch, now: datetime,
                     counts: tuple[int, int, int]) -> tuple[int, tuple[int, int, int]]:
    """:func:`store_batch` for a collection run that counted its rows.

    ``counts``: new, revised and unchanged observations and trade flows, as the
    collection found them. The batch's policy events are counted as :func:`save_events`
    stores them (one read of the stored events) and added. Returns the rows written and
    the counts recorded with the run.
    """
    return _store(sessions, batch, now, counts)


def _store(sessions: sessionmaker[Session], batch: CollectedBatch, now: datetime,
           counts: tuple[int, int, int] | None) -> tuple[int, tuple[int, int, int] | None]:
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
        count = len(obs)
        obs_frame = pd.DataFrame({
            "series_id": _labels(obs["series_id"]), "period": _month_starts(obs["period"]),
            "vintage": _labels(obs["vintage"]) if "vintage" in obs else _labels(batch.vintage, count),
            "value": obs["value"].astype(float).to_numpy(),
            "source": _labels(batch.source, count), "retrieved_at": now,
            "released_at": _row_released(batch, obs), ESTIMATE_FLAGS: _flag_column(obs, batch.source),
        })
        obs_frame = _in_key_order(obs_frame, _OBSERVATION_KEY, "observations", batch.source)
        flows = batch.trade_flows
        count = len(flows)
        provenance = _labels(flows["provenance"]) if "provenance" in flows else _labels(REPORTED, count)
        factors = flows["cif_fob_factor"] if "cif_fob_factor" in flows else pd.Series(None, index=flows.index,
                                                                                       dtype=float)
        unknown = sorted(set(provenance.categories) - {REPORTED, MIRROR})
        if unknown:
            raise BatchError(f"source {batch.source!r}: trade flows have unknown provenance {unknown}")
        # Readers ask per flow (latest_trade_period): a third kind would go unseen.
        odd = ~flows["flow"].astype(str).isin(FLOWS).to_numpy()
        if odd.any():
            row = int(odd.nonzero()[0][0])
            raise BatchError(f"source {batch.source!r}: trade flows row {row} has flow {flows['flow'].iloc[row]!r}, "
                             f"not one of {', '.join(FLOWS)}")
        flow_frame = pd.DataFrame({
            "source": _labels(batch.source, count), "reporter": _labels(flows["reporter"]),
            "partner": _labels(flows["partner"]), "product": _labels(flows["product"]),
            "flow": _labels(flows["flow"]), "period": _month_starts(flows["period"]),
            "vintage": _labels(batch.vintage, count), "value": flows["value"].astype(float).to_numpy(),
            "quantity": flows["quantity"].astype(float).to_numpy(), "retrieved_at": now,
            "provenance": provenance, "cif_fob_factor": factors.astype(float).to_numpy(),
            "simulated": np.full(count, bool(batch.simulated)),
            ESTIMATE_FLAGS: _flag_column(flows, batch.source), "released_at": _released(batch, count),
        })
        flow_frame = _in_key_order(flow_frame, _TRADE_FLOW_KEY, "trade flows", batch.source)
        with sessions.begin() as session:
            written = upsert(session, Series.__table__, series_rows, ["series_id"])
            # A stored row is rewritten only when its value changed: re-ingesting the
            # same batch writes nothing (retrieved_at then keeps the first arrival).
            written += bulk_upsert(session, Observation.__table__, obs_frame, _OBSERVATION_KEY,
                                   compare=["value", "source", ESTIMATE_FLAGS, "released_at"])
            written += bulk_upsert(session, TradeFlow.__table__, flow_frame, _TRADE_FLOW_KEY,
                                   compare=["value", "quantity", "provenance", "cif_fob_factor", "simulated",
                                            ESTIMATE_FLAGS, "released_at"])
            if batch.events:
                saved = save_events(session, batch.events, now)
                written += saved.new + saved.updated
                if counts is not None:
                    counts = (counts[0] + saved.new, counts[1] + saved.updated, counts[2] + saved.unchanged)
            new, revised, unchanged = counts if counts is not None else (None, None, None)
            session.add(CollectorRun(source=batch.source, started_at=now, finished_at=now,
                                     status="succeeded", rows_written=written, rows_new=new,
                                     rows_revised=revised, rows_unchanged=unchanged))
        return written, counts
    except Exception as err:
        try:
            record_failed_collection(sessions, batch.source, now, str(err))
        except SQLAlchemyError:
            pass  # the database refuses writes (disk full?): the original error says why
        raise


def record_failed_collection(sessions: sessionmaker[Session], source: str, now: datetime, error: str) -> None:
    """Note a failed collection (for freshness metrics and the log)."""
    with sessions.begin() as session:
        session.add(CollectorRun(source=source, started_at=now, finished_at=now,
                                 status="failed", rows_written=0, error=error[:2000]))


def load_trade_flows(
    session: Session, reporter: str, products: Iterable[str], flow: str = "M",
    start: date | None = None, end: date | None = None, *, with_provenance: bool = False,
) -> pd.DataFrame:
    """Trade flows of ``reporter`` for ``products``, latest vintage of each row.

    Returns columns ``reporter, partner, product, flow, period, value, quantity``
    with ``period`` as month-start Timestamps (``with_provenance``: also
    ``provenance``, ``cif_fob_factor`` and ``estimate_flags``, see :data:`PROVENANCE_COLUMNS`).

    Of the vintages of a row (the same partner, product and period, from any source),
    only the newest is returned: the latest release (``released_at``; where unknown,
    the retrieval time), then the latest retrieval, so a figure published in two
    releases is counted once (docs/provenance.md).

    Reported beats mirror: where any reported flow of a reporter/product/flow/period
    is stored, that period's mirror flows (partner-reported stand-ins) are left out,
    whatever their vintages, so the result does not depend on arrival order and never
    mixes the two within a period.
    """
    # reporter and flow are fixed by the query: not read back (two of eleven columns were
    # a quarter of the fetch time of an assessment partition's million rows).
    query = select(
        TradeFlow.partner, TradeFlow.product, TradeFlow.period,
        TradeFlow.value, TradeFlow.quantity, TradeFlow.provenance, TradeFlow.cif_fob_factor,
        TradeFlow.estimate_flags, TradeFlow.retrieved_at, TradeFlow.released_at, TradeFlow.vintage,
    ).where(TradeFlow.reporter == reporter, TradeFlow.flow == flow, TradeFlow.product.in_(list(products)))
    if start is not None:
        query = query.where(TradeFlow.period >= start)
    if end is not None:
        query = query.where(TradeFlow.period <= end)
    frame = _read_frame(session, query, ["partner", "product", "period", "value", "quantity",
                                         *PROVENANCE_COLUMNS, "retrieved_at", "released_at", "vintage"])
    frame.insert(0, "reporter", reporter)
    frame.insert(3, "flow", flow)
    frame = _reported_over_mirror(frame)
    columns = [*TRADE_FLOW_COLUMNS, *PROVENANCE_COLUMNS] if with_provenance else list(TRADE_FLOW_COLUMNS)
    # Sorted by (partner, product, period): the same order as with the constant reporter and flow.
    return _flags_as_none(_latest_vintage(frame, ["partner", "product", "period"])[columns])


def _reported_over_mirror(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the mirror rows of periods that have a reported row."""
    mirror = frame["provenance"] == MIRROR
    if not mirror.any():
        return frame
    group = ["reporter", "product", "flow", "period"]
    reported = frame.loc[~mirror, group].drop_duplicates()
    flagged = frame[group].merge(reported.assign(_reported=True), on=group, how="left")["_reported"]
    shadowed = mirror.to_numpy() & flagged.notna().to_numpy()
    return frame[~shadowed].reset_index(drop=True)


def load_observations(session: Session, series_ids: Iterable[str], end: date | None = None, *,
                      with_provenance: bool = False) -> pd.DataFrame:
    """Observations of ``series_ids`` (newest vintage, as :func:`load_trade_flows`), columns ``series_id, period, value``.

    ``with_provenance``: also ``estimate_flags`` (None: a reported figure; docs/provenance.md).
    """
    query = select(Observation.series_id, Observation.period, Observation.value, Observation.estimate_flags,
                   Observation.retrieved_at, Observation.released_at, Observation.vintage).where(
        Observation.series_id.in_(list(series_ids)))
    if end is not None:
        query = query.where(Observation.period <= end)
    frame = _read_frame(session, query, [*OBSERVATION_COLUMNS, ESTIMATE_FLAGS, "retrieved_at", "released_at",
                                         "vintage"])
    columns = [*OBSERVATION_COLUMNS, ESTIMATE_FLAGS] if with_provenance else list(OBSERVATION_COLUMNS)
    return _flags_as_none(_latest_vintage(frame, ["series_id", "period"])[columns])


def _flags_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``estimate_flags`` with None (not NaN) for a reported figure, as stored."""
    if ESTIMATE_FLAGS in frame:
        flags = frame[ESTIMATE_FLAGS].astype(object)
        frame[ESTIMATE_FLAGS] = flags.where(flags.notna(), None)
    return frame


def _read_frame(session: Session, query, columns: list[str]) -> pd.DataFrame:
    """Run ``query`` on the session's connection and return its rows as a frame.

    Bulk reads (an assessment partition reads a million rows) go through the driver's
    cursor: SQLAlchemy's Row objects and per-value type processing cost several times
    the database's own time. Dates and timestamps therefore arrive as the driver
    gives them (ISO text from SQLite), to be parsed with pandas; ``period`` is parsed
    by :func:`_latest_vintage`, and ``retrieved_at`` is only compared within one
    database, where every value has the same form.
    """
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if compiled.positiontup is not None:
        params = [params[name] for name in compiled.positiontup]
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pd.DataFrame(dict(zip(columns, [()] * len(columns))), columns=columns)
    # One C pass over the driver's tuples (zip(*rows) first builds a tuple per column).
    return pd.DataFrame.from_records(rows, columns=columns)


def release_stamps(released_at: pd.Series, retrieved_at: pd.Series) -> pd.Series:
    """When each row's release was published: ``released_at``, else ``retrieved_at`` (UTC, naive datetime64).

    Both arrive as the driver gives them (aware datetimes from PostgreSQL, ISO text in
    UTC from SQLite); each distinct value is parsed once.
    """
    def parsed(column: pd.Series) -> np.ndarray:
        codes, uniques = pd.factorize(column)
        stamps = pd.to_datetime(pd.Series(uniques, dtype=object), utc=True, format="mixed")
        values = np.append(stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
        return values[codes]

    released = parsed(released_at)
    missing = np.isnat(released)
    if missing.any():
        released[missing] = parsed(retrieved_at)[missing]
    return pd.Series(released, index=released_at.index)


def newest_vintage_order(frame: pd.DataFrame) -> list[str]:
    """Columns ordering the vintages of a row oldest to newest (adds ``_release`` when some release is known)."""
    if "released_at" in frame and frame["released_at"].notna().any():
        frame["_release"] = release_stamps(frame["released_at"], frame["retrieved_at"])
        return ["_release", "retrieved_at", "vintage"]
    return ["retrieved_at", "vintage"]  # every release unknown: the retrieval time alone decides


def _latest_vintage(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The newest vintage of each ``key``, rows sorted by ``key`` (as sort_values + drop_duplicates).

    Newest: the latest release time (:func:`release_stamps`), then the latest
    retrieval, then the greater vintage string (only to be deterministic: vintage
    strings such as ``sha256:…`` carry no order).
    """
    order_columns = [*key, *newest_vintage_order(frame)]
    try:
        # Integer codes in each column's sort order: a lexsort on them is sort_values' order,
        # several times faster than sorting the text columns themselves.
        codes = [pd.factorize(frame[c], sort=True, use_na_sentinel=False)[0] for c in order_columns]
    except TypeError:  # values that do not compare with each other: the general path
        frame = frame.sort_values(order_columns).drop_duplicates(key, keep="last")
    else:
        order = np.lexsort(codes[::-1])
        keys = np.column_stack([codes[i][order] for i in range(len(key))])
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (keys[1:] != keys[:-1]).any(axis=1)  # the last row of a key holds its latest vintage
        frame = frame.take(order[last])
    # Date objects (PostgreSQL) and ISO text (SQLite) both become second-resolution stamps.
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[s]")
    return frame.reset_index(drop=True)


def latest_trade_period(session: Session, reporter: str) -> date | None:
    """The most recent period with any trade flow of ``reporter``.

    Asked per stored product and flow, where the key orders the periods
    (:mod:`monitor.store.key_scan`): one seek each, not a read of every row.
    """
    products = distinct_values(TradeFlow.__table__, {"reporter": reporter}, "product", "reporter_products")
    latest = [select(func.max(TradeFlow.period)).where(TradeFlow.reporter == reporter,
                                                       TradeFlow.product == products.c.product,
                                                       TradeFlow.flow == flow).scalar_subquery()
              for flow in FLOWS]
    per_flow = session.execute(select(*(func.max(each) for each in latest))
                               .where(products.c.product.is_not(None))).one()
    return max((period for period in per_flow if period is not None), default=None)


def collector_last_success(session: Session) -> dict[str, datetime]:
    """Per source, when its last successful collection finished."""
    rows = session.execute(
        select(CollectorRun.source, func.max(CollectorRun.finished_at))
        .where(CollectorRun.status == "succeeded").group_by(CollectorRun.source)
    ).all()
    return {source: finished for source, finished in rows}
