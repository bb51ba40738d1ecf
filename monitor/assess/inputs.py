"""Reading the stored data the exposure dimensions need, for one partition of nodes.

Export flows of the partition's HS codes over the window, the partners' governance
scores (observations named by ``assessment.dimensions.partner_risk.series``) and the
logistics pressure series. Everything is bounded by the assessment's month (no
look-ahead) and read at the latest vintage; the computation itself is in
:mod:`monitor.assess.dimensions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from indicators.supply_risk import wgi_to_risk_score
from monitor.config.models import AssessmentSettings
from monitor.assess.dimensions import DimensionInputs, PartnerScore, window_start
from monitor.store.key_scan import distinct_values
from monitor.store.observations import load_observations, load_trade_flows
from monitor.store.tables import CollectorRun, Series, TradeFlow


def exports_stored(session: Session, reporter: str, start: date, end: date) -> bool:
    """Whether any export flow of ``reporter`` is stored for ``start``..``end``.

    Trade statistics list only non-zero flows, so "no export row of this product"
    means zero exports only when the reporter's exports are collected at all.
    """
    # Asked per stored product (monitor.store.key_scan): one seek each instead of
    # reading every row of the reporter, which is what a national catalog without
    # exports would cost.
    products = distinct_values(TradeFlow.__table__, {"reporter": reporter}, "product", "reporter_products")
    exported = exists().where(TradeFlow.reporter == reporter, TradeFlow.product == products.c.product,
                              TradeFlow.flow == "X", TradeFlow.period >= start, TradeFlow.period <= end)
    return bool(session.scalar(select(exists().where(products.c.product.is_not(None), exported))))


def partner_scores(session: Session, partners: Iterable[str], as_of: date,
                   settings: AssessmentSettings) -> dict[str, PartnerScore]:
    """Governance risk (0-10) of each partner from its configured score series.

    A partner's risk is the mean of its indicators' latest values within
    ``max_age_months`` of ``as_of``; WGI estimates go through
    :func:`indicators.supply_risk.wgi_to_risk_score`. Partners without any usable
    value are left out (missing, never risk).
    """
    config = settings.dimensions.partner_risk
    ids = {pattern.format(partner=p): (p, pattern) for p in sorted(set(map(str, partners))) for pattern in config.series}
    if not ids:
        return {}
    observed = load_observations(session, sorted(ids), end=as_of)
    oldest = pd.Timestamp(as_of) - pd.DateOffset(months=config.max_age_months)
    observed = observed[observed["period"] >= oldest].sort_values("period")
    latest = observed.groupby("series_id").tail(1)
    found: dict[str, list[tuple[str, float, pd.Timestamp]]] = {}
    for row in latest.itertuples(index=False):
        partner, _ = ids[row.series_id]
        found.setdefault(partner, []).append((row.series_id, float(row.value), row.period))
    out = {}
    for partner, values in found.items():
        raw = float(np.mean([v for _, v, _ in values]))
        risk = float(wgi_to_risk_score(raw)) if config.scale == "wgi_estimate" else float(np.clip(raw, 0.0, 10.0))
        period = max(p for _, _, p in values)
        out[partner] = PartnerScore(risk=risk, period=date(period.year, period.month, 1),
                                    indicators=tuple((sid, v) for sid, v, _ in values))
    return out


def exports_collected(session: Session, home: str, as_of: date | None, settings: AssessmentSettings) -> bool | None:
    """Whether ``home``'s exports are stored for the dimension window (None: no dimension needs it).

    Asked once per assessment and handed to every partition: without an index on
    the flow, the question scans every stored row of the reporter.
    """
    config = settings.dimensions
    if as_of is None or not (config.dependence.enabled or config.value.enabled):
        return None
    return exports_stored(session, home, window_start(as_of, settings.window_months).date(), as_of)


def load_dimension_inputs(session: Session, home: str, codes: Iterable[str], partners: Iterable[str],
                          as_of: date | None, chain_id: str, node_ids: Iterable[str],
                          settings: AssessmentSettings, *, exports_known: bool | None = None,
                          world_supply_stems: Iterable[str] = (),
                          world_supply_sources: Iterable[tuple[str, str]] = ()) -> DimensionInputs:
    """Everything :func:`monitor.assess.dimensions.measure_dimensions` needs for these nodes.

    ``exports_known``: :func:`exports_collected` if the caller asked it already (else it is asked here).
    ``world_supply_stems``: the nodes' world-supply series stems, loaded whatever the trade month;
    ``world_supply_sources``: ``(series prefix, source id)`` of the sources that store them
    (:func:`world_supply_gaps` says why a stem has nothing stored).
    """
    config = settings.dimensions
    inputs = DimensionInputs()
    if config.world_supply.enabled:
        inputs.world_supply = world_supply_observations(session, world_supply_stems, as_of)
        inputs.world_supply_missing = world_supply_gaps(
            session, [s for s in world_supply_stems if s not in inputs.world_supply], world_supply_sources)
    if as_of is None:
        return inputs
    start = window_start(as_of, settings.window_months).date()
    if config.dependence.enabled or config.value.enabled:
        # three 12-month years at least: the EU strategic-dependency test's persistence window
        since = window_start(as_of, max(settings.window_months, 36)).date() if config.dependence.enabled else start
        exports = load_trade_flows(session, home, sorted(set(codes)), flow="X", start=since, end=as_of)
        inputs.exports_by_product = {product: group for product, group in exports.groupby("product", sort=False)}
        inputs.exports_collected = bool((exports["period"] >= pd.Timestamp(start)).any()) or (
            exports_known if exports_known is not None else exports_stored(session, home, start, as_of))
    if config.partner_risk.enabled:
        inputs.partner_scores = partner_scores(session, partners, as_of, settings)
    if config.logistics.enabled and config.logistics.series:
        ids = sorted({config.logistics.series.format(chain=chain_id, node=n) for n in node_ids})
        observed = load_observations(session, ids, end=as_of)
        inputs.logistics = {sid: g.set_index("period")["value"].sort_index()
                            for sid, g in observed.groupby("series_id")}
    return inputs


def world_supply_observations(session: Session, stems: Iterable[str], as_of: date | None) -> dict[str, pd.DataFrame]:
    """Stem -> the stored ``<stem>.<country>`` observations up to ``as_of``'s year (newest release each year).

    Annual figures are stored at January of their year, so a year is used once the
    assessed month is in it or later; nothing after the assessed period is read.
    """
    stems = sorted(set(stems))
    if not stems:
        return {}
    ids = session.scalars(select(Series.series_id).where(
        or_(*(Series.series_id.like(f"{stem}.%") for stem in stems)))).all()
    # only the series directly under a stem (usgs.galli.primary.CHN, not a longer stem's series)
    ids = [i for i in ids if any(i.startswith(f"{s}.") and "." not in i[len(s) + 1:] for s in stems)]
    if not ids:
        return {}
    observed = load_observations(session, ids, end=as_of, with_provenance=True)
    if observed.empty:  # series stored, but none up to as_of (an empty frame has no string columns)
        return {}
    stem_of = observed["series_id"].str.rsplit(".", n=1).str[0]
    return {str(stem): group.reset_index(drop=True) for stem, group in observed.groupby(stem_of)}



def world_supply_gaps(session: Session, stems: Iterable[str], sources: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Stem -> why nothing is stored for it, from the latest collection of the sources storing its prefix.

    ``sources``: ``(series prefix, source id)``, e.g. ``("eto", "eto-chips")``. A failed
    collection gives its error (which names the missing file and how to get it); a
    successful one that stored nothing under the stem says the source publishes no figure.
    """
    sources = list(sources)
    out = {}
    for stem in sorted(set(stems)):
        prefix = stem.split(".", 1)[0]
        reasons = []
        for source in [sid for p, sid in sources if p == prefix]:
            run = session.scalars(select(CollectorRun).where(CollectorRun.source == source)
                                  .order_by(CollectorRun.id.desc()).limit(1)).first()
            if run is None:
                reasons.append(f"source {source} has not been collected yet")
            elif run.status == "failed":
                reasons.append(f"latest collection failed: {run.error}")
            else:
                reasons.append(f"source {source} publishes no figure for it")
        out[stem] = "; ".join(reasons) if reasons else f"no source storing {prefix}.* series is configured"
    return out
