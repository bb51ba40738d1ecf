"""The HTTP side of ``chainwatch run``: ``/metrics``, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor import __version__
from monitor.metrics import render_metrics


def create_http_app(registry: CollectorRegistry, engine: Engine) -> FastAPI:
    """The ASGI app serving metrics and health endpoints."""
    app = FastAPI(title="chainwatch", version=__version__)

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

    @app.get("/readyz")
    def readyz(response: Response) -> dict:
        """Readiness: the database answers."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as err:
            response.status_code = 503
            return {"status": "unavailable", "database": type(err).__name__}
        return {"status": "ok"}

    return app
