"""The job scheduler: persisted next runs (a missed run runs once), metrics, graceful stop, leader lock."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from prometheus_client import CollectorRegistry

from monitor.serve.jobs import BoundJobStore, JobRunner, JobSpec, LeaderScheduler, next_run_times
from monitor.serve.leadership import AdvisoryLeaderLock, FileLeaderLock, ProcessLeaderLock, leader_lock_for
from monitor.telemetry.metrics import ServiceMetrics

MONTHLY = CronTrigger.from_crontab("0 6 15 * *", timezone="UTC")


def _wait(condition, timeout: float = 10) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _scheduler(engine, calls: list, metrics=None, trigger=MONTHLY) -> LeaderScheduler:  # noqa: ANN001
    job = JobSpec("assess", trigger, lambda: calls.append(time.monotonic()))
    return LeaderScheduler(engine, [job], ProcessLeaderLock(), 0.2, metrics)


def _set_stored_next_run(engine, runner: JobRunner, job_id: str, when: datetime) -> None:  # noqa: ANN001
    """What a process that stopped before ``when`` and stayed down past it leaves behind."""
    store = BoundJobStore(engine, runner)
    store.start(BackgroundScheduler(timezone="UTC"), "default")
    job = store.lookup_job(job_id)
    job.next_run_time = when
    store.update_job(job)


def test_a_missed_monthly_run_runs_once_after_restart(sessions):
    engine = sessions.kw["bind"]
    calls: list[float] = []
    first = _scheduler(engine, calls)
    first.start()
    stored = next_run_times(engine)["assess"]
    assert stored > datetime.now(timezone.utc) and stored.day == 15  # persisted, in the future
    assert first.stop(5)
    assert calls == []
    # The service was down over two due dates: the run happens once, not never and not twice.
    _set_stored_next_run(engine, first.runner, "assess", datetime.now(timezone.utc) - timedelta(days=40))
    second = _scheduler(engine, calls)
    second.start()
    try:
        assert _wait(lambda: len(calls) == 1), "the missed run did not run"
        time.sleep(0.5)
        assert len(calls) == 1
        assert _wait(lambda: next_run_times(engine)["assess"] > datetime.now(timezone.utc))
    finally:
        second.stop(5)
    third = _scheduler(engine, calls)
    third.start()
    time.sleep(0.5)
    third.stop(5)
    assert len(calls) == 1, "ran again after another restart"


def test_future_run_kept_and_removed_jobs_dropped(sessions):
    engine = sessions.kw["bind"]
    calls: list[float] = []
    first = LeaderScheduler(engine, [JobSpec("assess", MONTHLY, lambda: None), JobSpec("old", MONTHLY, lambda: None)],
                            ProcessLeaderLock(), 0.2)
    first.start()
    first.stop(5)
    before = next_run_times(engine)
    second = _scheduler(engine, calls)
    second.start()
    second.stop(5)
    after = next_run_times(engine)
    assert set(after) == {"assess"} and after["assess"] == before["assess"]


def test_job_runner_counts_outcomes_and_durations():
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    ticks = iter([0.0, 2.5, 10.0, 10.5])

    def fail() -> None:
        raise RuntimeError("boom")

    runner = JobRunner([JobSpec("assess", MONTHLY, lambda: None), JobSpec("report", MONTHLY, fail)], metrics,
                       timer=lambda: next(ticks))
    runner("assess")
    runner("report")
    runner("unknown")  # a stored job no longer configured: logged, not raised
    sample = registry.get_sample_value
    assert sample("chainwatch_job_runs_total", {"job": "assess", "outcome": "success"}) == 1
    assert sample("chainwatch_job_runs_total", {"job": "report", "outcome": "failure"}) == 1
    assert sample("chainwatch_job_duration_seconds_sum", {"job": "assess"}) == 2.5
    assert sample("chainwatch_job_duration_seconds_count", {"job": "report"}) == 1
    assert sample("chainwatch_job_duration_seconds_bucket", {"job": "report", "le": "0.5"}) == 1


def test_stop_waits_for_a_running_job_within_the_grace_period():
    release = threading.Event()
    runner = JobRunner([JobSpec("slow", MONTHLY, release.wait)])
    worker = threading.Thread(target=runner, args=("slow",))
    worker.start()
    assert _wait(lambda: runner.running() == ["slow"])
    assert not runner.wait_idle(0.2)
    release.set()
    assert runner.wait_idle(5)
    worker.join()


def test_leader_gauge_and_ready_state(sessions):
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    scheduler = _scheduler(sessions.kw["bind"], [], metrics)
    assert scheduler.state()["ok"]
    scheduler.start()
    state = scheduler.state()
    assert state["role"] == "leader" and state["ok"] and "next_run_at" in state
    assert registry.get_sample_value("chainwatch_scheduler_leader") == 1
    scheduler.stop(5)
    assert registry.get_sample_value("chainwatch_scheduler_leader") == 0
    assert scheduler.state()["role"] == "stopping"


@pytest.mark.postgres
def test_advisory_lock_one_holder_and_takeover(db_url):
    if not db_url.startswith("postgresql"):
        # #23: replicas on one SQLite file elect a leader by a file lock (tests/test_replica_metrics.py)
        assert isinstance(leader_lock_for(_engine(db_url), 1), FileLeaderLock)
        return
    engine = _engine(db_url)
    first, second = AdvisoryLeaderLock(engine, 1), AdvisoryLeaderLock(engine, 1)
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        first._connection.invalidate()  # the leader's connection dies (as when its process is killed)
        assert not first.still_held()
        assert second.try_acquire() and second.still_held()
        assert not first.try_acquire()
        second.release()
        assert first.try_acquire()
    finally:
        first.close()
        second.close()
        engine.dispose()


def _engine(db_url: str):  # noqa: ANN202
    from monitor.store.database import make_engine

    return make_engine(db_url)
