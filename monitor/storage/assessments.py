"""Assessment runs, their findings and risk scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import as_utc
from monitor.storage.tables import AssessmentRun, Finding, RiskScore


@dataclass(frozen=True)
class StoredScore:
    """A risk score as read back from storage."""

    chain: str
    node: str
    dimension: str
    score: float | None
    level: str
    drivers: list


@dataclass(frozen=True)
class PreviousScore:
    """What the previous successful run reported for a chain or node (for hysteresis and change)."""

    score: float | None
    level: str
    runs_below: int


@dataclass(frozen=True)
class LatestAssessment:
    """The latest successful run and its scores (what metrics and the API show)."""

    run_id: int
    as_of: date | None
    finished_at: datetime
    duration_seconds: float
    scores: list[StoredScore]


def start_run(sessions: sessionmaker[Session], config_hash: str, now: datetime) -> int:
    """Record a run as ``running`` and return its id."""
    with sessions.begin() as session:
        run = AssessmentRun(started_at=now, status="running", config_hash=config_hash)
        session.add(run)
        session.flush()
        return run.id


def complete_run(
    sessions: sessionmaker[Session], run_id: int, as_of: date | None, findings: list[dict],
    scores: list[dict], now: datetime,
) -> None:
    """Store findings and scores and mark the run succeeded, all in one transaction."""
    with sessions.begin() as session:
        run = session.get(AssessmentRun, run_id)
        session.add_all(Finding(run_id=run_id, **f) for f in findings)
        session.add_all(RiskScore(run_id=run_id, **s) for s in scores)
        run.as_of = as_of
        run.status = "succeeded"
        run.finished_at = now
        run.duration_seconds = (now - as_utc(run.started_at)).total_seconds()


def fail_run(sessions: sessionmaker[Session], run_id: int, error: str, now: datetime) -> None:
    """Mark a run failed; it keeps no findings or scores."""
    with sessions.begin() as session:
        run = session.get(AssessmentRun, run_id)
        run.status = "failed"
        run.error = error[:2000]
        run.finished_at = now
        run.duration_seconds = (now - as_utc(run.started_at)).total_seconds()


def latest_assessment(session: Session) -> LatestAssessment | None:
    """The most recent successful run with its scores, or None."""
    run = session.scalars(
        select(AssessmentRun).where(AssessmentRun.status == "succeeded")
        .order_by(AssessmentRun.id.desc()).limit(1)
    ).first()
    if run is None:
        return None
    scores = session.scalars(select(RiskScore).where(RiskScore.run_id == run.id)).all()
    return LatestAssessment(
        run_id=run.id, as_of=run.as_of, finished_at=as_utc(run.finished_at),
        duration_seconds=run.duration_seconds or 0.0,
        scores=[StoredScore(s.chain, s.node, s.dimension, s.score, s.level, list(s.drivers or []))
                for s in scores],
    )


def last_run_status(session: Session) -> tuple[str, datetime | None] | None:
    """Status and finish time of the most recent run of any status."""
    run = session.scalars(select(AssessmentRun).order_by(AssessmentRun.id.desc()).limit(1)).first()
    return None if run is None else (run.status, as_utc(run.finished_at))


def previous_scores(session: Session) -> dict[tuple[str, str], PreviousScore]:
    """Overall score, level and hysteresis count per (chain, node) of the last successful run."""
    run_id = session.scalar(
        select(AssessmentRun.id).where(AssessmentRun.status == "succeeded").order_by(AssessmentRun.id.desc()).limit(1))
    if run_id is None:
        return {}
    rows = session.scalars(select(RiskScore).where(RiskScore.run_id == run_id, RiskScore.dimension == "overall"))
    return {(r.chain, r.node): PreviousScore(r.score, r.level, r.runs_below or 0) for r in rows}
