"""What the ``chainwatch alerts`` and ``chainwatch silence`` commands do (text out).

Kept apart from :mod:`monitor.cli.main` (argument parsing only) so the future HTTP API can
call the same functions.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.matchers import parse_matchers
from monitor.clock import Clock, as_utc, system_clock
from monitor.clock import parse_duration
from monitor.store import alert_store
from monitor.store.tables import AlertRecord


def _ts(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def list_alerts(sessions: sessionmaker[Session], state: str | None, fmt: str) -> str:
    """Stored alerts; default: firing and pending."""
    with sessions() as session:
        query = select(AlertRecord).order_by(AlertRecord.state, AlertRecord.starts_at)
        if state is None:
            query = query.where(AlertRecord.state.in_(["firing", "pending"]))
        elif state != "all":
            query = query.where(AlertRecord.state == state)
        records = list(session.scalars(query))
    rows = [{
        "fingerprint": r.fingerprint, "state": r.state, "chain": r.labels.get("chain", ""),
        "node": r.labels.get("node", ""), "kind": r.labels.get("kind", ""), "severity": r.labels.get("severity", ""),
        "starts_at": _ts(r.starts_at), "ends_at": _ts(r.ends_at) or None,
        "acknowledged_by": r.acknowledged_by, "acknowledged_at": _ts(r.acknowledged_at) or None,
        "summary": r.annotations.get("summary", ""),
    } for r in records]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    if not rows:
        return "no alerts"
    lines = [f"{'FINGERPRINT':16}  {'STATE':8}  {'SEVERITY':8}  {'CHAIN':16}  {'NODE':20}  {'SINCE':20}  ACK"]
    for r in rows:
        ack = f"{r['acknowledged_by']} {r['acknowledged_at']}" if r["acknowledged_by"] else "-"
        lines.append(f"{r['fingerprint']:16}  {r['state']:8}  {r['severity']:8}  {r['chain']:16}  "
                     f"{r['node'] or '(chain)':20}  {r['starts_at']:20}  {ack}")
    return "\n".join(lines)


def acknowledge_alert(sessions: sessionmaker[Session], prefix: str, by: str, comment: str | None,
                      clock: Clock = system_clock) -> str:
    """Acknowledge an alert's current episode."""
    with sessions.begin() as session:
        record = alert_store.acknowledge(session, prefix, by, clock(), comment)
        return f"acknowledged {record.fingerprint} ({record.labels.get('chain')}/{record.labels.get('node') or '-'}) " \
               f"by {by} at {_ts(record.acknowledged_at)}"


def add_silence(sessions: sessionmaker[Session], matchers: list[str], by: str, comment: str, duration: str,
                start: str | None, clock: Clock = system_clock) -> str:
    """Create a silence from matcher strings; returns its id."""
    now = clock()
    parsed = [m for text in matchers for m in parse_matchers(text)]  # 'chain="x" node="y"' is two
    starts = now
    if start:
        try:
            starts = datetime.fromisoformat(start)
        except ValueError:
            raise ValueError(f"--start {start!r} is not an ISO 8601 time") from None
        starts = starts.replace(tzinfo=starts.tzinfo or timezone.utc).astimezone(timezone.utc)
    length = parse_duration(duration)
    with sessions.begin() as session:
        silence = alert_store.add_silence(session, parsed, starts, starts + length, by, comment, now)
    return f"silence {silence.id} until {_ts(silence.ends_at)}"


def list_silences(sessions: sessionmaker[Session], include_expired: bool, fmt: str,
                  clock: Clock = system_clock) -> str:
    """Silences with their state."""
    now = clock()
    with sessions() as session:
        silences = alert_store.list_silences(session, now, include_expired)
    rows = [{"id": s.id, "state": s.state(now), "matchers": [str(m) for m in s.matchers],
             "starts_at": _ts(s.starts_at), "ends_at": _ts(s.ends_at), "created_by": s.created_by,
             "comment": s.comment} for s in silences]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    if not rows:
        return "no silences"
    return "\n".join(f"{r['id']}  {r['state']:8}  {r['ends_at']}  {' '.join(r['matchers'])}  "
                     f"by {r['created_by']}: {r['comment']}" for r in rows)


def expire_silence(sessions: sessionmaker[Session], silence_id: str, clock: Clock = system_clock) -> str:
    """End a silence now."""
    with sessions.begin() as session:
        silence = alert_store.expire_silence(session, silence_id, clock())
    return f"silence {silence.id} expired at {_ts(silence.ends_at)}"
