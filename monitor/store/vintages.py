"""Incremental collection from what is stored: latest periods and unchanged values.

No extra bookkeeping table: what a source already delivered is read from the
observations and trade flows it wrote (``source`` column), and every run is recorded
in ``collector_runs`` by :func:`~monitor.store.observations.store_batch`.

- :func:`latest_periods`: per series (``series_id``) and per trade key
  (``reporter/product/flow``), the latest period stored from a source; collectors
  fetch from there minus a look-back window.
- :func:`drop_unchanged`: removes from a batch every row whose value equals the latest
  stored vintage of the same row, so re-fetching the look-back window stores only
  new periods and revised values. A revised value is stored under the batch's
  vintage beside the previous one (which is kept), and being newer it is what
  :func:`~monitor.store.observations.load_observations` returns.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indicators.vocabulary import FLOWS
from monitor.records import EVENTS_KEY, ESTIMATE_FLAGS, REPORTED, CollectedBatch, estimate_flags, trade_key
from monitor.store.key_scan import distinct_values
from monitor.store.observations import newest_vintage_order
from monitor.store.tables import Observation, PolicyEvent, TradeFlow

_FLOW_KEY = ["reporter", "partner", "product", "flow", "period"]


def latest_periods(session: Session, source: str) -> dict[str, date]:
    """Latest stored period per series id and per ``reporter/product/flow`` of ``source``
    (and, under :data:`EVENTS_KEY`, its latest stored event announcement)."""
    latest: dict[str, date] = {}
    rows = session.execute(
        select(Observation.series_id, func.max(Observation.period))
        .where(Observation.source == source).group_by(Observation.series_id))
    for series_id, period in rows:
        latest[series_id] = period
    # Only the reporter's own flows count: a period filled from mirror data is asked
    # again until the reporter reports it. Asked per stored reporter, product and flow
    # (monitor.store.key_scan), newest period first: the walk back through a group
    # stops at its newest reported row of this source, so a collection does not read
    # every stored trade flow (only groups this source never reported are read whole).
    reporters = distinct_values(TradeFlow.__table__, {}, "reporter", "reporters")
    for reporter in session.scalars(select(reporters.c.reporter).where(reporters.c.reporter.is_not(None))).all():
        products = distinct_values(TradeFlow.__table__, {"reporter": reporter}, "product", "reporter_products")
        newest = [select(TradeFlow.period)
                  .where(TradeFlow.reporter == reporter, TradeFlow.product == products.c.product,
                         TradeFlow.flow == flow, TradeFlow.source == source, TradeFlow.provenance == REPORTED)
                  .order_by(TradeFlow.period.desc()).limit(1).scalar_subquery() for flow in FLOWS]
        rows = session.execute(select(products.c.product, *newest).where(products.c.product.is_not(None)))
        for product, *periods in rows:
            for flow, period in zip(FLOWS, periods):
                if period is not None:
                    latest[trade_key(reporter, product, flow)] = period
    newest_event = session.scalar(select(func.max(PolicyEvent.announced)).where(PolicyEvent.source == source))
    if newest_event is not None:
        latest[EVENTS_KEY] = newest_event
    return latest


def _same(a: float, b: float) -> bool:
    if (a is None or (isinstance(a, float) and math.isnan(a))) and \
            (b is None or (isinstance(b, float) and math.isnan(b))):
        return True
    if a is None or b is None:
        return False
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)


def _flag_text(flags: object) -> str | None:
    """``estimate_flags`` as stored (canonical order), None for none; unknown kinds kept as given
    (:func:`~monitor.store.observations.store_batch` refuses them)."""
    if not isinstance(flags, str) or not flags.strip():
        return None
    try:
        return estimate_flags(flags.split(","))
    except ValueError:
        return flags


def _latest(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    # The same "newest vintage" as the readers (load_observations, load_trade_flows).
    return frame.sort_values([*key, *newest_vintage_order(frame)]).drop_duplicates(key, keep="last")


def drop_unchanged(session: Session, batch: CollectedBatch) -> tuple[CollectedBatch, int, int]:
    """``batch`` without rows equal to their latest stored vintage; how many were dropped
    (unchanged); and how many of the kept rows have a stored vintage (revised; the rest are new)."""
    dropped = revised = 0
    observations = batch.observations
    if len(observations):
        periods = pd.to_datetime(observations["period"])
        stored = pd.DataFrame(session.execute(
            select(Observation.series_id, Observation.period, Observation.value, Observation.estimate_flags,
                   Observation.retrieved_at, Observation.released_at, Observation.vintage)
            .where(Observation.series_id.in_(sorted(set(observations["series_id"]))),
                   Observation.period >= periods.min().date())).all(),
            columns=["series_id", "period", "stored", "stored_flags", "retrieved_at", "released_at", "vintage"])
        if len(stored):
            # Rows carrying their own vintage (a source holding several releases) compare with
            # that vintage as stored; others with the newest stored vintage of the row.
            match = ["series_id", "period", "vintage"] if "vintage" in observations else ["series_id", "period"]
            stored = _latest(stored, match) if len(match) == 2 else stored.copy()
            stored["period"] = pd.to_datetime(stored["period"])
            flags = ([_flag_text(f) for f in observations[ESTIMATE_FLAGS]] if ESTIMATE_FLAGS in observations
                     else None)
            merged = observations.assign(period=periods, _flags=flags).merge(
                stored[[*match, "stored", "stored_flags"]], on=match, how="left")
            unchanged = [_same(v, s) and _flag_text(f) == _flag_text(sf)
                         for v, s, f, sf in zip(merged["value"], merged["stored"], merged["_flags"],
                                                merged["stored_flags"])]
            keep = ~pd.Series(unchanged, index=observations.index)
            dropped += int((~keep).sum())
            revised += int((keep.to_numpy() & merged["stored"].notna().to_numpy()).sum())
            observations = observations[keep.to_numpy()].reset_index(drop=True)
    flows = batch.trade_flows
    if len(flows):
        periods = pd.to_datetime(flows["period"])
        stored = pd.DataFrame(session.execute(
            select(TradeFlow.reporter, TradeFlow.partner, TradeFlow.product, TradeFlow.flow, TradeFlow.period,
                   TradeFlow.value, TradeFlow.quantity, TradeFlow.provenance, TradeFlow.estimate_flags,
                   TradeFlow.retrieved_at, TradeFlow.released_at, TradeFlow.vintage)
            .where(TradeFlow.source == batch.source,
                   TradeFlow.reporter.in_(sorted(set(flows["reporter"]))),
                   TradeFlow.product.in_(sorted(set(flows["product"].astype(str)))),
                   TradeFlow.period >= periods.min().date())).all(),
            columns=[*_FLOW_KEY, "stored", "stored_quantity", "stored_provenance", "stored_flags", "retrieved_at",
                     "released_at", "vintage"])
        if len(stored):
            stored = _latest(stored, _FLOW_KEY)
            stored["period"] = pd.to_datetime(stored["period"])
            provenance = flows["provenance"] if "provenance" in flows else REPORTED
            flags = [_flag_text(f) for f in flows[ESTIMATE_FLAGS]] if ESTIMATE_FLAGS in flows else None
            merged = flows.assign(period=periods, product=flows["product"].astype(str), _provenance=provenance,
                                  _flags=flags).merge(
                stored[[*_FLOW_KEY, "stored", "stored_quantity", "stored_provenance", "stored_flags"]],
                on=_FLOW_KEY, how="left")
            # A value that stays but loses (or gains) an estimate flag is a revision too.
            unchanged = [
                not pd.isna(s) and _same(v, s) and _same(q, sq) and p == sp and _flag_text(f) == _flag_text(sf)
                for v, s, q, sq, p, sp, f, sf in zip(merged["value"], merged["stored"], merged["quantity"],
                                                     merged["stored_quantity"], merged["_provenance"],
                                                     merged["stored_provenance"], merged["_flags"],
                                                     merged["stored_flags"])
            ]
            keep = ~pd.Series(unchanged, index=flows.index)
            dropped += int((~keep).sum())
            revised += int((keep.to_numpy() & merged["stored"].notna().to_numpy()).sum())
            flows = flows[keep.to_numpy()].reset_index(drop=True)
    return replace(batch, observations=observations, trade_flows=flows), dropped, revised
