"""The long-running process of ``chainwatch run``: HTTP server and leader-elected jobs.

Shutdown (SIGTERM or SIGINT): the HTTP server stops serving, the scheduler stops
taking jobs, a running job gets ``scheduler.shutdown_grace_seconds`` to finish,
the leader lock is released so another replica takes over, and the process exits 0.
A job still running after the grace period is abandoned: the process exits at once
(still 0, with an error logged); every storage write is one transaction, so the
database keeps either all or nothing of it, and an outbox message being sent stays
claimed only until its lease lapses, then the next leader sends it again under the
same idempotency key.

Configuration is read once at start: a change needs a restart (SIGHUP is not handled).
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import uvicorn

from monitor.serve.api import ApiContext
from monitor.app import App
from monitor.config.loader import load_api_tokens
from monitor.serve.jobs import JobSpec

log = logging.getLogger(__name__)


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, logging the URL once the socket is bound (uvicorn's own line is below our log level)."""

    async def startup(self, sockets=None) -> None:  # noqa: ANN001
        await super().startup(sockets)
        if self.started:
            host, port = self.config.host, self.config.port
            shown = f"[{host}]" if ":" in host else host
            log.info("listening on http://%s:%d (API docs /docs, metrics /metrics)", shown, port)


def run_service(app: App, host: str, port: int, jobs: list[JobSpec] | None = None) -> int:
    """Serve HTTP and run the jobs (while leader) until SIGTERM/SIGINT; returns the exit code.

    ``jobs`` defaults to the configured ones (:func:`monitor.serve.scheduler.configured_jobs`).
    """
    from monitor.serve.request_limits import header_timeout_protocol
    from monitor.serve.scheduler import build_leader_scheduler
    from monitor.serve.server import create_http_app

    settings = app.config.settings
    scheduler = build_leader_scheduler(app, jobs)
    # One value per fact across replicas: only the leader exports the database-derived metrics.
    app.registry.stored.exports_stored_state = lambda: scheduler.elector.is_leader
    tokens = load_api_tokens()
    if not tokens:
        log.warning("no API tokens configured (CHAINWATCH_API_TOKENS): mutating API calls are refused")
    api = ApiContext(app.config, app.sessions, tokens, app.clock)
    http_app = create_http_app(app.registry, app.engine, api, scheduler.state)
    server = AnnouncingServer(uvicorn.Config(
        http_app, host=host, port=port, log_level="warning", access_log=False, log_config=None,
        http=header_timeout_protocol(settings.api.header_timeout_seconds)))

    def _request_stop(signum, _frame) -> None:  # noqa: ANN001
        # uvicorn installs its own handlers while serving and re-raises a caught signal
        # to this one afterwards; here it only has to make sure serving stops.
        log.info("received %s: shutting down", signal.Signals(signum).name)
        server.should_exit = True

    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, _request_stop)
    scheduler.start()
    finished = True
    try:
        server.run()
    finally:
        log.info("stopping the scheduler (grace period %.0f s for a running job)", settings.scheduler.shutdown_grace_seconds)
        finished = scheduler.stop(settings.scheduler.shutdown_grace_seconds)
        if finished:
            app.close()
    if not finished:
        # A worker thread cannot be interrupted; leaving the interpreter would wait for it.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    log.info("stopped")
    return 0
