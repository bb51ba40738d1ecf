"""API security: auth on every mutating endpoint (generated from /openapi.json), constant-time
token comparison, request size limits, and no secret anywhere a run leaves traces.

The auth cases are generated from the OpenAPI document at collection time, so an
endpoint added later is covered without touching this file. The secrets test runs
the CLI, the API and the delivery path with known secret values and greps
everything they produced: stdout/stderr (JSON logs at DEBUG), HTTP bodies and
headers, ``/metrics``, the report files, every database row, and the ``repr`` /
``str`` / JSON dump of the loaded settings.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, inspect, text

from monitor.serve import api as api_module
from monitor.serve.api import ApiContext
from monitor.cli.main import main
from monitor.config.loader import load_api_tokens, load_config
from monitor.telemetry.metrics import build_registry
from monitor.serve.server import create_http_app
from tests.collector_fakes import local_server, send
from tests.conftest import CONFIG_DIR, POSTGRES_URL, SMALL_CHAINS, _PG_SKIP, config_copy
from tests.webhook_receiver import RecordingReceiver

NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
TOKEN = "tok-0123456789abcdef"
MUTATING = {"post", "put", "patch", "delete"}


def _app(sessions_or_none=None, tokens=(TOKEN,), read_requires_token=False, max_request_bytes=None):
    config = load_config(CONFIG_DIR, environ={})
    api_settings = {"read_requires_token": read_requires_token}
    if max_request_bytes is not None:
        api_settings["max_request_bytes"] = max_request_bytes
    settings = config.settings.model_copy(update={"api": config.settings.api.model_copy(update=api_settings)})
    config = config.model_copy(update={"settings": settings})
    if sessions_or_none is None:  # the spec only: no database is touched
        from sqlalchemy.orm import sessionmaker

        engine = create_engine("sqlite://")
        return create_http_app(CollectorRegistry(), engine, ApiContext(config, sessionmaker(engine), tokens))
    registry, _ = build_registry(sessions_or_none, lambda: NOW)
    return create_http_app(registry, sessions_or_none.kw["bind"], ApiContext(config, sessions_or_none, tokens,
                                                                              lambda: NOW))


def _operations(read_requires_token: bool = False) -> list[tuple[str, str, dict]]:
    spec = _app(read_requires_token=read_requires_token).openapi()
    return [(method, path, operation) for path, item in sorted(spec["paths"].items())
            for method, operation in sorted(item.items()) if method in MUTATING or
            (read_requires_token and method == "get" and path.startswith("/api/"))]


def _url(path: str, operation: dict) -> str:
    """``path`` with every path parameter filled by a value its schema accepts."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        schema = parameter.get("schema", {})
        if schema.get("type") == "integer":
            value = "1"
        elif "0-9a-f-]{36}" in schema.get("pattern", ""):
            value = str(uuid.uuid4())
        else:
            value = "abc123"
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


