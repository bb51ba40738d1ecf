"""What the ``chainwatch alerts`` and ``chainwatch silence`` commands do (text out).

Kept apart from :mod:`monitor.cli.main` (argument parsing only) so the future HTTP API can
call the same functions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone

from rich.text import Text

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.matchers import parse_matchers
from monitor.cli.terminal import Layouts, level_text, new_table, render
from monitor.clock import Clock, as_utc, system_clock
from monitor.clock import parse_duration
from monitor.store import alert_store
from monitor.store.tables import AlertRecord


def _ts(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def list_alerts(sessions: sessionmaker[Session], state: str | None, fmt: str, wide: bool = False,
                width: int | None = None) -> str:
    """Stored alerts; default: firing and pending.

    The table (for people) names chains and nodes, shows each alert's level and score
    and ends with a one-line count; the JSON (docs/cli.md) is unchanged.
    """
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
        return "no alerts" + ("" if state == "all" else f" ({state or 'firing or pending'})")
    return alerts_list_table(records, wide=wide, width=width)


def alerts_list_table(records: Sequence[AlertRecord], wide: bool = False, width: int | None = None) -> str:
    """The table of ``alerts list``: one row per alert, then a one-line count.

    Kinds such as ``production_concentration`` are one long word, so below about 110
    columns the nine columns cannot all fit whole: the table then stacks the score under
    the level, node and kind under the chain, and the fingerprint under the time (also
    wherever that takes fewer lines).
    """
    one_line = {"no_wrap": True}
    full = new_table(["level", ("score", {"justify": "right"}), "state", "chain", "node", "kind",
                      ("since (UTC)", one_line), "fingerprint", "ack"], wide=wide)
    compact = new_table(["level / score", "state", "alert", ("since (UTC) / id", one_line)], wide=wide)
    for r in records:
        labels, notes = r.labels, r.annotations
        level = level_text(labels.get("level") or notes.get("level") or labels.get("severity", ""))
        score = notes.get("score", "") or "-"
        chain = notes.get("chain_name") or labels.get("chain", "")
        node = notes.get("node_name") or labels.get("node") or "(whole chain)"
        kind = labels.get("kind", "")
        since = as_utc(r.starts_at).strftime("%Y-%m-%d %H:%M") if r.starts_at else ""
        # A unique prefix is enough for `alerts ack`; 12 hex digits keep the table narrow.
        fingerprint, ack = r.fingerprint[:12], r.acknowledged_by or "-"
        full.add_row(level, score, r.state, chain, node, kind, since, fingerprint, ack)
        acked = f"\nacknowledged by {r.acknowledged_by}" if r.acknowledged_by else ""
        compact.add_row(Text.assemble(level, f"\n{score}"), r.state, f"{chain} / {node}\n{kind}{acked}",
                        f"{since}\n{fingerprint}")
    counts = Counter(r.state for r in records)
    summary = f"{len(records)} alert(s): " + ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return render(Layouts(full, compact), "", summary, wide=wide, width=width)


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
                  clock: Clock = system_clock, wide: bool = False, width: int | None = None) -> str:
    """Silences with their state (a table and a one-line count; JSON as in docs/cli.md)."""
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
    table = new_table([("id", {"no_wrap": True}), "state", "until", "matchers", "by", "comment"], wide=wide)
    for r in rows:
        table.add_row(r["id"], r["state"], r["ends_at"], " ".join(r["matchers"]), r["created_by"], r["comment"])
    counts = Counter(r["state"] for r in rows)
    summary = f"{len(rows)} silence(s): " + ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return render(table, "", summary, wide=wide, width=width)


def expire_silence(sessions: sessionmaker[Session], silence_id: str, clock: Clock = system_clock) -> str:
    """End a silence now."""
    with sessions.begin() as session:
        silence = alert_store.expire_silence(session, silence_id, clock())
    return f"silence {silence.id} expired at {_ts(silence.ends_at)}"
