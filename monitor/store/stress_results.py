"""Stress-test suite runs and their results (tables ``stress_runs``, ``stress_results``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import as_utc
from monitor.store.tables import StressResult, StressRun


@dataclass(frozen=True)
class StressRunInfo:
    """A stored stress-suite run."""

    id: int
    status: str
    as_of: date | None
    started_at: datetime
    finished_at: datetime | None
    scenarios: list[dict]
    error: str | None


@dataclass(frozen=True)
class StoredStressResult:
    """One stored result: a node of a chain, or (``node == ""``) the chain itself."""

    scenario: str
    chain: str
    node: str
    impact_score: float
    level: str
    peak_shortfall: float
    time_to_impact_months: int | None
    months_to_recovery: int | None
    monthly: list | None
    value_at_risk_usd: float | None = None
    """USD; None for runs stored before migration 0011."""
    time_to_survive_months: int | None = None
    """None: no shortfall within the horizon (or a run stored before 0011)."""
    time_to_recover_months: int | None = None
    """0: never hit; None: not recovered within the horizon (or a run stored before 0011)."""
    path: list | None = None
    """Nodes the loss came through (``chain/node``), this node first; chain rows: None."""


def start_stress_run(sessions: sessionmaker[Session], config_hash: str, now: datetime) -> int:
    """Record a suite run as ``running`` and return its id."""
    with sessions.begin() as session:
        run = StressRun(started_at=now, status="running", config_hash=config_hash, scenarios=[])
        session.add(run)
        session.flush()
        return run.id


def complete_stress_run(sessions: sessionmaker[Session], run_id: int, now: datetime, as_of: date | None,
                        scenarios: list[dict], results: Iterable[dict]) -> None:
    """Store every result and mark the run ``succeeded``, in one transaction."""
    with sessions.begin() as session:
        session.add_all(StressResult(run_id=run_id, **row) for row in results)
        run = session.get(StressRun, run_id)
        run.status, run.finished_at, run.as_of, run.scenarios = "succeeded", now, as_of, scenarios


def fail_stress_run(sessions: sessionmaker[Session], run_id: int, now: datetime, error: str) -> None:
    """Mark the run ``failed`` (it keeps no results)."""
    with sessions.begin() as session:
        run = session.get(StressRun, run_id)
        run.status, run.finished_at, run.error = "failed", now, error[:2000]


def latest_stress_run(session: Session) -> StressRunInfo | None:
    """The latest *successful* suite run, or None."""
    run = session.scalar(select(StressRun).where(StressRun.status == "succeeded")
                         .order_by(StressRun.id.desc()).limit(1))
    if run is None:
        return None
    return StressRunInfo(run.id, run.status, run.as_of, as_utc(run.started_at), as_utc(run.finished_at),
                         list(run.scenarios or []), run.error)


def latest_stress_key(session: Session) -> tuple[int, datetime] | None:
    """(id, finished_at) of the latest successful suite run: a cheap query for per-scrape checks."""
    row = session.execute(select(StressRun.id, StressRun.finished_at).where(StressRun.status == "succeeded")
                          .order_by(StressRun.id.desc()).limit(1)).first()
    return None if row is None else (row[0], as_utc(row[1]))


def stress_results(session: Session, run_id: int, with_monthly: bool = True) -> list[StoredStressResult]:
    """The results of suite run ``run_id`` (monthly paths only when asked)."""
    columns = [StressResult.scenario, StressResult.chain, StressResult.node, StressResult.impact_score,
               StressResult.level, StressResult.peak_shortfall, StressResult.time_to_impact_months,
               StressResult.months_to_recovery, StressResult.value_at_risk_usd,
               StressResult.time_to_survive_months, StressResult.time_to_recover_months, StressResult.path]
    query = select(*columns, StressResult.monthly if with_monthly else StressResult.id).where(
        StressResult.run_id == run_id).order_by(StressResult.id)
    return [StoredStressResult(*row[:8], monthly=row[12] if with_monthly else None, value_at_risk_usd=row[8],
                               time_to_survive_months=row[9], time_to_recover_months=row[10], path=row[11])
            for row in session.execute(query)]
