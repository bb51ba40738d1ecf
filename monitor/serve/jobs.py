"""Running the scheduled jobs: persisted schedule, one leader, metrics, graceful stop.

* :class:`JobSpec` says what runs when (built from config by
  :func:`monitor.serve.scheduler.configured_jobs`).
* :class:`JobRunner` runs one job: job id in the log context, outcome counter and
  duration histogram, and a record of what is running so a shutdown can wait for it.
* :class:`BoundJobStore` is APScheduler's ``SQLAlchemyJobStore`` on chainwatch's
  own database (it creates its table ``apscheduler_jobs`` itself; no migration).
  Stored jobs refer to :func:`run_stored_job` by name; the store binds them to this
  process's runner when it loads them, so no application object is pickled.
* :class:`LeaderScheduler` starts APScheduler only while this process holds the
  leader lock (:mod:`monitor.serve.leadership`).

Missed runs: the store keeps each job's next run time. After a restart a job whose
stored next run time has passed runs once (``coalesce``; no ``misfire_grace_time``
limit on cron jobs), then follows its trigger: a monthly assessment missed while
the service was down runs once, not never and not twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from monitor.telemetry import logs
from monitor.clock import Clock, as_utc, system_clock
from monitor.serve.leadership import LeaderElector, LeaderLock
from monitor.telemetry.metrics import ServiceMetrics

log = logging.getLogger(__name__)
JOBSTORE_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: id (also its metrics label), trigger and what it does.

    ``misfire_grace_time`` None means "run however late" (right for cron jobs whose
    run must not be lost); interval jobs pass a bound since the next run comes soon.
    """

    id: str
    trigger: BaseTrigger
    action: Callable[[], object]
    misfire_grace_time: int | None = None


class JobRunner:
    """Runs jobs by id, with metrics and logging context, and tracks the running ones."""

    def __init__(self, jobs: list[JobSpec], metrics: ServiceMetrics | None = None,
                 timer: Callable[[], float] = time.monotonic):
        self.actions = {job.id: job.action for job in jobs}
        self._metrics = metrics
        self._timer = timer
        self._running: dict[str, float] = {}
        self._failing: dict[str, int] = {}  # job id -> failed runs in a row
        self._idle = threading.Condition()

    def __call__(self, job_id: str) -> None:
        """Run job ``job_id``; a failure is logged and counted, never raised into the scheduler.

        The first failure of a streak is logged with its traceback, the following ones
        in one line each, and the first success after them says the job recovered.
        """
        action = self.actions.get(job_id)
        if action is None:
            log.error("job %s is stored but not configured; skipped", job_id)
            return
        token = logs.job_id.set(job_id)
        start = self._timer()
        with self._idle:
            self._running[job_id] = start
        outcome = "success"
        try:
            log.info("job %s started", job_id)
            action()
        except Exception as err:  # a failing job must not kill the scheduler thread
            outcome = "failure"
            streak = self._failing.get(job_id, 0) + 1
            self._failing[job_id] = streak
            if streak == 1:
                log.exception("job %s failed", job_id)
            else:  # e.g. the database is down: one line per run, not a traceback every 30 s
                detail = (str(err).strip().splitlines() or [""])[0][:300]
                log.warning("job %s failed again (%d runs in a row): %s: %s", job_id, streak,
                            type(err).__name__, detail)
        else:
            streak = self._failing.pop(job_id, 0)
            if streak:
                log.info("job %s recovered after %d failed run(s)", job_id, streak)
        finally:
            elapsed = self._timer() - start
            if self._metrics is not None:
                self._metrics.jobs.labels(job_id, outcome).inc()
                self._metrics.job_seconds.labels(job_id).observe(elapsed)
            log.info("job %s finished: %s in %.2f s", job_id, outcome, elapsed)
            with self._idle:
                self._running.pop(job_id, None)
                self._idle.notify_all()
            logs.job_id.reset(token)

    def running(self) -> list[str]:
        """Ids of the jobs running now."""
        with self._idle:
            return sorted(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for running jobs to finish; True if none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, timeout=timeout)


def run_stored_job(job_id: str) -> None:
    """The callable every stored job names; :class:`BoundJobStore` replaces it on load.

    Raises
    ------
    RuntimeError
        When called directly: a job was loaded by a store that does not bind jobs.
    """
    raise RuntimeError(f"job {job_id!r} was loaded without a chainwatch job runner")


class BoundJobStore(SQLAlchemyJobStore):
    """A SQLAlchemy job store whose loaded jobs call this process's :class:`JobRunner`."""

    def __init__(self, engine: Engine, runner: JobRunner):
        super().__init__(engine=engine, tablename=JOBSTORE_TABLE)
        self._runner = runner

    def _reconstitute_job(self, job_state) -> Job:  # noqa: ANN001
        job = super()._reconstitute_job(job_state)
        job.func = self._runner  # func_ref stays "monitor.serve.jobs:run_stored_job", so it pickles as before
        return job


def _same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    return type(a) is type(b) and str(a) == str(b) and getattr(a, "interval", None) == getattr(b, "interval", None)


