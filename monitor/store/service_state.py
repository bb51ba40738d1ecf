"""Cheap reads of everything ``/metrics`` shows, as plain data.

Two reads, split by how often their result changes:

* :func:`read_live_state` runs on every scrape: a handful of aggregate queries over
  indexed columns (the latest run's id and status, run and collection counts, the
  outbox, alerts). No ORM objects, no model computation.
* :func:`read_run_state` reads what one *completed* assessment run stored (scores,
  findings' data periods and counts). A completed run never changes, so the metrics
  collector reads it once per run, not once per scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, null, select
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.store.tables import AlertRecord, AssessmentRun, CollectorRun, Finding, OutboxMessage, RiskScore


@dataclass(frozen=True)
class RunKey:
    """Identifies the content of a completed run (the id alone could repeat in a re-created database)."""

    run_id: int
    finished_at: datetime


@dataclass(frozen=True)
class ScoreRow:
    """One stored risk score: ``node == ""`` for the chain itself."""

    chain: str
    node: str
    dimension: str
    score: float | None
    level: str
    completeness: float | None
    details: dict | None = None
    """Measured values behind the score (concentration: hhi, top_share, top_partners); only
    the concentration dimension's are read by :func:`read_run_state`."""


@dataclass(frozen=True)
class RunState:
    """What one successful assessment run stored, as metrics need it."""

    key: RunKey
    as_of: date | None
    duration_seconds: float
    scores: list[ScoreRow]
    node_data_periods: dict[tuple[str, str], date]
    """(chain, node) → latest month with an observation among the series the run judged."""
    findings: dict[tuple[str, str, str], int]
    """(chain, method, status) → number of findings."""


@dataclass(frozen=True)
class LiveState:
    """The parts of the stored state that change between assessments."""

    latest_run: RunKey | None = None
    """The latest *successful* run; a later failure does not hide its scores."""
    last_run_status: str | None = None
    """Status of the most recent assessment run of any status."""
    runs_by_status: dict[str, int] = field(default_factory=dict)
    collector_runs: dict[tuple[str, str], int] = field(default_factory=dict)
    """(source, status) → number of recorded collections."""
    collector_last_success: dict[str, datetime] = field(default_factory=dict)
    collector_last_status: dict[str, str] = field(default_factory=dict)
    """source → status of its most recent collection."""
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    """(receiver, status) → number of outbox messages."""
    outbox_oldest_pending: dict[str, datetime] = field(default_factory=dict)
    """receiver → creation time of its oldest pending message."""
    alerts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(chain, state, severity) → number of alerts."""


def read_live_state(session: Session) -> LiveState:
    """Read the frequently changing state (nine small aggregate queries)."""
    latest = session.execute(
        select(AssessmentRun.id, AssessmentRun.finished_at).where(AssessmentRun.status == "succeeded")
        .order_by(AssessmentRun.id.desc()).limit(1)
    ).first()
    last_status = session.scalar(select(AssessmentRun.status).order_by(AssessmentRun.id.desc()).limit(1))
    runs = dict(session.execute(
        select(AssessmentRun.status, func.count()).group_by(AssessmentRun.status)).all())

    collector_runs: dict[tuple[str, str], int] = {}
    last_success: dict[str, datetime] = {}
    for source, status, count, finished in session.execute(
        select(CollectorRun.source, CollectorRun.status, func.count(), func.max(CollectorRun.finished_at))
        .group_by(CollectorRun.source, CollectorRun.status)
    ):
        collector_runs[(source, status)] = count
        if status == "succeeded" and finished is not None:
            last_success[source] = as_utc(finished)
    newest = select(func.max(CollectorRun.id)).group_by(CollectorRun.source).scalar_subquery()
    last_collector_status = dict(session.execute(
        select(CollectorRun.source, CollectorRun.status).where(CollectorRun.id.in_(newest))).all())

    outbox = {(receiver, status): count for receiver, status, count in session.execute(
        select(OutboxMessage.receiver, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.receiver, OutboxMessage.status))}
    oldest = {receiver: as_utc(created) for receiver, created in session.execute(
        select(OutboxMessage.receiver, func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == "pending").group_by(OutboxMessage.receiver))}

    alerts: dict[tuple[str, str, str], int] = {}
    # Labels are JSON, which SQLite and PostgreSQL group differently; the table holds
    # one row per (rule, chain, node) at most, so counting in Python stays cheap.
    for labels, state in session.execute(select(AlertRecord.labels, AlertRecord.state)):
        key = (str(labels.get("chain", "")), state, str(labels.get("severity", "")))
        alerts[key] = alerts.get(key, 0) + 1

    return LiveState(
        latest_run=None if latest is None else RunKey(latest[0], as_utc(latest[1])),
        last_run_status=last_status, runs_by_status=runs, collector_runs=collector_runs,
        collector_last_success=last_success, collector_last_status=last_collector_status,
        outbox=outbox, outbox_oldest_pending=oldest, alerts=alerts,
    )


def read_run_state(session: Session, key: RunKey) -> RunState:
    """Read the scores, data periods and finding counts of the completed run ``key``."""
    as_of, duration = session.execute(
        select(AssessmentRun.as_of, AssessmentRun.duration_seconds).where(AssessmentRun.id == key.run_id)).one()
    # Core rows, not ORM ones (thousands of rows per run); metrics use the details of
    # the concentration dimension only, so the others' JSON is neither sent nor parsed.
    connection = session.connection()
    details = case((RiskScore.dimension == "concentration", RiskScore.details), else_=null()).label("details")
    scores = [ScoreRow(*row) for row in connection.execute(
        select(RiskScore.chain, RiskScore.node, RiskScore.dimension, RiskScore.score, RiskScore.level,
               RiskScore.completeness, details)
        .where(RiskScore.run_id == key.run_id)).all()]
    periods = {(chain, node): period for chain, node, period in session.execute(
        select(Finding.chain, Finding.node, func.max(Finding.period))
        # A "missing" verdict judged a month without an observation: not data.
        .where(Finding.run_id == key.run_id, Finding.status != "missing")
        .group_by(Finding.chain, Finding.node)) if period is not None}
    findings = {(chain, method, status): count for chain, method, status, count in session.execute(
        select(Finding.chain, Finding.method, Finding.status, func.count())
        .where(Finding.run_id == key.run_id).group_by(Finding.chain, Finding.method, Finding.status))}
    return RunState(key=key, as_of=as_of, duration_seconds=duration or 0.0, scores=scores,
                    node_data_periods=periods, findings=findings)
