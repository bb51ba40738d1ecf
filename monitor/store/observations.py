"""Writing collected batches and reading observations and trade flows back."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Alias, Select, String, Tuple, exists, func, or_, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indicators.tables import text_codes
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
from monitor.store.columnar import Kind, read_columns
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
    start: date | None = None, end: date | None = None, *, with_provenance: bool | Collection[str] = False,
) -> pd.DataFrame:
    """Trade flows of ``reporter`` for ``products``, latest vintage of each row.

    Returns columns ``reporter, partner, product, flow, period, value, quantity``
    with ``period`` as month-start Timestamps (``datetime64[s]``), ``value`` and
    ``quantity`` float (NaN: not reported), sorted by ``partner, product, period``
    (``with_provenance``: also ``provenance``, ``cif_fob_factor`` and
    ``estimate_flags``, see :data:`PROVENANCE_COLUMNS`; or the names of those of them
    wanted: only the columns returned are read, each costing a Python object per row
    on SQLite).

    Of the vintages of a row (the same partner, product and period, from any source),
    only the newest is returned: the latest release (``released_at``; where unknown,
    the retrieval time), then the latest retrieval, so a figure published in two
    releases is counted once (docs/provenance.md).

    Reported beats mirror: where any reported flow of a reporter/product/flow/period
    is stored, that period's mirror flows (partner-reported stand-ins) are left out,
    whatever their vintages, so the result does not depend on arrival order and never
    mixes the two within a period.

    Both rules are applied by the database (:func:`_newest`); the rows are read as columns
    (:mod:`monitor.store.columnar`). Most keys have one stored row (a revision adds a
    vintage only where a figure changed), so the rows are first read without the newest-
    vintage rule, which costs the database a probe or a sort per row; the months of the
    HS codes in which some key turns out to have several rows are then read again with
    it (:func:`_one_row_per_key`).
    """
    wanted = _provenance_columns(with_provenance)
    columns = {"partner": "text", "product": "text", "period": "date", "value": "float", "quantity": "float",
               **{name: _PROVENANCE_KINDS[name] for name in wanted}}
    dialect = _dialect(session)

    def newest(months: list[tuple[str, date]]) -> list[pd.DataFrame]:
        return [read_columns(session, _newest_trade_flows(dialect, reporter, flow, months[i:i + _MONTHS_PER_READ],
                                                          list(columns)), columns)
                for i in range(0, len(months), _MONTHS_PER_READ)]

    frame = _one_row_per_key(
        read_columns(session, _trade_flow_rows(reporter, flow, list(products), start, end, list(columns)), columns),
        newest)
    # reporter and flow are fixed by the query: not read back.
    frame.insert(0, "reporter", pd.Series(reporter, index=frame.index, dtype=frame["partner"].dtype))
    frame.insert(3, "flow", pd.Series(flow, index=frame.index, dtype=frame["partner"].dtype))
    return _flags_as_none(frame[[*TRADE_FLOW_COLUMNS, *wanted]])


_PROVENANCE_KINDS: dict[str, Kind] = {"provenance": "text", "cif_fob_factor": "float", ESTIMATE_FLAGS: "text"}


def _provenance_columns(wanted: bool | Collection[str]) -> tuple[str, ...]:
    """The :data:`PROVENANCE_COLUMNS` that ``with_provenance`` asks for, in their order."""
    if isinstance(wanted, bool):
        return PROVENANCE_COLUMNS if wanted else ()
    unknown = sorted(set(wanted) - set(PROVENANCE_COLUMNS))
    if unknown or isinstance(wanted, str):
        raise ValueError(f"not provenance columns: {unknown or wanted!r} (known: {', '.join(PROVENANCE_COLUMNS)})")
    return tuple(c for c in PROVENANCE_COLUMNS if c in set(wanted))


#: (HS code, month) pairs per re-read: two bound parameters each, well inside SQLite's limit (32,766).
_MONTHS_PER_READ = 2_000


def _one_row_per_key(rows: pd.DataFrame,
                     newest: Callable[[list[tuple[str, date]]], list[pd.DataFrame]]) -> pd.DataFrame:
    """``rows`` (every stored row, in any order) with each key's newest row only, sorted by
    ``partner, product, period``.

    Where no two rows share a partner, product and period (one provenance per period is
    left by the query: reported beats mirror), ``rows`` are the answer. The (HS code,
    month) pairs where some do are replaced by ``newest(pairs)``, the database's
    newest-vintage read of just those months. Measured per assessment partition
    (docs/benchmarks.md): SQLite's probe per row and PostgreSQL's sort cost more than
    this second read, which reads only the revised months.
    """
    order, repeated = _partner_product_period(rows)
    if not repeated:
        return rows.take(order).reset_index(drop=True) if order is not None else rows
    months = pd.MultiIndex.from_arrays([rows["product"], rows["period"]])
    again = months.isin(repeated)
    merged = pd.concat([rows[~again], *newest([(p, m.date()) for p, m in repeated])], ignore_index=True)
    order, _ = _partner_product_period(merged)
    return merged.take(order).reset_index(drop=True) if order is not None else merged


def _partner_product_period(frame: pd.DataFrame) -> tuple[np.ndarray | None, list[tuple[str, pd.Timestamp]]]:
    """The positions that sort ``frame`` by ``partner, product, period`` (None: already so), codes
    compared as text in byte order, as both databases compare them; and the (product, period)
    pairs in which two rows share a partner (the order among those is left as it came).
    """
    keys = np.zeros(len(frame), dtype=np.int64)
    ranked = []
    for name in ("partner", "product"):
        rank, texts = text_codes(frame[name], sort=True)  # Python compares str by code point: byte order in UTF-8
        ranked.append((rank.astype(np.int64, copy=False), len(texts)))
    days = frame["period"].to_numpy().astype("datetime64[D]").astype(np.int64)
    first = int(days.min()) if len(days) else 0
    ranked.append((days - first, (int(days.max()) - first + 1) if len(days) else 1))
    if np.prod([float(n) for _, n in ranked]) < 2.0**62:
        for values, n in ranked:
            keys = keys * n + values
        order = None if len(keys) < 2 or bool((keys[1:] >= keys[:-1]).all()) else np.argsort(keys, kind="stable")
        ordered = keys if order is None else keys[order]
        same = ordered[1:] == ordered[:-1]
    else:  # too many distinct codes for one integer key
        order = np.lexsort([values for values, _ in reversed(ranked)])
        same = np.logical_and.reduce([values[order][1:] == values[order][:-1] for values, _ in ranked])
    if not same.any():
        return order, []
    at = np.flatnonzero(same) if order is None else order[np.flatnonzero(same)]
    pairs = frame[["product", "period"]].iloc[at].drop_duplicates().sort_values(["product", "period"])
    return order, list(zip(pairs["product"].astype(str), pairs["period"]))


def _trade_flow_conditions(row: Alias, other: Alias, reporter: str, flow: str, products: list[str],
                           start: date | None, end: date | None) -> list:
    """The rows of ``reporter``'s ``flow`` of ``products`` from ``start`` to ``end``, mirror rows only where
    the period has no reported one."""
    same_period = [other.c.reporter == row.c.reporter, other.c.product == row.c.product,
                   other.c.flow == row.c.flow, other.c.period == row.c.period]
    shadowed = exists().where(*same_period, other.c.provenance != MIRROR)
    conditions = [row.c.reporter == reporter, row.c.flow == flow, row.c.product.in_(products),
                  or_(row.c.provenance != MIRROR, ~shadowed)]
    if start is not None:
        conditions.append(row.c.period >= start)
    if end is not None:
        conditions.append(row.c.period <= end)
    return conditions


def _trade_flow_rows(reporter: str, flow: str, products: list[str], start: date | None, end: date | None,
                     columns: list[str]) -> Select:
    """``columns`` of every vintage's row of :func:`_trade_flow_conditions`, in no particular order (the reader
    sorts)."""
    row, other = TradeFlow.__table__.alias("row"), TradeFlow.__table__.alias("other")
    return select(*(row.c[c] for c in columns)).where(
        *_trade_flow_conditions(row, other, reporter, flow, products, start, end))


def _newest_trade_flows(dialect: str, reporter: str, flow: str, months: list[tuple[str, date]],
                        columns: list[str]) -> Select:
    """``columns`` of the newest row of each key of :func:`_trade_flow_conditions` in these (HS code, month)
    pairs, in ``product, period, partner`` order."""
    row, other = TradeFlow.__table__.alias("row"), TradeFlow.__table__.alias("other")
    products = sorted({p for p, _ in months})
    conditions = [*_trade_flow_conditions(row, other, reporter, flow, products, None, None),
                  tuple_(row.c.product, row.c.period).in_(months)]
    # Within one period reported and mirror rows no longer meet: the provenance is part of the key.
    # All of the primary key's leading columns are named, so that SQLite's probe can seek.
    return _newest(dialect, row, other, ["reporter", "product", "flow", "period", "partner", "provenance"],
                   columns, conditions, ["product", "period", "partner"])


def _newest(dialect: str, row: Alias, other: Alias, key: list[str], columns: list[str], conditions: list,
            order: list[str]) -> Select:
    """``columns`` of the rows of ``row`` meeting ``conditions`` that no row of the same ``key`` outranks,
    sorted by ``order`` (columns of ``key`` that are unique among the rows returned, in the primary
    key's order, so that neither database sorts what its index already orders).

    The rank (:func:`_newness`) is the newest-vintage order of docs/provenance.md. Measured
    per assessment partition (1.2 million of 2.4 million stored rows, docs/benchmarks.md):
    PostgreSQL keeps the first row of each key with ``DISTINCT ON`` after one sort (1.7–2.0 s
    for the ``COPY``, against 4.3 s for a ``ROW_NUMBER()`` window followed by a second sort
    into another order); SQLite, in process, probes the primary key for a newer row (``NOT
    EXISTS``) at a third of the CPU of its window function's sort. The probe first rules the
    row itself out on the primary key's own columns (the ones ``key`` leaves out: source and
    vintage), so for a key with one vintage SQLite never reads the table row behind the index
    entry (3.5 → 2.6 s CPU per partition, fetch included).
    """
    if dialect == "postgresql":
        # Byte order ("C") for text, as SQLite compares: the same rows in the same order on
        # both backends whatever the database's collation.
        def sort_key(name: str):
            column = row.c[name]
            return column.collate("C") if isinstance(column.type, String) else column

        leading = [sort_key(k) for k in [*order, *(k for k in key if k not in order)]]
        return (select(*(row.c[c] for c in columns)).where(*conditions)
                .distinct(*leading).order_by(*leading, *(part.desc() for part in _newness(row).clauses)))
    rest = [c.name for c in row.primary_key if c.name not in key]
    not_itself = [or_(*(other.c[c] != row.c[c] for c in rest))] if rest else []
    newer = exists().where(*(other.c[k] == row.c[k] for k in key), *not_itself, _newness(other) > _newness(row))
    return select(*(row.c[c] for c in columns)).where(*conditions, ~newer).order_by(*(row.c[c] for c in order))


def _newness(table: Alias) -> Tuple:
    """How a vintage ranks, as a row value compared left to right: release time (the retrieval
    time where unknown), retrieval time, then the vintage string (only to be deterministic).

    Timestamps compare as stored: ``timestamptz`` on PostgreSQL, fixed-width UTC text
    ('YYYY-MM-DD HH:MM:SS.ffffff') on SQLite, where text order is time order.
    """
    return tuple_(func.coalesce(table.c.released_at, table.c.retrieved_at), table.c.retrieved_at, table.c.vintage)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def load_observations(session: Session, series_ids: Iterable[str], end: date | None = None, *,
                      with_provenance: bool = False) -> pd.DataFrame:
    """Observations of ``series_ids`` (newest vintage, as :func:`load_trade_flows`), columns ``series_id, period, value``.

    Sorted by ``series_id, period``. ``with_provenance``: also ``estimate_flags``
    (None: a reported figure; docs/provenance.md).
    """
    row, other = Observation.__table__.alias("row"), Observation.__table__.alias("other")
    conditions = [row.c.series_id.in_(list(series_ids))]
    if end is not None:
        conditions.append(row.c.period <= end)
    query = _newest(_dialect(session), row, other, ["series_id", "period"],
                    ["series_id", "period", "value", ESTIMATE_FLAGS], conditions, ["series_id", "period"])
    frame = read_columns(session, query, {"series_id": "text", "period": "date", "value": "float",
                                          ESTIMATE_FLAGS: "text"})
    columns = [*OBSERVATION_COLUMNS, ESTIMATE_FLAGS] if with_provenance else list(OBSERVATION_COLUMNS)
    return _flags_as_none(frame[columns])


def _flags_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``estimate_flags`` with None (not NaN) for a reported figure, as stored."""
    if ESTIMATE_FLAGS in frame:
        flags = frame[ESTIMATE_FLAGS].astype(object)
        frame[ESTIMATE_FLAGS] = flags.where(flags.notna(), None)
    return frame


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
