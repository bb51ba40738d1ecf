"""``POST /api/v1/events`` (token required) and ``GET /api/v1/events``, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from monitor.config.loader import load_config
from monitor.serve.api import ApiContext
from monitor.serve.server import create_http_app
from monitor.telemetry.metrics import build_registry
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
TOKEN = "s3cret-token-a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GA_GE = {"id": "cn-2023-ga-ge", "title": "关于对镓、锗相关物项实施出口管制的公告", "issuer": "CHN",
         "kind": "licensing", "announced": "2023-07-03", "effective": "2023-08-01",
         "hs_codes": ["811292", "282560"], "language": "zh", "issuing_body": "MOFCOM"}


@pytest.fixture
def client(sessions) -> TestClient:
    registry, _ = build_registry(sessions, lambda: NOW)
    context = ApiContext(load_config(CONFIG_DIR), sessions, (TOKEN,), lambda: NOW)
    return TestClient(create_http_app(registry, sessions.kw["bind"], context, None))


def test_posting_an_event_needs_a_token_and_stores_it(client):
    assert client.post("/api/v1/events", json=GA_GE).status_code == 401
    created = client.post("/api/v1/events", json=GA_GE, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json() == {"event_id": "analyst:cn-2023-ga-ge", "created": True, "linked": False}
    again = client.post("/api/v1/events", json=GA_GE | {"status": "withdrawn"}, headers=AUTH)
    assert again.json()["created"] is False
    [stored] = client.get("/api/v1/events").json()["items"]
    assert (stored["title"], stored["hs_codes"], stored["effective"], stored["status"]) == (
        GA_GE["title"], ["811292", "282560"], "2023-08-01", "withdrawn")


def test_a_repeat_from_another_id_is_linked_not_doubled(client):
    client.post("/api/v1/events", json=GA_GE, headers=AUTH)
    repeat = client.post("/api/v1/events", json=GA_GE | {"id": "mofcom-23", "announced": "2023-07-04"},
                         headers=AUTH)
    assert repeat.json()["linked"] is True
    assert client.get("/api/v1/events").json()["total"] == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "ban"}, "field 'kind' is 'ban'"),
    ({"issuer": "China"}, "field 'issuer' has 'CHINA'"),
    ({"hs_codes": ["8112.9"]}, "field 'hs_codes' has '81129'"),
    ({"hs_codes": ["811292;282560"]}, "one code per list item"),
])
def test_a_bad_event_is_refused_with_the_field_named(client, change, message):
    response = client.post("/api/v1/events", json=GA_GE | change, headers=AUTH)
    assert response.status_code == 422
    assert message in response.text
    assert client.get("/api/v1/events").json()["total"] == 0
