"""Alert state and the durable notification outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.model import Alert
from monitor.clock import as_utc
from monitor.storage.tables import AlertRecord, OutboxMessage


@dataclass(frozen=True)
class QueuedNotification:
    """A notification to put in the outbox, with the body already encoded."""

    idempotency_key: str
    receiver: str
    group_key: str
    body: str


def load_alerts(session: Session) -> dict[str, Alert]:
    """Every stored alert by fingerprint."""
    return {
        r.fingerprint: Alert(
            fingerprint=r.fingerprint, labels=dict(r.labels), annotations=dict(r.annotations),
            state=r.state, starts_at=as_utc(r.starts_at), ends_at=as_utc(r.ends_at),
        )
        for r in session.scalars(select(AlertRecord))
    }


def save_alerts_and_enqueue(
    session: Session, alerts: Sequence[Alert], queued: Sequence[QueuedNotification],
    run_id: int | None, now: datetime,
) -> int:
    """Store alert states and queue their notifications in the caller's transaction.

    Doing both in one transaction means a crash can never leave an alert marked
    firing without its notification queued (or the reverse). Returns how many
    notifications were newly queued; keys already queued are not queued twice.
    """
    for alert in alerts:
        record = session.get(AlertRecord, alert.fingerprint)
        if record is None:
            record = AlertRecord(fingerprint=alert.fingerprint)
            session.add(record)
        record.labels = dict(alert.labels)
        record.annotations = dict(alert.annotations)
        record.state = alert.state
        record.starts_at = alert.starts_at
        record.ends_at = alert.ends_at
        record.updated_at = now
        record.run_id = run_id
    existing = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_([q.idempotency_key for q in queued]))))
    added = 0
    for item in queued:
        if item.idempotency_key in existing:
            continue
        session.add(OutboxMessage(
            idempotency_key=item.idempotency_key, receiver=item.receiver, group_key=item.group_key,
            body=item.body, status="pending", attempts=0, created_at=now, next_attempt_at=now,
        ))
        added += 1
    return added


def due_messages(session: Session, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Pending messages whose next attempt is due, oldest first."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id).limit(limit)
    ))


def outbox_counts(session: Session) -> dict[str, int]:
    """Number of outbox messages per status (pending, delivered, dead)."""
    return dict(session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def alert_counts(session: Session) -> dict[tuple[str, str], int]:
    """Number of alerts per (state, severity)."""
    counts: dict[tuple[str, str], int] = {}
    for record in session.scalars(select(AlertRecord)):
        key = (record.state, record.labels.get("severity", ""))
        counts[key] = counts.get(key, 0) + 1
    return counts
