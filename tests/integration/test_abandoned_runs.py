"""Assessment runs left ``running`` by a process that died are marked ``abandoned`` once old enough."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from monitor.serve.api import ApiContext
from monitor.app import build_app
from monitor.serve.server import create_http_app
from monitor.store.assessments import abandon_stale_runs, complete_run, fail_run, start_run
from monitor.store.tables import AssessmentRun, RiskScore
from tests.conftest import CONFIG_DIR

AGE = timedelta(hours=6)


def _runs(sessions) -> dict[int, AssessmentRun]:
    with sessions() as session:
        return {run.id: run for run in session.scalars(select(AssessmentRun))}


def test_only_running_runs_older_than_the_age_are_abandoned(sessions, clock):
    now = clock()
    killed = start_run(sessions, "hash", now - AGE - timedelta(minutes=1))   # its process died long ago
    live = start_run(sessions, "hash", now - AGE + timedelta(minutes=1))     # may still be executing elsewhere
    succeeded = start_run(sessions, "hash", now - 3 * AGE)
    complete_run(sessions, succeeded, date(2025, 12, 1), [], [], now - 3 * AGE + timedelta(seconds=30))
    failed = start_run(sessions, "hash", now - 2 * AGE)
    fail_run(sessions, failed, "boom", now - 2 * AGE + timedelta(seconds=5))
    before = _runs(sessions)

    assert abandon_stale_runs(sessions, AGE, now) == [killed]

    runs = _runs(sessions)
    assert runs[killed].status == "abandoned"
    assert runs[killed].finished_at.replace(tzinfo=None) == now.replace(tzinfo=None)
    assert "still running 6 h after it started" in runs[killed].error
    assert runs[live].status == "running" and runs[live].finished_at is None and runs[live].error is None
    for unchanged in (succeeded, failed):
        assert (runs[unchanged].status, runs[unchanged].finished_at, runs[unchanged].error,
                runs[unchanged].duration_seconds) == (before[unchanged].status, before[unchanged].finished_at,
                                                      before[unchanged].error, before[unchanged].duration_seconds)
    # A second instance doing the same a moment later finds nothing left to mark.
    assert abandon_stale_runs(sessions, AGE, now + timedelta(seconds=1)) == []
    # The younger run is marked once it is old enough itself.
    assert abandon_stale_runs(sessions, AGE, now + timedelta(minutes=2)) == [live]


def test_a_run_that_finishes_after_being_abandoned_is_stored_as_succeeded(sessions, clock):
    slow = start_run(sessions, "hash", clock() - AGE - timedelta(hours=1))
    assert abandon_stale_runs(sessions, AGE, clock()) == [slow]
    scores = [{"chain": "batteries", "node": "", "dimension": "overall", "score": 50.0, "level": "yellow",
               "drivers": []}]
    complete_run(sessions, slow, date(2025, 12, 1), [], scores, clock() + timedelta(minutes=1))
    run = _runs(sessions)[slow]
    assert (run.status, run.error) == ("succeeded", None)
    with sessions() as session:
        assert session.scalars(select(RiskScore.score).where(RiskScore.run_id == slow)).all() == [50.0]


def test_each_assessment_first_abandons_stale_runs_and_metrics_and_api_show_it(db_url, clock, tmp_path):
    app = build_app(CONFIG_DIR, db_url, clock)
    try:
        assert app.config.settings.assessment.abandon_after_hours == 6  # the shipped setting
        killed = start_run(app.sessions, "hash", clock() - timedelta(days=1))  # SIGKILLed yesterday
        value = app.registry.get_sample_value
        assert value("chainwatch_assessment_in_progress") == 1
        assert value("chainwatch_assessment_runs_total", {"status": "abandoned"}) == 0

        result = app.assess()

        runs = _runs(app.sessions)
        assert runs[killed].status == "abandoned" and runs[result.run_id].status == "succeeded"
        assert value("chainwatch_assessment_runs_total", {"status": "abandoned"}) == 1
        assert value("chainwatch_assessment_in_progress") == 0
        api = TestClient(create_http_app(app.registry, app.engine, ApiContext(app.config, app.sessions, (), clock)))
        listed = api.get("/api/v1/runs", params={"status": "abandoned"}).json()
        assert [(r["id"], r["status"]) for r in listed["items"]] == [(killed, "abandoned")]
        assert listed["items"][0]["finished_at"] is not None and "presumably died" in listed["items"][0]["error"]
    finally:
        app.close()


def test_the_leaders_stale_run_job_marks_dead_runs_between_assessments(db_url, clock):
    """Between assessments (daily by default) an hourly job marks a dead process's run."""
    from apscheduler.triggers.interval import IntervalTrigger

    from monitor.serve.scheduler import configured_jobs

    app = build_app(CONFIG_DIR, db_url, clock)
    try:
        job = {j.id: j for j in configured_jobs(app)}["abandon-stale-runs"]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(minutes=app.config.settings.scheduler.stale_run_check_minutes)
        killed = start_run(app.sessions, "hash", clock() - AGE - timedelta(minutes=5))
        young = start_run(app.sessions, "hash", clock() - timedelta(minutes=5))
        assert app.registry.get_sample_value("chainwatch_assessment_in_progress") == 1

        job.action()

        runs = _runs(app.sessions)
        assert (runs[killed].status, runs[young].status) == ("abandoned", "running")
        assert app.registry.get_sample_value("chainwatch_assessment_runs_total", {"status": "abandoned"}) == 1
    finally:
        app.close()
