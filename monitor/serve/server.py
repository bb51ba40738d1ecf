"""The HTTP side of ``chainwatch run``: ``/metrics``, ``/healthz``, ``/readyz`` and the API.

This module assembles the app; the API's routes live in :mod:`monitor.serve.api`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import HTMLResponse
from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor import __version__
from monitor.serve.api import ApiContext, build_api, install_error_handlers, install_request_ids
from monitor.serve.api import __doc__ as _API_DOC
from monitor.telemetry.metrics import render_metrics
from monitor.serve.request_limits import BodySizeLimit, ControlCharacterGuard
from monitor.store.database import schema_status

_API_DESCRIPTION = (_API_DOC or "").split("\n\n", 1)[-1]
DEFAULT_MAX_REQUEST_BYTES = 65536


def create_http_app(registry: CollectorRegistry, engine: Engine, api: ApiContext | None = None,
                    scheduler_state: Callable[[], dict] | None = None) -> FastAPI:
    """The ASGI app: metrics, health, and (given ``api``) the JSON API under ``/api/v1``.

    ``scheduler_state`` reports the job scheduler's role and health for ``/readyz``
    (see :meth:`monitor.serve.jobs.LeaderScheduler.state`).
    """
    # FastAPIOffline: /docs (Swagger UI) and /redoc load their scripts and styles from this
    # package (under /static-offline-docs), not from a CDN, so they work without internet.
    app = FastAPIOffline(title="chainwatch", version=__version__, description=_API_DESCRIPTION)
    max_bytes = api.config.settings.api.max_request_bytes if api is not None else DEFAULT_MAX_REQUEST_BYTES
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    app.add_middleware(ControlCharacterGuard)
    install_error_handlers(app)
    install_request_ids(app)
    if api is not None:
        api_router = build_api(api)
        app.include_router(api_router)
        app.include_router(api_router.links)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index() -> HTMLResponse:
        """A small index: where the report, the API and the metrics are."""
        report = '<li><a href="reports/latest">Latest report</a> (最新报告)</li>' if api is not None else ""
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>chainwatch</title></head><body>"
            f"<h1>chainwatch {__version__}</h1><ul>{report}"
            '<li><a href="docs">API documentation</a> (<a href="openapi.json">OpenAPI</a>)</li>'
            '<li><a href="api/v1/alerts">Alerts (JSON)</a></li>'
            '<li><a href="metrics">Prometheus metrics</a></li>'
            '<li><a href="readyz">Readiness</a></li></ul></body></html>')

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        # Prometheus text format 0.0.4 by default; OpenMetrics when the Accept
        # header asks for it (Prometheus itself does).
        body, content_type = render_metrics(registry, request.headers.get("accept", ""))
        return Response(body, headers={"Content-Type": content_type})

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready: database, schema or scheduler"}})
    def readyz(response: Response) -> dict:
        """Readiness: the database answers, its schema is current, and the scheduler is healthy."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            schema = schema_status(engine)
        except SQLAlchemyError as err:
            response.status_code = 503
            return {"status": "unavailable", "database": type(err).__name__}
        body: dict = {"status": "ok", "database": "ok",
                      "schema": {"current": schema.current, "head": schema.head, "up_to_date": schema.up_to_date}}
        if not schema.up_to_date:
            body["status"] = "unavailable"
        if scheduler_state is not None:
            body["scheduler"] = scheduler_state()
            if not body["scheduler"].get("ok", True):
                body["status"] = "unavailable"
        if body["status"] != "ok":
            response.status_code = 503
        return body

    return app