class LeaderScheduler:
    """APScheduler, started while this process is the leader, stopped gracefully.

    Parameters
    ----------
    engine
        Where the schedule is stored (the chainwatch database).
    jobs
        The configured jobs.
    lock
        The leader lock (see :func:`monitor.serve.leadership.leader_lock_for`).
    poll_seconds
        How often leadership is checked and sought.
    metrics
        Job counters and durations, and the leader gauge.
    clock
        Decides which stored run times count as missed when jobs are reconciled.
    """

    def __init__(self, engine: Engine, jobs: list[JobSpec], lock: LeaderLock, poll_seconds: float,
                 metrics: ServiceMetrics | None = None, clock: Clock = system_clock):
        self._engine = engine
        self._jobs = jobs
        self._metrics = metrics
        self._clock = clock
        self.runner = JobRunner(jobs, metrics)
        if metrics is not None:  # every job's outcomes exist from the start, so "failed jobs" reads 0, not no data
            for job in jobs:
                for outcome in ("success", "failure"):
                    metrics.jobs.labels(job.id, outcome)
        self.elector = LeaderElector(lock, poll_seconds, self._on_elected, self._on_deposed)
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self.stopping = False
        self.started = False

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Compete for leadership (and start the jobs if this process wins)."""
        self.started = True
        self.elector.start()

    def stop(self, grace_seconds: float) -> bool:
        """Stop taking jobs, wait up to ``grace_seconds`` for a running one, release the lock.

        Returns True when no job was left running. A job still running after the
        grace period is abandoned by the caller exiting the process: every storage
        write is one transaction, so nothing is half-written, and a notification
        being sent is retried by the next leader once its lease lapses.
        """
        self.stopping = True
        self.elector.stop()
        self._shutdown_scheduler()
        running = self.runner.running()
        if running:
            log.info("shutdown: waiting up to %.0f s for running job(s) %s", grace_seconds, ", ".join(running))
        finished = self.runner.wait_idle(grace_seconds)
        if finished:
            self.elector.lock.release()
        else:
            log.error("shutdown: job(s) %s still running after %.0f s; abandoning them (their transactions roll back)",
                      ", ".join(self.runner.running()), grace_seconds)
        if self._metrics is not None:
            self._metrics.leader.set(0)
        return finished

    def state(self) -> dict:
        """Role and health of the scheduler, for ``/readyz``.

        ``ok`` is False only when this process is leader but its scheduler is not
        running (it died); a follower is healthy.
        """
        role = "stopping" if self.stopping else ("leader" if self.elector.is_leader else "follower")
        scheduler = self._scheduler
        running = scheduler is not None and scheduler.running
        ok = not self.started or self.stopping or role == "follower" or running
        state = {"role": role, "lock": self.elector.lock.description, "running_jobs": self.runner.running(),
                 "ok": ok}
        if running:
            upcoming = [j.next_run_time for j in scheduler.get_jobs() if j.next_run_time is not None]
            if upcoming:
                state["next_run_at"] = as_utc(min(upcoming)).isoformat()
        return state

    # --- leadership callbacks ---------------------------------------------------------

    def _on_elected(self) -> None:
        with self._lock:
            if self.stopping:
                return
            scheduler = BackgroundScheduler(
                timezone="UTC", jobstores={"default": BoundJobStore(self._engine, self.runner)},
                job_defaults={"coalesce": True, "max_instances": 1})
            scheduler.start(paused=True)
            try:
                self._reconcile(scheduler)
            except Exception:
                scheduler.shutdown(wait=False)
                raise
            scheduler.resume()
            self._scheduler = scheduler
            if self._metrics is not None:
                self._metrics.leader.set(1)
            log.info("scheduler started with jobs: %s", ", ".join(j.id for j in self._jobs))
            for job in scheduler.get_jobs():
                when = "none" if job.next_run_time is None else as_utc(job.next_run_time).isoformat()
                log.info("job %s: next run %s", job.id, when)

    def _on_deposed(self) -> None:
        self._shutdown_scheduler()
        if self._metrics is not None:
            self._metrics.leader.set(0)

    def _shutdown_scheduler(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)  # no new job starts; a running one continues

    def _reconcile(self, scheduler: BackgroundScheduler) -> None:
        """Make the stored jobs match the configured ones, keeping stored (possibly missed) run times."""
        now = self._clock()
        configured = {job.id for job in self._jobs}
        for stored in scheduler.get_jobs():
            if stored.id not in configured:
                log.info("scheduler: removing job %s (no longer configured)", stored.id)
                scheduler.remove_job(stored.id)
        for job in self._jobs:
            stored = scheduler.get_job(job.id)
            options = {}
            if stored is not None and stored.next_run_time is not None:
                due = as_utc(stored.next_run_time)
                if due <= now:
                    log.warning("scheduler: job %s missed its run at %s; running it once now", job.id, due.isoformat())
                    options["next_run_time"] = due
                elif _same_trigger(stored.trigger, job.trigger):
                    options["next_run_time"] = due
            scheduler.add_job("monitor.serve.jobs:run_stored_job", job.trigger, args=(job.id,), id=job.id, name=job.id,
                              replace_existing=True, misfire_grace_time=job.misfire_grace_time, **options)


def next_run_times(engine: Engine) -> dict[str, datetime | None]:
    """Stored next run time of every job (for operators and tests)."""
    from sqlalchemy import MetaData, Table, inspect, select

    if not inspect(engine).has_table(JOBSTORE_TABLE):
        return {}
    table = Table(JOBSTORE_TABLE, MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.next_run_time)).all()
    return {job_id: None if ts is None else datetime.fromtimestamp(ts, timezone.utc) for job_id, ts in rows}
