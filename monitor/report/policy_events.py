"""The report's policy events: what was announced since the previous assessment, on which nodes.

Part of the "what changed" section (docs/report.md, docs/events.md). The events are the
stored active events announced after the previous successful run's day, up to this run's
day. For the first run, the window is the last :data:`FIRST_RUN_DAYS` days. Each event is
mapped onto the nodes with exposures measured up to this run's day; withdrawn events and
events that matched no node are listed too, so nothing announced is silently left out.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from indicators.events import map_events
from monitor.assess.event_exposure import node_profiles
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import Catalog
from monitor.store.events import load_events

__all__ = ["FIRST_RUN_DAYS", "policy_events_section"]

FIRST_RUN_DAYS = 90


def policy_events_section(session: Session, catalog: Catalog, until: date, since: date | None) -> list[dict]:
    """Events announced in ``(since, until]`` (``since`` None: the last :data:`FIRST_RUN_DAYS` days), newest first."""
    since = since if since is not None else until - timedelta(days=FIRST_RUN_DAYS)
    events = [e for e in load_events(session) if since < e.announced <= until]
    if not events:
        return []
    codes = {catalog.home} | {e.issuer for e in events}
    names = {c: (country_name_en(c), country_name_zh(c)) for c in codes} | {"EU": ("European Union", "欧盟")}
    active = [e for e in events if e.status == "active"]
    matched = {m.key for m in map_events(active, node_profiles(catalog), catalog.home, names).matches}
    mapping = map_events(events, node_profiles(catalog, session, until, only=matched), catalog.home, names)
    rows = []
    for event in sorted(events, key=lambda e: (e.announced, e.event_id), reverse=True):
        nodes = [{"chain": m.chain, "node": m.node, "level": "none" if event.status == "withdrawn" else m.level,
                  "exposure": m.exposure, "explanation": m.explanation_en, "explanation_zh": m.explanation_zh}
                 for m in mapping.matches if m.event_id == event.event_id]
        rows.append({
            "event_id": event.event_id, "title": event.title, "kind": event.kind, "issuer": event.issuer,
            "issuer_name": names[event.issuer][0], "issuer_name_zh": names[event.issuer][1],
            "issuing_body": event.issuing_body, "announced": event.announced.isoformat(),
            "effective": event.effective.isoformat() if event.effective else None,
            "days_until_effective": (event.effective - until).days
            if event.effective is not None and event.effective > until else None,
            "status": event.status, "link": event.link, "nodes": nodes})
    return rows