MUTATING_OPERATIONS = _operations()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Sessions on one migrated SQLite database for the module (auth does not depend on the backend)."""
    from monitor.store.database import make_engine, migrate, session_factory

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'auth.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()
PROTECTED_READS = _operations(read_requires_token=True)

BAD_CREDENTIALS = {
    "missing": {},
    "wrong_token": {"Authorization": "Bearer wrong-token"},
    "token_prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "token_with_suffix": {"Authorization": f"Bearer {TOKEN}x"},
    "basic_scheme": {"Authorization": f"Basic {TOKEN}"},
    "empty_bearer": {"Authorization": "Bearer "},
    "non_ascii": {"Authorization": "Bearer tök".encode()},
}


def test_the_spec_lists_the_known_mutating_endpoints():
    found = {(method, path) for method, path, _ in MUTATING_OPERATIONS}
    assert {("post", "/api/v1/alerts/{fingerprint}/ack"), ("post", "/api/v1/silences"),
            ("delete", "/api/v1/silences/{silence_id}")} <= found
    for method, path, operation in MUTATING_OPERATIONS:
        assert operation.get("security"), f"{method.upper()} {path} declares no security scheme"
        assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"


@pytest.mark.parametrize("credentials", sorted(BAD_CREDENTIALS))
@pytest.mark.parametrize(("method", "path", "operation"), MUTATING_OPERATIONS,
                         ids=[f"{m.upper()} {p}" for m, p, _ in MUTATING_OPERATIONS])
def test_every_mutating_endpoint_refuses_bad_credentials(method, path, operation, credentials, stored):
    client = TestClient(_app(stored))
    url = _url(path, operation)
    body = {"by": "mallory", "matchers": ['chain="x"'], "created_by": "m", "comment": "c"}
    response = client.request(method.upper(), url, json=body, headers=BAD_CREDENTIALS[credentials])
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    # The same request with the token gets past auth (whatever the endpoint then says).
    allowed = client.request(method.upper(), url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code != 401


@pytest.mark.parametrize(("method", "path", "operation"), PROTECTED_READS,
                         ids=[f"{m.upper()} {p}" for m, p, _ in PROTECTED_READS])
def test_reads_refuse_a_bad_token_when_configured(method, path, operation, stored):
    client = TestClient(_app(stored, read_requires_token=True))
    response = client.request(method.upper(), _url(path, operation), headers=BAD_CREDENTIALS["wrong_token"])
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_without_configured_tokens_every_mutating_call_is_refused(stored):
    client = TestClient(_app(stored, tokens=()))
    for method, path, operation in MUTATING_OPERATIONS:
        response = client.request(method.upper(), _url(path, operation), json={},
                                  headers={"Authorization": "Bearer "})
        assert response.status_code == 401, (method, path)


def test_tokens_are_compared_with_hmac_compare_digest_without_early_exit(monkeypatch, stored):
    calls: list[tuple[bytes, bytes]] = []
    real = api_module.hmac.compare_digest

    class SpyHmac:
        @staticmethod
        def compare_digest(a, b):  # noqa: ANN001, ANN205
            calls.append((a, b))
            return real(a, b)

    monkeypatch.setattr(api_module, "hmac", SpyHmac)
    tokens = (TOKEN, "second-token-xyz", "third-token-xyz")
    client = TestClient(_app(stored, tokens=tokens))
    silence = {"matchers": ['chain="x"'], "created_by": "ops", "comment": "c", "duration": "1h"}
    for given, expected_status in ((TOKEN, 201), ("nope", 401)):
        calls.clear()
        response = client.post("/api/v1/silences", json=silence, headers={"Authorization": f"Bearer {given}"})
        assert response.status_code == expected_status
        # Every configured token is compared, even after the first one matched.
        assert [b for _, b in calls] == [t.encode() for t in tokens]
        assert all(a == given.encode() for a, _ in calls)


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_request_bodies_over_the_limit_get_413(chunked, stored):
    client = TestClient(_app(stored, max_request_bytes=2048))
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    huge = json.dumps({"matchers": ['chain="x"'], "created_by": "ops", "comment": "x" * 10_000}).encode()
    content = iter([huge[:1000], huge[1000:]]) if chunked else huge
    response = client.post("/api/v1/silences", content=content, headers=auth)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    # Without a token too: the size is checked before anything else reads the body.
    assert client.post("/api/v1/silences", content=huge, headers={"Content-Type": "application/json"}
                       ).status_code in (401, 413)
    small = {"matchers": ['chain="x"'], "created_by": "ops", "comment": "fits", "duration": "1h"}
    assert client.post("/api/v1/silences", json=small, headers=auth).status_code == 201


# --- no secret anywhere --------------------------------------------------------------

SECRETS = {
    "api_token": "apitok-S3CRET-7f1e2d",
    "webhook_secret": "whsec-S3CRET-9a8b7c",
    "webhook_url_token": "urltok-S3CRET-5e4d3c",
    "comtrade_key": "ctkey-S3CRET-1a2b3c",
    "db_password": "dbpw-S3CRET-6f5e4d",
}


def _leaks(text_: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text_]


def _database_dump(db_url: str) -> str:
    engine = create_engine(db_url)
    try:
        out = []
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                out.append(repr(connection.execute(text(f'SELECT * FROM "{table}"')).all()))
        return "\n".join(out)
    finally:
        engine.dispose()


def _secret_config(tmp_path, comtrade_url: str):
    # two chains, short history: a quick assessment (every command still goes through its secrets)
    target = config_copy(tmp_path / "config", chains=SMALL_CHAINS, demo_start="2024-01")
    sources = yaml.safe_load((target / "sources.yaml").read_text(encoding="utf-8"))
    sources["sources"].append({"id": "comtrade", "kind": "comtrade", "base_url": comtrade_url, "frequency": "A",
                               "reporters": ["USA"], "products": ["8105"], "start": "2023-01",
                               "api_key_env": "COMTRADE_API_KEY", "max_attempts": 2, "backoff_seconds": 0})
    (target / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    return target


def _echo(handler) -> None:
    """An upstream that fails and echoes the request (URL and headers) back, keys included."""
    echoed = f"bad request {handler.path} {dict(handler.headers)}"
    send(handler, 503, json.dumps({"message": echoed}))


def test_no_secret_in_logs_errors_metrics_reports_database_or_settings(tmp_path, capsys, monkeypatch):
    with RecordingReceiver(status=500) as receiver, local_server(_echo) as comtrade_url:
        receiver.reply_body = b"cannot process; you sent to " + receiver.url.encode()  # echo the URL back
        webhook_url = f"{receiver.url}/{SECRETS['webhook_url_token']}?key={SECRETS['webhook_url_token']}"
        env = {"CHAINWATCH_API_TOKENS": SECRETS["api_token"], "CHAINWATCH_WEBHOOK_URL": webhook_url,
               "CHAINWATCH_WEBHOOK_SECRET": SECRETS["webhook_secret"], "COMTRADE_API_KEY": SECRETS["comtrade_key"]}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if _PG_SKIP:  # SQLite has no password: the DB password is still checked on the unreachable path
            db_url = f"sqlite:///{tmp_path / 'secrets.db'}"
        else:  # trust auth ignores the password, so a known one can ride along in the URL
            db_url = POSTGRES_URL.replace("postgres@", f"postgres:{SECRETS['db_password']}@", 1)
            schema = f"cw_{uuid.uuid4().hex[:12]}"
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            db_url += f"?options=-csearch_path%3D{schema}"
        monkeypatch.setenv("CHAINWATCH_DB_URL", db_url)
        config_dir = _secret_config(tmp_path, comtrade_url)
        outputs: list[str] = []
        try:
            common = ["--config", str(config_dir), "--log-level", "DEBUG", "--log-format", "json"]
            assert main(["assess", "--once", *common]) in (0, 1)
            assert main(["collect", *common]) == 1  # the comtrade source fails (and echoes its key)
            assert main(["report", "--out", str(tmp_path / "report"), *common]) == 0
            assert main(["alerts", "list", "--format", "json", *common]) == 0
            assert main(["check-config", *common]) == 0
            unreachable = f"postgresql://chainwatch:{SECRETS['db_password']}@127.0.0.1:1/x"
            assert main(["assess", "--once", "--config", str(config_dir), "--db", unreachable]) == 1
            captured = capsys.readouterr()
            outputs += [captured.out, captured.err]
            assert receiver.requests, "the webhook was never called: the delivery path was not exercised"
            assert "database unavailable" in captured.err and "***" in captured.err

            # The service's HTTP side with the same environment.
            config = load_config(config_dir)
            from monitor.app import build_app

            app = build_app(config_dir, db_url)
            try:
                http = TestClient(create_http_app(app.registry, app.engine,
                                                  ApiContext(config, app.sessions, load_api_tokens())))
                responses = [
                    http.post("/api/v1/silences", json={"matchers": ['chain="x"'], "created_by": "a",
                                                        "comment": "b"}, headers={"Authorization": "Bearer wrong"}),
                    http.post("/api/v1/silences", json={"matchers": ["!!"], "created_by": "a", "comment": "b"},
                              headers={"Authorization": f"Bearer {SECRETS['api_token']}"}),
                    http.get("/api/v1/alerts"), http.get("/api/v1/chains/nope"), http.get("/readyz"),
                    http.get("/metrics"), http.get("/openapi.json"), http.get("/api/v1/runs"),
                ]
                for response in responses:
                    outputs += [response.text, repr(dict(response.headers))]
                outputs += [repr(app.config), str(app.config), app.config.model_dump_json(),
                            repr(app.config.alerts.receivers), repr(app.config.sources), repr(app)]
            finally:
                app.close()
            outputs += [p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "report").rglob("*")
                        if p.is_file()]
            outputs.append(_database_dump(db_url))
        finally:
            if not _PG_SKIP:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        everything = "\n".join(outputs)
        assert "Traceback" not in everything
        leaks = {name: [m.start() for m in re.finditer(re.escape(SECRETS[name]), everything)][:3]
                 for name in _leaks(everything)}
        assert not leaks, {name: [everything[max(0, i - 120):i + 60] for i in where] for name, where in leaks.items()}
        # They were really used: the receiver got the signature, the upstream got the key.
        assert any("X-Chainwatch-Signature" in r.headers for r in receiver.requests)
