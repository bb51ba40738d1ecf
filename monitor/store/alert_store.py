"""Alert state, acknowledgements, silences, the notification log and the durable outbox.

Outbox protocol (at-least-once, crash-safe):

1. A notification is inserted ``pending`` in the same transaction that records
   it in the notification log, so a crash can neither lose it nor queue it twice.
2. A dispatcher *claims* a due message with a conditional UPDATE that sets
   ``claimed_until`` (a lease) and counts the attempt, and commits, before sending.
   Two dispatchers cannot both win the UPDATE for the same lease.
3. After the receiver answered, the outcome is committed: ``delivered`` (2xx),
   rescheduled (retryable), or ``dead`` with the reason.

If the process dies between 2 and 3 the lease lapses and the message is sent
again with the same ``Idempotency-Key``; receivers de-duplicate on it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from alerts.grouping import GroupLog
from alerts.matchers import Matcher
from alerts.model import Alert
from alerts.silences import Silence, refuse_catch_all
from monitor.clock import as_utc
from monitor.store.tables import AlertRecord, NotificationLogRecord, OutboxMessage, SilenceRecord


class UnknownAlertError(KeyError):
    """No alert (or silence) has the given id or fingerprint prefix."""


@dataclass(frozen=True)
class QueuedNotification:
    """A notification to put in the outbox, with the body already encoded."""

    idempotency_key: str
    receiver: str
    group_key: str
    body: str


@dataclass(frozen=True)
class Acknowledgement:
    """Who acknowledged an alert's current episode, when, and why."""

    by: str
    at: datetime
    comment: str | None = None


def load_alerts(session: Session) -> dict[str, Alert]:
    """Every stored alert by fingerprint."""
    return {
        r.fingerprint: Alert(
            fingerprint=r.fingerprint, labels=dict(r.labels), annotations=dict(r.annotations),
            state=r.state, starts_at=as_utc(r.starts_at), ends_at=as_utc(r.ends_at),
            active_runs=r.active_runs if r.active_runs is not None else 1, missing_runs=r.missing_runs or 0,
        )
        for r in session.scalars(select(AlertRecord))
    }


def load_acknowledgements(session: Session) -> dict[str, Acknowledgement]:
    """Acknowledgements of the stored alerts' current episodes, by fingerprint."""
    return {
        r.fingerprint: Acknowledgement(r.acknowledged_by, as_utc(r.acknowledged_at), r.ack_comment)
        for r in session.scalars(select(AlertRecord).where(AlertRecord.acknowledged_by.is_not(None)))
    }


def save_alerts(session: Session, alerts: Mapping[str, Alert] | Sequence[Alert], run_id: int | None,
                now: datetime, *, drop_missing: bool = False) -> None:
    """Upsert alert states in the caller's transaction.

    A new episode (a different ``starts_at``) clears the previous acknowledgement.
    With ``drop_missing``, stored alerts absent from ``alerts`` are deleted (pending
    alerts whose condition stopped, resolved ones past retention).
    """
    items = list(alerts.values()) if isinstance(alerts, Mapping) else list(alerts)
    for alert in items:
        record = session.get(AlertRecord, alert.fingerprint)
        if record is None:
            record = AlertRecord(fingerprint=alert.fingerprint)
            session.add(record)
        elif as_utc(record.starts_at) != alert.starts_at:
            record.acknowledged_by = record.acknowledged_at = record.ack_comment = None
        record.labels = dict(alert.labels)
        record.annotations = dict(alert.annotations)
        record.state = alert.state
        record.starts_at = alert.starts_at
        record.ends_at = alert.ends_at
        record.updated_at = now
        record.run_id = run_id
        record.active_runs = alert.active_runs
        record.missing_runs = alert.missing_runs
    if drop_missing:
        keep = [a.fingerprint for a in items]
        session.execute(delete(AlertRecord).where(AlertRecord.fingerprint.not_in(keep))
                        if keep else delete(AlertRecord))


def enqueue(session: Session, queued: Sequence[QueuedNotification], now: datetime,
            not_before: datetime | None = None) -> int:
    """Queue notifications in the caller's transaction; keys already queued are skipped."""
    if not queued:
        return 0
    existing = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_([q.idempotency_key for q in queued]))))
    added = 0
    for item in queued:
        if item.idempotency_key in existing:
            continue
        existing.add(item.idempotency_key)
        session.add(OutboxMessage(
            idempotency_key=item.idempotency_key, receiver=item.receiver, group_key=item.group_key,
            body=item.body, status="pending", attempts=0, created_at=now, next_attempt_at=not_before or now,
        ))
        added += 1
    return added


def save_alerts_and_enqueue(
    session: Session, alerts: Sequence[Alert], queued: Sequence[QueuedNotification],
    run_id: int | None, now: datetime,
) -> int:
    """Store alert states and queue their notifications in the caller's transaction.

    Doing both in one transaction means a crash can never leave an alert marked
    firing without its notification queued (or the reverse). Returns how many
    notifications were newly queued; keys already queued are not queued twice.
    """
    save_alerts(session, alerts, run_id, now)
    return enqueue(session, queued, now)


# --- acknowledgement --------------------------------------------------------------

def find_alert(session: Session, prefix: str) -> AlertRecord:
    """The alert whose fingerprint starts with ``prefix`` (unique), for the CLI."""
    if not prefix:
        raise UnknownAlertError("an alert fingerprint (or a unique prefix of it) is required")
    found = list(session.scalars(select(AlertRecord).where(AlertRecord.fingerprint.startswith(prefix)).limit(2)))
    if not found:
        raise UnknownAlertError(f"no alert with fingerprint {prefix!r}")
    if len(found) > 1:
        raise UnknownAlertError(f"fingerprint prefix {prefix!r} is ambiguous: give more characters")
    return found[0]


