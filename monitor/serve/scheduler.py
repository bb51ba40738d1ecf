"""The job schedule of ``chainwatch run`` (APScheduler 3.x).

Jobs: one collection per source (its cron), the assessment with alert evaluation
(its cron), the report (its cron), the stress suite (its cron), the notification
dispatcher (every ``scheduler.dispatch_interval_seconds``, default 30 s), the stale-run
check (every ``scheduler.stale_run_check_minutes``, default 60) and, with
``scheduler.bootstrap`` (default on), a one-off ``bootstrap`` job at start that fills
whatever is missing (an assessment, a stress suite, a report) instead of leaving a
fresh service empty until the first cron runs. ``coalesce`` and
``max_instances=1`` mean a job that fell behind runs once, never twice at a time.
How they run (persisted next runs, one leader among replicas, graceful stop):
:mod:`monitor.serve.jobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App
from monitor.stress.runs import run_stress_suite
from monitor.serve.jobs import JobSpec, LeaderScheduler
from monitor.serve.leadership import leader_lock_for

log = logging.getLogger(__name__)
DISPATCH_INTERVAL_SECONDS = 30


def _guarded(app: App, job: str, action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        except Exception:  # a failing job must not kill the scheduler thread
            app.metrics.jobs.labels(job, "failure").inc()
            log.exception("job %s failed", job)
        else:
            app.metrics.jobs.labels(job, "success").inc()
    return run


def _assess_and_alert(app: App) -> None:
    result = app.assess()
    app.alerting.evaluate(result)
    app.alerting.deliver_due()


def _write_scheduled_report(app: App) -> None:
    """Write the latest run's report to ``<out_dir>/run-<id>/`` (skipped if written already)."""
    from monitor.store.assessments import get_run

    with app.sessions() as session:
        run = get_run(session)
    if run is None:
        log.info("report: no successful assessment yet, nothing to report")
        return
    target = Path(app.config.settings.report.out_dir) / f"run-{run.id}"
    if (target / "report.html").is_file():
        return
    log.info("report: %s", app.write_report(target, run.id))


def bootstrap(app: App) -> None:
    """Fill what a fresh database lacks, in pipeline order; each step only when its result is missing.

    No successful assessment: collect every source, assess and evaluate alerts. No
    stored stress suite: run and store it. No report of the latest run: write it.
    A restart on a filled database therefore does nothing here.
    """
    from monitor.store.assessments import get_run
    from monitor.store.stress_results import latest_stress_run

    with app.sessions() as session:
        assessed = get_run(session) is not None
        stressed = latest_stress_run(session) is not None
    if not assessed:
        log.info("bootstrap: nothing assessed yet: collecting every source and assessing now")
        app.collect_all()
        _assess_and_alert(app)
    if not stressed:
        log.info("bootstrap: no stored stress suite: running it now")
        run_stress_suite(app.config, app.sessions, app.clock)
    _write_scheduled_report(app)


def configured_jobs(app: App) -> list[JobSpec]:
    """Every job of ``app``'s config: what ``chainwatch run``'s leader schedules.

    Cron jobs run however late they are (a missed monthly run must not be lost; the
    job store coalesces several missed runs into one); the dispatcher is an interval
    job whose next run comes soon anyway.
    """
    settings = app.config.settings
    jobs = [JobSpec(f"collect:{source.id}", CronTrigger.from_crontab(source.schedule, timezone="UTC"),
                    lambda sid=source.id: app.collect(sid))
            for source in app.config.sources.sources]
    jobs.append(JobSpec("assess", CronTrigger.from_crontab(settings.assessment.schedule, timezone="UTC"),
                        lambda: _assess_and_alert(app)))
    jobs.append(JobSpec("report", CronTrigger.from_crontab(settings.report.schedule, timezone="UTC"),
                        lambda: _write_scheduled_report(app)))
    jobs.append(JobSpec("stress", CronTrigger.from_crontab(settings.stress.schedule, timezone="UTC"),
                        lambda: run_stress_suite(app.config, app.sessions, app.clock)))
    jobs.append(JobSpec("dispatch", IntervalTrigger(seconds=settings.scheduler.dispatch_interval_seconds),
                        app.alerting.deliver_due, misfire_grace_time=60))
    # Between assessments (daily, or rarer), a run whose process died would show as
    # running until the next one: the metrics and the API would say "in progress".
    jobs.append(JobSpec("abandon-stale-runs", IntervalTrigger(minutes=settings.scheduler.stale_run_check_minutes),
                        app.abandon_stale_runs, misfire_grace_time=60))
    if settings.scheduler.bootstrap:
        jobs.append(JobSpec("bootstrap", DateTrigger(run_date=app.clock()), lambda: bootstrap(app)))
    return jobs


def build_leader_scheduler(app: App, jobs: list[JobSpec] | None = None) -> LeaderScheduler:
    """The persistent, leader-elected scheduler of ``chainwatch run`` (not started)."""
    poll = app.config.settings.scheduler.leader_poll_seconds
    return LeaderScheduler(app.engine, configured_jobs(app) if jobs is None else jobs,
                           leader_lock_for(app.engine, poll), poll, app.metrics, app.clock)


def build_scheduler(app: App) -> BackgroundScheduler:
    """An in-memory scheduler with every job of ``app``'s config (not started; no leader election)."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job in configured_jobs(app):
        scheduler.add_job(_guarded(app, job.id, job.action), job.trigger, id=job.id,
                          misfire_grace_time=job.misfire_grace_time)
    return scheduler
