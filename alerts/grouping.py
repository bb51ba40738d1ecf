"""Aggregation groups and the notification log: when does a group notify, with what.

Alertmanager's dispatcher keeps one aggregation group per (route, group labels)
and, per receiver, a notification log (``nflog``) of what it last sent. This module
is the pure decision of one flush, as in ``notify/dedup_stage.go``:

- a group notifies when its firing set changed since the last notification (an
  alert fired, or its labels changed: a severity or level change), when an alert
  that was notified as firing has resolved, or, with no change, when
  ``repeat_interval`` has passed and some firing alert is not acknowledged;
- a new group (nothing firing notified before) waits ``group_wait`` after it was
  first seen; a group that notified before waits ``group_interval`` after its last
  notification, so a group produces at most one message per interval;
- the message holds every firing alert of the group plus the alerts that resolved
  since they were notified as firing; resolved alerts never notified (muted or
  pending throughout) are not announced.

Muted (silenced or inhibited) alerts are left out by the caller before this stage,
as Alertmanager's inhibit and silence stages run before dedup.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime

from alerts.fingerprint import fingerprint
from alerts.model import Alert
from alerts.routing import Timing


def labels_hash(alert: Alert) -> str:
    """Hash of the full label set (volatile labels included): changes on escalation."""
    return fingerprint(alert.labels)


@dataclass(frozen=True)
class GroupLog:
    """What one receiver was last told about one group.

    ``firing``: fingerprint → :func:`labels_hash` of the firing alerts in the last
    notification; ``first_seen_at``: when the group got firing alerts without a
    notification yet (``group_wait`` counts from it); ``sequence``: notifications
    sent so far (part of the idempotency key).
    """

    firing: dict[str, str] = field(default_factory=dict)
    first_seen_at: datetime | None = None
    last_sent_at: datetime | None = None
    sequence: int = 0


@dataclass(frozen=True)
class FlushDecision:
    """The outcome of :func:`decide_flush`.

    ``alerts``: what to send (empty: send nothing); ``reason``: ``new``,
    ``changed``, ``resolved`` or ``repeat``; ``log``: the log to store (also when
    nothing is sent, e.g. a group now waiting); ``due_at``: when a waiting group
    should be looked at again.
    """

    alerts: tuple[Alert, ...]
    reason: str | None
    log: GroupLog
    due_at: datetime | None = None


def decide_flush(
    alerts: Sequence[Alert],
    log: GroupLog | None,
    timing: Timing,
    now: datetime,
    acknowledged: Set[str] = frozenset(),
) -> FlushDecision:
    """Decide whether a group notifies now (see module docstring).

    ``alerts`` are the group's unmuted alerts (firing and resolved; pending ones are
    ignored), ``acknowledged`` the fingerprints acknowledged by someone (they do not
    trigger repeats).
    """
    log = log or GroupLog()
    firing = {a.fingerprint: labels_hash(a) for a in alerts if a.is_firing}
    newly_resolved = [a for a in alerts if a.state == "resolved" and a.fingerprint in log.firing]
    fired = any(log.firing.get(fp) != h for fp, h in firing.items())
    repeat_due = (
        log.last_sent_at is not None
        and now >= log.last_sent_at + timing.repeat_interval
        and any(fp not in acknowledged for fp in firing)
    )
    if not fired and not newly_resolved and not repeat_due:
        if not firing and not log.firing:
            return FlushDecision((), None, GroupLog(sequence=log.sequence, last_sent_at=log.last_sent_at))
        return FlushDecision((), None, log)

    if not log.firing:  # a new group, or one that had resolved entirely
        first_seen = log.first_seen_at or now
        due = first_seen + timing.group_wait
        if log.last_sent_at is not None:
            due = max(due, log.last_sent_at + timing.group_interval)
        reason = "new"
    else:
        first_seen = log.first_seen_at
        due = log.last_sent_at + timing.group_interval if log.last_sent_at else now
        reason = "changed" if fired else "resolved" if newly_resolved else "repeat"
    if now < due:
        waiting = GroupLog(firing=log.firing, first_seen_at=first_seen, last_sent_at=log.last_sent_at,
                           sequence=log.sequence)
        return FlushDecision((), None, waiting, due_at=due)

    if not firing and not newly_resolved:
        return FlushDecision((), None, GroupLog(sequence=log.sequence, last_sent_at=log.last_sent_at))
    to_send = tuple(a for a in alerts if a.is_firing) + tuple(newly_resolved)
    sent = GroupLog(firing=firing, first_seen_at=None, last_sent_at=now, sequence=log.sequence + 1)
    return FlushDecision(to_send, reason, sent)
