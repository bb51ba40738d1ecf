"""A dispatcher process for the crash test: ``python -m tests.dispatcher_process CONFIG_DIR DB_URL``.

Delivers the outbox in a loop, as ``chainwatch run``'s dispatch job does, and exits
0 once nothing is pending. The test kills it with SIGKILL mid-delivery.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from monitor.notify.alerting import AlertPipeline
from monitor.clock import system_clock
from monitor.config.loader import load_config
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import OutboxMessage


def main(config_dir: str, db_url: str) -> int:
    """Deliver until the outbox has no pending message (at most 120 s)."""
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    pipeline = AlertPipeline(load_config(config_dir), sessions, httpx.Client(trust_env=False), system_clock,
                             lease_margin=timedelta(seconds=0.5))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pipeline.deliver_due()
        with sessions() as session:
            pending = session.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
        if not pending:
            return 0
        time.sleep(0.2)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
