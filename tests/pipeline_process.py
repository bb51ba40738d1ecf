"""assess → alert → deliver in a process that may SIGKILL itself at a chosen SQL statement.

``python -m tests.pipeline_process CONFIG_DIR DB_URL KILL_AT TIME [TIME ...]``

For each TIME (ISO 8601, the injected clock) it runs one cycle as the service's
``assess`` job does: assessment, alert evaluation, delivery of every due
notification. With ``KILL_AT`` > 0 the process sends itself SIGKILL just before
the KILL_AT-th SQL statement of its *last* cycle, so the crash lands at an exact,
reproducible point: inside the assessment's writes, between an alert's state
change and its notification, between the outbox claim and the send, or after
the receiver acknowledged but before ``delivered`` was committed. Statement
numbers are measured, not guessed: the last line printed is JSON
``{"cycles": [[assessed, evaluated, delivered], ...]}``, per cycle the statement
counts (from the cycle's start) at the end of each phase.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timedelta

from sqlalchemy import event

from monitor.app import build_app


class SettableClock:
    """The injected clock, set per cycle."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def main(config_dir: str, db_url: str, kill_at: int, times: list[datetime]) -> int:
    """Run one cycle per time; see the module docstring."""
    clock = SettableClock(times[0])
    statements = 0
    kill_after = None

    def count(*_args) -> None:
        nonlocal statements
        statements += 1
        if statements == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    from sqlalchemy import Engine

    event.listen(Engine, "before_cursor_execute", count)
    app = build_app(config_dir, db_url, clock)
    # A lease lapses 3 × timeout + margin after the claim: small, so a re-send comes soon.
    app.alerting._lease_margin = timedelta(seconds=1)  # noqa: SLF001 (test process)
    cycles = []
    for i, now in enumerate(times):
        clock.now = now
        start = statements
        if kill_at > 0 and i == len(times) - 1:
            kill_after = start + kill_at
        result = app.assess()
        assessed = statements - start
        app.alerting.evaluate(result)
        evaluated = statements - start
        while True:
            report = app.alerting.deliver_due()
            if report.delivered == 0:
                break
        cycles.append([assessed, evaluated, statements - start])
    app.close()
    print(json.dumps({"cycles": cycles}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), [datetime.fromisoformat(t) for t in sys.argv[4:]]))
