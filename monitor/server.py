"""The HTTP side of ``chainwatch run``: ``/metrics``, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor import __version__


def create_http_app(registry: CollectorRegistry, engine: Engine) -> FastAPI:
    """The ASGI app serving metrics and health endpoints."""
    app = FastAPI(title="chainwatch", version=__version__)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

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
