"""The job schedule of ``chainwatch run`` (APScheduler 3.x).

Jobs: one collection per source (its cron), the assessment with alert evaluation
(its cron), the report (its cron) and the notification dispatcher (every 30 s). ``coalesce`` and
``max_instances=1`` mean a job that fell behind runs once, never twice at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App

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
    from monitor.storage.assessments import get_run

    with app.sessions() as session:
        run = get_run(session)
    if run is None:
        log.info("report: no successful assessment yet, nothing to report")
        return
    target = Path(app.config.settings.report.out_dir) / f"run-{run.id}"
    if (target / "report.html").is_file():
        return
    log.info("report: %s", app.write_report(target, run.id))


def build_scheduler(app: App) -> BackgroundScheduler:
    """A scheduler with every job of ``app``'s config (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    for source in app.config.sources.sources:
        scheduler.add_job(
            _guarded(app, f"collect:{source.id}", lambda sid=source.id: app.collection.collect(sid)),
            CronTrigger.from_crontab(source.schedule, timezone="UTC"), id=f"collect:{source.id}")
    scheduler.add_job(
        _guarded(app, "assess", lambda: _assess_and_alert(app)),
        CronTrigger.from_crontab(app.config.settings.assessment.schedule, timezone="UTC"), id="assess")
    scheduler.add_job(
        _guarded(app, "report", lambda: _write_scheduled_report(app)),
        CronTrigger.from_crontab(app.config.settings.report.schedule, timezone="UTC"), id="report")
    scheduler.add_job(
        _guarded(app, "dispatch", app.alerting.deliver_due),
        IntervalTrigger(seconds=DISPATCH_INTERVAL_SECONDS), id="dispatch")
    return scheduler
