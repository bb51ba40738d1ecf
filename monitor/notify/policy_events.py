"""Stored policy events as *event* findings for the alert rules (docs/events.md, docs/alerts.md).

Every active stored event announced up to the day is mapped onto the catalog's nodes
(:func:`indicators.events.map_events`) with exposures measured from the stored data up to
that day (:mod:`monitor.assess.event_exposure`). Each match becomes a
:class:`alerts.rules.FindingEvent` of kind ``policy_event`` on its node, at the match's
level, with the issuing body, dates, countdown and link in its summary. A ``finding``
rule listing ``policy_event`` (shipped: ``policy-event``) alerts it when it appears and
resolves it after ``resolve_after``, or as soon as the event is withdrawn (a withdrawn
event yields no finding).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from alerts.rules import FindingEvent
from indicators.events import map_events
from monitor.assess.event_exposure import node_profiles
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import Catalog
from monitor.store.events import load_events

__all__ = ["POLICY_EVENT_KIND", "policy_event_findings"]

POLICY_EVENT_KIND = "policy_event"


def _when(effective: date | None, today: date) -> tuple[str, str]:
    if effective is None:
        return "", ""
    if effective > today:
        days = (effective - today).days
        return (f"; in force in {days} days ({effective.isoformat()})",
                f"；{days} 天后（{effective.isoformat()}）生效")
    return f"; in force since {effective.isoformat()}", f"；自 {effective.isoformat()} 起生效"


def policy_event_findings(session: Session, catalog: Catalog, today: date) -> list[FindingEvent]:
    """One finding per (active stored event announced up to ``today``, matched node)."""
    events = [e for e in load_events(session) if e.status == "active" and e.announced <= today]
    if not events:
        return []
    codes = {catalog.home} | {e.issuer for e in events}
    names = {c: (country_name_en(c), country_name_zh(c)) for c in codes} | {"EU": ("European Union", "欧盟")}
    matched = {m.key for m in map_events(events, node_profiles(catalog), catalog.home, names).matches}
    profiles = node_profiles(catalog, session, today, only=matched)
    by_id = {e.event_id: e for e in events}
    findings = []
    for match in map_events(events, profiles, catalog.home, names).matches:
        event = by_id[match.event_id]
        when_en, when_zh = _when(event.effective, today)
        link = f" {event.link}" if event.link else ""
        findings.append(FindingEvent(
            chain=match.chain, node=match.node, kind=POLICY_EVENT_KIND, series=event.event_id, level=match.level,
            summary_en=f"{event.title}: {match.explanation_en}{when_en}.{link}",
            summary_zh=f"{event.title}：{match.explanation_zh}{when_zh}。{link}",
            score=match.exposure, period=event.announced.isoformat()))
    return findings
