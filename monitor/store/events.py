"""Stored policy and supply events: upsert by source id, one family per measure.

:func:`save_events` writes events by ``(source, external_id)`` (a re-collected event
updates its row: a status that turned ``withdrawn`` is stored) and links a new row to
an existing canonical event of another row when :func:`indicators.events.same_measure`
says it repeats or amends it. :func:`load_events` returns one event per family: the
canonical row with the HS codes of every member and the status of the newest member
(by announcement, then storage order), so a withdrawal published as a later document
resolves the family's warnings. Contract: docs/events.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from indicators.events import Event, same_measure
from monitor.store.tables import PolicyEvent

__all__ = ["SavedEvents", "save_events", "load_events"]


@dataclass(frozen=True)
class SavedEvents:
    """What :func:`save_events` did."""

    new: int
    updated: int
    """Stored events whose fields changed (an unchanged repeat is not counted)."""
    linked: int
    """New rows linked to an existing event as a repeat or an amendment."""
    unchanged: int = 0
    """Stored events given again with the same fields (nothing written)."""


def _event(row: PolicyEvent) -> Event:
    return Event(
        event_id=f"{row.source}:{row.external_id}", source=row.source, title=row.title, kind=row.kind,
        issuer=row.issuer, announced=row.announced, text=row.text,
        affected=tuple(row.affected.split(";")) if row.affected else ("*",),
        hs_codes=tuple(c for c in row.hs_codes.split(";") if c), effective=row.effective, link=row.link,
        language=row.language, status=row.status, issuing_body=row.issuing_body)


def _external_id(event: Event) -> str:
    prefix = f"{event.source}:"
    return event.event_id[len(prefix):] if event.event_id.startswith(prefix) else event.event_id


def save_events(session: Session, events: Iterable[Event], now: datetime) -> SavedEvents:
    """Insert or update ``events`` (the caller commits); new rows are linked to the measure they repeat."""
    rows = {(r.source, r.external_id): r for r in session.scalars(select(PolicyEvent))}
    canonical = [r for r in rows.values() if r.canonical_id is None]
    new = updated = linked = unchanged = 0
    for event in events:
        key = (event.source, _external_id(event))
        values = {**_stored_values(event), "retrieved_at": now}
        row = rows.get(key)
        if row is not None:
            changed = _changed_fields(row, values)
            if changed:  # an unchanged re-collection writes nothing (retrieved_at keeps the first arrival)
                for name, value in {**changed, "retrieved_at": now}.items():
                    setattr(row, name, value)
                updated += 1
            else:
                unchanged += 1
            continue
        row = PolicyEvent(source=key[0], external_id=key[1], **values)
        parent = next((c for c in canonical if same_measure(_event(c), event)), None)
        if parent is not None:
            session.flush()  # the parent's id
            row.canonical_id = parent.id
            linked += 1
        else:
            canonical.append(row)
        session.add(row)
        rows[key] = row
        new += 1
    session.flush()
    return SavedEvents(new, updated, linked, unchanged)


def _stored_values(event: Event) -> dict:
    return dict(
        title=event.title, text=event.text, kind=event.kind, issuer=event.issuer,
        issuing_body=event.issuing_body, affected=";".join(event.affected), hs_codes=";".join(event.hs_codes),
        announced=event.announced, effective=event.effective, link=event.link, language=event.language,
        status=event.status)


def _changed_fields(row: PolicyEvent, values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "retrieved_at" and getattr(row, k) != v}


def load_events(session: Session) -> list[Event]:
    """One event per family (canonical row, every member's HS codes, the newest member's status)."""
    rows = list(session.scalars(select(PolicyEvent).order_by(PolicyEvent.announced, PolicyEvent.id)))
    members: dict[int, list[PolicyEvent]] = defaultdict(list)
    for row in rows:
        members[row.canonical_id or row.id].append(row)
    families = []
    for row in rows:
        if row.canonical_id is not None:
            continue
        family = members[row.id]
        newest = max(family, key=lambda r: (r.announced, r.id))  # id: the later-stored of a same-day pair
        codes = tuple(dict.fromkeys(c for r in family for c in r.hs_codes.split(";") if c))
        families.append(replace(_event(row), hs_codes=codes, status=newest.status))
    return families
