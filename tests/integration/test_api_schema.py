"""Property-based check of the API against its own /openapi.json (schemathesis).

Every operation gets a bounded number of generated requests, with a valid token
(writes included), on a populated SQLite database: no 500s, and every response
matches the documented status codes, content types and schemas.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

from monitor.serve.api import ApiContext  # noqa: E402
from monitor.config.loader import load_config  # noqa: E402
from monitor.telemetry.metrics import build_registry  # noqa: E402
from monitor.serve.server import create_http_app  # noqa: E402
from monitor.store.database import make_engine, migrate, session_factory  # noqa: E402
from tests.conftest import CONFIG_DIR  # noqa: E402
from tests.stored_state import populate  # noqa: E402

NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
TOKEN = "schemathesis-token"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    directory = tmp_path_factory.mktemp("schema")
    engine = make_engine(f"sqlite:///{directory / 'api.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    populate(sessions, NOW)
    config = load_config(CONFIG_DIR)
    settings_ = config.settings.model_copy(update={
        "report": config.settings.report.model_copy(update={"out_dir": str(directory / "reports")})})
    config = config.model_copy(update={"settings": settings_})
    registry, _ = build_registry(sessions, lambda: NOW)
    app = create_http_app(registry, engine, ApiContext(config, sessions, (TOKEN,), lambda: NOW))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    engine.dispose()


def test_api_matches_its_openapi(api_schema):
    # One hypothesis run per operation (not schemathesis' pytest plugin, which lags
    # behind pytest releases); derandomized so a failure reproduces.
    checks = [st_checks.not_a_server_error, st_checks.status_code_conformance,
              st_checks.content_type_conformance, st_checks.response_schema_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):  # noqa: ANN001
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=checks)

        check()