def acknowledge(session: Session, prefix: str, by: str, now: datetime, comment: str | None = None) -> AlertRecord:
    """Record that ``by`` acknowledged the alert's current episode (stops escalation and reminders)."""
    if not by.strip():
        raise ValueError("acknowledgement needs the name of who acknowledges (--by)")
    record = find_alert(session, prefix)
    record.acknowledged_by, record.acknowledged_at, record.ack_comment = by, now, comment
    return record


# --- silences ---------------------------------------------------------------------

def _silence(record: SilenceRecord) -> Silence:
    return Silence(id=record.id, matchers=tuple(Matcher.parse(m) for m in record.matchers),
                   starts_at=as_utc(record.starts_at), ends_at=as_utc(record.ends_at),
                   created_by=record.created_by, comment=record.comment)


def add_silence(session: Session, matchers: Sequence[Matcher], starts_at: datetime, ends_at: datetime,
                created_by: str, comment: str, now: datetime) -> Silence:
    """Validate and store a silence; returns it with its new id."""
    refuse_catch_all(matchers)
    silence = Silence(id=str(uuid.uuid4()), matchers=tuple(matchers), starts_at=starts_at, ends_at=ends_at,
                      created_by=created_by, comment=comment)
    session.add(SilenceRecord(id=silence.id, matchers=[str(m) for m in silence.matchers],
                              starts_at=starts_at, ends_at=ends_at, created_by=created_by,
                              comment=comment, created_at=now))
    return silence


def list_silences(session: Session, now: datetime | None = None, include_expired: bool = False) -> list[Silence]:
    """Silences, newest end first; without ``include_expired`` only pending and active ones."""
    query = select(SilenceRecord).order_by(SilenceRecord.ends_at.desc(), SilenceRecord.id)
    if not include_expired and now is not None:
        query = query.where(SilenceRecord.ends_at > now)
    # A silence expired before it started ends when it starts: show it as _expired_view does.
    return [_silence(r) if as_utc(r.ends_at) > as_utc(r.starts_at) else _expired_view(r)
            for r in session.scalars(query)]


def expire_silence(session: Session, silence_id: str, now: datetime) -> Silence:
    """End a silence now (kept for the record); ``silence_id`` may be a unique prefix."""
    found = list(session.scalars(select(SilenceRecord).where(SilenceRecord.id.startswith(silence_id)).limit(2)))
    if len(found) != 1:
        raise UnknownAlertError(f"no single silence with id {silence_id!r}")
    record = found[0]
    if as_utc(record.ends_at) > now:
        record.ends_at = now
        if as_utc(record.starts_at) > now:
            record.starts_at = now  # expired before it started
    return _expired_view(record)


def _expired_view(record: SilenceRecord) -> Silence:
    # A silence expired before it started has starts_at == ends_at, which Silence
    # refuses; show it with the minimal valid window.
    ends = as_utc(record.ends_at)
    starts = min(as_utc(record.starts_at), ends - timedelta(microseconds=1))
    return Silence(id=record.id, matchers=tuple(Matcher.parse(m) for m in record.matchers), starts_at=starts,
                   ends_at=ends, created_by=record.created_by, comment=record.comment)


# --- notification log ---------------------------------------------------------------

def _log_key(receiver: str, group_key: str) -> str:
    return hashlib.sha256(f"{receiver}\xff{group_key}".encode("utf-8", "surrogatepass")).hexdigest()


def load_group_log(session: Session, receiver: str, group_key: str) -> GroupLog | None:
    """What ``receiver`` was last told about ``group_key`` (None: never)."""
    record = session.get(NotificationLogRecord, _log_key(receiver, group_key))
    if record is None:
        return None
    return GroupLog(firing=dict(record.firing), first_seen_at=as_utc(record.first_seen_at),
                    last_sent_at=as_utc(record.last_sent_at), sequence=record.sequence)


def load_group_logs(session: Session) -> dict[tuple[str, str], GroupLog]:
    """Every notification log entry by (receiver, group key)."""
    return {
        (r.receiver, r.group_key): GroupLog(firing=dict(r.firing), first_seen_at=as_utc(r.first_seen_at),
                                            last_sent_at=as_utc(r.last_sent_at), sequence=r.sequence)
        for r in session.scalars(select(NotificationLogRecord))
    }


def save_group_log(session: Session, receiver: str, group_key: str, log: GroupLog) -> None:
    """Store the log entry in the caller's transaction."""
    key = _log_key(receiver, group_key)
    record = session.get(NotificationLogRecord, key)
    if record is None:
        record = NotificationLogRecord(key=key, receiver=receiver, group_key=group_key)
        session.add(record)
    record.firing = dict(log.firing)
    record.first_seen_at = log.first_seen_at
    record.last_sent_at = log.last_sent_at
    record.sequence = log.sequence


# --- outbox dispatch ---------------------------------------------------------------

def due_messages(session: Session, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Pending messages whose next attempt is due and whose lease (if any) lapsed, oldest first."""
    return list(session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now))
        .order_by(OutboxMessage.id).limit(limit)
    ))


def claim(session: Session, message_id: int, now: datetime, lease_until: datetime) -> bool:
    """Take the lease on a due message and count the attempt; False if another dispatcher has it.

    The caller commits before sending, so the attempt is on record even if the
    process dies while the request is in flight.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending",
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now))
        .values(claimed_until=lease_until, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


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
