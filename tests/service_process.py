"""``chainwatch run`` with a test job: ``python -m tests.service_process DB_URL PORT LOG JOB_SECONDS POLL GRACE``.

Runs :func:`monitor.serve.service.run_service` (the same HTTP server, leader election,
signal handling and graceful stop as ``chainwatch run``) with one job, ``tick``,
every second. Each run appends ``start <pid> <time>`` and ``end <pid> <time>``
lines to LOG and sleeps JOB_SECONDS between them, so a test can see which process
ran what and when, and SIGTERM or SIGKILL it mid-job.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import build_app
from monitor.serve.jobs import JobSpec
from monitor.serve.service import run_service

# Not imported from tests.conftest: importing it in this child process would run its
# per-xdist-worker database set-up again (it drops and recreates the worker's database).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def main(db_url: str, port: int, log_path: str, job_seconds: float, poll: float, grace: float) -> int:
    """Serve until signalled; the exit code is run_service's."""
    app = build_app(CONFIG_DIR, db_url)
    scheduler_settings = app.config.settings.scheduler.model_copy(
        update={"leader_poll_seconds": poll, "shutdown_grace_seconds": grace})
    app.config = app.config.model_copy(update={"settings": app.config.settings.model_copy(
        update={"scheduler": scheduler_settings})})

    def tick() -> None:
        with open(log_path, "a", encoding="utf-8") as out:
            out.write(f"start {os.getpid()} {time.time():.3f}\n")
        time.sleep(job_seconds)
        with open(log_path, "a", encoding="utf-8") as out:
            out.write(f"end {os.getpid()} {time.time():.3f}\n")

    return run_service(app, "127.0.0.1", port, [JobSpec("tick", IntervalTrigger(seconds=1), tick, 30)])


if __name__ == "__main__":
    db, port_text, log_file, seconds, poll_text, grace_text = sys.argv[1:7]
    sys.exit(main(db, int(port_text), log_file, float(seconds), float(poll_text), float(grace_text)))
