"""Assessment runs, their findings and risk scores."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import as_utc
from monitor.store.tables import AssessmentRun, Finding, RiskScore
from monitor.store.upsert import bulk_insert

log = logging.getLogger(__name__)

RUN_STATUSES: tuple[str, ...] = ("running", "succeeded", "failed", "abandoned")
"""Every status an assessment run can have (``abandoned``: its process died mid-run)."""


@dataclass(frozen=True)
class StoredScore:
    """A risk score as read back from storage."""

    chain: str
    node: str
    dimension: str
    score: float | None
    level: str
    drivers: list
    raw_level: str = ""
    completeness: float = 1.0
    drivers_zh: list | None = None
    details: dict | None = None
    """The numbers behind a dimension's score, or why it is missing (``{"missing": ...}``)."""


def _stored(row: RiskScore) -> StoredScore:
    return StoredScore(row.chain, row.node, row.dimension, row.score, row.level, list(row.drivers or []),
                       row.raw_level or "", row.completeness if row.completeness is not None else 1.0,
                       list(row.drivers_zh or []), row.details)


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
        if run.status == "abandoned":
            # It outlived assessment.abandon_after_hours; its results are still whole and valid.
            log.warning("assessment run %d finished after it had been marked abandoned; stored as succeeded", run_id)
            run.error = None
        if findings:
            # A national catalog writes 100k findings per run: in bulk through the driver
            # (COPY on PostgreSQL), where SQLAlchemy's per-row parameter handling alone
            # took seconds.
            rows = pd.DataFrame.from_records(findings, columns=list(findings[0]))
            rows.insert(0, "run_id", run_id)
            bulk_insert(session, Finding.__table__, rows)
        # Core executemany, one per set of columns given (a column left out gets its
        # default, as with the ORM): as ORM objects each row was its own INSERT.
        by_columns: dict[tuple[str, ...], list[dict]] = {}
        for s in scores:
            by_columns.setdefault(tuple(s), []).append({"run_id": run_id, **s})
        for rows in by_columns.values():
            session.execute(insert(RiskScore), rows)
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


def abandon_stale_runs(sessions: sessionmaker[Session], max_age: timedelta, now: datetime) -> list[int]:
    """Mark runs still ``running`` that started more than ``max_age`` before ``now`` as ``abandoned``.

    A process killed mid-assessment (SIGKILL, power loss) leaves its run ``running``
    with no findings or scores. This is one conditional ``UPDATE``, so two instances
    doing it at once mark each run once, and a run that finishes meanwhile keeps its
    status. A run younger than ``max_age`` is never touched: with ``max_age`` well
    above the longest run, a run still being executed elsewhere keeps ``running``.
    ``finished_at`` is when it was marked and ``error`` says why; its duration stays
    empty (when the process died is unknown). Returns the ids marked, ascending.
    """
    reason = (f"still running {max_age.total_seconds() / 3600:g} h after it started: its process presumably "
              "died mid-run (no findings or scores were stored)")
    with sessions.begin() as session:
        ids = session.scalars(
            update(AssessmentRun)
            .where(AssessmentRun.status == "running", AssessmentRun.started_at < now - max_age)
            .values(status="abandoned", finished_at=now, error=reason)
            .returning(AssessmentRun.id),
            execution_options={"synchronize_session": False}).all()
    return sorted(ids)


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
        scores=[_stored(s) for s in scores],
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


@dataclass(frozen=True)
class RunInfo:
    """An assessment run's provenance and timing."""

    id: int
    as_of: date | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    status: str
    config_hash: str


def _info(run: AssessmentRun) -> RunInfo:
    return RunInfo(run.id, run.as_of, as_utc(run.started_at), as_utc(run.finished_at), run.duration_seconds,
                   run.status, run.config_hash)


def get_run(session: Session, run_id: int | None = None) -> RunInfo | None:
    """Run ``run_id``, or the latest successful run when None."""
    if run_id is not None:
        run = session.get(AssessmentRun, run_id)
    else:
        run = session.scalars(select(AssessmentRun).where(AssessmentRun.status == "succeeded")
                              .order_by(AssessmentRun.id.desc()).limit(1)).first()
    return None if run is None else _info(run)


def previous_successful_run(session: Session, run_id: int) -> RunInfo | None:
    """The successful run just before ``run_id``."""
    run = session.scalars(select(AssessmentRun).where(AssessmentRun.status == "succeeded", AssessmentRun.id < run_id)
                          .order_by(AssessmentRun.id.desc()).limit(1)).first()
    return None if run is None else _info(run)


def run_scores(session: Session, run_id: int) -> list[StoredScore]:
    """Every stored score of a run."""
    return [_stored(r) for r in session.scalars(select(RiskScore).where(RiskScore.run_id == run_id))]


def flagged_periods(session: Session, up_to_run_id: int) -> dict[str, set[date]]:
    """Per series, the periods judged as downward disruptions by runs up to ``up_to_run_id``."""
    rows = session.execute(select(Finding.series_id, Finding.period).where(
        Finding.run_id <= up_to_run_id, Finding.status == "flagged", Finding.direction == "down")).all()
    flagged: dict[str, set[date]] = {}
    for series_id, period in rows:
        if period is not None:
            flagged.setdefault(series_id, set()).add(period)
    return flagged
