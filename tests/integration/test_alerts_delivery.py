"""Webhook delivery against a real local HTTP server, plus MockTransport for timeouts."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from alerts.delivery import WebhookNotifier, backoff_seconds, build_notification, idempotency_key, user_agent
from alerts.model import Alert, Notification
from alerts.payload import webhook_body
from alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "hunter2-webhook-secret"
TOKEN = "tok-9f8e7d6c5b4a"
NOW_TS = 1714550400
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)

ALERT = Alert(
    fingerprint="0123456789abcdef",
    labels={"alertname": "ChainAtRisk", "chain": "lithium", "node": "", "kind": "risk_level", "severity": "critical"},
    annotations={"summary": "Lithium at risk", "summary_zh": "锂电池产业链风险"},
    state="firing",
    starts_at=T0,
)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ServerState:
    """What the fake receiver answers, and what it saw."""

    status: int = 200
    reply: bytes = b"ok"
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)


class RecordingHandler(BaseHTTPRequestHandler):
    """Records each POST and answers with the server's configured status."""

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        state: ServerState = self.server.state  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        state.requests.append(Recorded(self.path, {k: v for k, v in self.headers.items()}, body))
        self.send_response(state.status)
        for name, value in state.extra_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(state.reply)))
        self.end_headers()
        self.wfile.write(state.reply)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    httpd.state = ServerState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host}:{port}", httpd.state  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured on the test machine must not intercept 127.0.0.1.
    with httpx.Client(trust_env=False) as c:
        yield c


def notification(url: str, secret: str | None = SECRET) -> Notification:
    return build_notification("analysts", url, secret, [ALERT], {"chain": "lithium"}, "http://cw.local", NOW_TS)


def test_delivers_body_and_headers(server, client):
    base, state = server
    note = notification(f"{base}/hook?token={TOKEN}")
    outcome = WebhookNotifier(client, timeout=5).send(note)

    assert outcome.ok and not outcome.retryable and outcome.status_code == 200 and outcome.error is None
    (req,) = state.requests
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert req.path == f"/hook?token={TOKEN}"
    assert req.body == note.body
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == note.idempotency_key
    assert headers["user-agent"] == user_agent() and user_agent().startswith("chainwatch/")
    assert headers[TIMESTAMP_HEADER.lower()] == str(NOW_TS)
    assert verify(req.body, SECRET, headers[SIGNATURE_HEADER.lower()])
    assert not verify(req.body, "wrong", headers[SIGNATURE_HEADER.lower()])
    body = json.loads(req.body.decode("utf-8"))
    assert body["receiver"] == "analysts" and body["groupKey"] == '{}:{chain="lithium"}'
    assert body["alerts"][0]["annotations"]["summary_zh"] == "锂电池产业链风险"


def test_without_secret_no_signature_headers(server, client):
    base, state = server
    assert WebhookNotifier(client, timeout=5).send(notification(f"{base}/hook", secret=None)).ok
    headers = {k.lower() for k in state.requests[0].headers}
    assert SIGNATURE_HEADER.lower() not in headers and TIMESTAMP_HEADER.lower() not in headers
    assert "idempotency-key" in headers


def test_retry_sends_identical_request(server, client):
    base, state = server
    state.status = 503
    notifier = WebhookNotifier(client, timeout=5)
    note = notification(f"{base}/hook")
    rebuilt = notification(f"{base}/hook")  # e.g. rebuilt after a restart
    notifier.send(note)
    notifier.send(rebuilt)
    first, second = state.requests
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


@pytest.mark.parametrize(
    "status, ok, retryable",
    [
        (200, True, False),
        (202, True, False),
        (204, True, False),
        (301, False, False),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (408, False, True),
        (413, False, False),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
    ],
)
def test_status_classification(server, client, status, ok, retryable):
    base, state = server
    state.status = status
    state.reply = b"" if status == 204 else b"<html>\n<h1>nope</h1>\n</html>"
    if status == 301:
        state.extra_headers = {"Location": "http://elsewhere.invalid/"}
    outcome = WebhookNotifier(client, timeout=5).send(notification(f"{base}/hook?token={TOKEN}"))
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (ok, retryable, status)
    assert len(state.requests) == 1  # redirects are not followed
    if not ok:
        assert f"status {status}" in outcome.error
        assert "analysts" in outcome.error
        assert TOKEN not in outcome.error and "?" not in outcome.error


def test_503_error_includes_a_one_line_snippet_and_retry_after(server, client):
    base, state = server
    state.status = 503
    state.reply = b"<html>\n  down for\n maintenance</html>"
    state.extra_headers = {"Retry-After": "120"}
    outcome = WebhookNotifier(client, timeout=5).send(notification(f"{base}/hook"))
    assert outcome.retryable and outcome.retry_after == 120.0
    assert "<html> down for maintenance</html>" in outcome.error and "\n" not in outcome.error


def test_error_body_echoing_the_url_is_scrubbed(server, client):
    base, state = server
    state.status = 400
    state.reply = f"bad request to /hook?token={TOKEN}".encode()
    outcome = WebhookNotifier(client, timeout=5).send(notification(f"{base}/hook?token={TOKEN}"))
    assert TOKEN not in outcome.error and "<redacted>" in outcome.error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_is_retryable_and_error_is_clean(client):
    url = f"http://127.0.0.1:{closed_port()}/hook?token={TOKEN}"
    outcome = WebhookNotifier(client, timeout=5).send(notification(url))
    assert not outcome.ok and outcome.retryable and outcome.status_code is None
    assert "ConnectError" in outcome.error
    assert SECRET not in outcome.error and TOKEN not in outcome.error and "?" not in outcome.error
    assert "/hook" not in outcome.error


def mock_client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "exc_type, retryable",
    [
        (httpx.ReadTimeout, True),
        (httpx.ConnectTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.PoolTimeout, True),
        (httpx.ConnectError, True),
        (httpx.ReadError, True),
        (httpx.RemoteProtocolError, True),  # peer reset / closed without a response
        (httpx.UnsupportedProtocol, False),
        (httpx.LocalProtocolError, False),
    ],
)
def test_transport_errors_via_mock_transport(exc_type, retryable):
    url = f"https://hooks.example.com/services/T0/B0/{TOKEN}?key={TOKEN}"

    def handler(request: httpx.Request) -> httpx.Response:
        # A message that (unusually) repeats the URL must still not leak it.
        raise exc_type(f"failed talking to {request.url}", request=request)

    with mock_client(handler) as c:
        outcome = WebhookNotifier(c, timeout=1).send(notification(url))
    assert (outcome.ok, outcome.retryable) == (False, retryable)
    assert exc_type.__name__ in outcome.error
    assert "https://hooks.example.com/..." in outcome.error
    assert TOKEN not in outcome.error and SECRET not in outcome.error


def test_timeout_is_passed_to_the_request():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.extensions["timeout"])
        return httpx.Response(200)

    with mock_client(handler) as c:
        assert WebhookNotifier(c, timeout=2.5).send(notification("https://x.example/hook")).ok
    assert seen == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


@pytest.mark.parametrize(
    "url, error_type",
    [
        (f"http://[::1/hook?token={TOKEN}", "InvalidURL"),
        (f"ftp://x.example/hook?token={TOKEN}", "UnsupportedProtocol"),
        (f"http:///hook?token={TOKEN}", "UnsupportedProtocol"),
    ],
)
def test_malformed_url_is_not_retryable_and_not_leaked(client, url, error_type):
    outcome = WebhookNotifier(client, timeout=1).send(notification(url))
    assert not outcome.ok and not outcome.retryable
    assert error_type in outcome.error and TOKEN not in outcome.error


def test_idempotency_key_is_deterministic_and_content_based():
    a = notification("https://x.example/hook")
    assert a.idempotency_key == notification("https://x.example/hook").idempotency_key
    # the timestamp is not part of the key: a rebuilt notification dedups
    later = build_notification("analysts", "https://x.example/hook", SECRET, [ALERT], {"chain": "lithium"}, "", NOW_TS + 60)
    assert later.idempotency_key == a.idempotency_key
    resolved = Alert(**{**ALERT.__dict__, "state": "resolved", "ends_at": T0})
    other = [
        build_notification("ops", "u", None, [ALERT], {"chain": "lithium"}, "", NOW_TS),
        build_notification("analysts", "u", None, [ALERT], {"chain": "rare_earth"}, "", NOW_TS),
        build_notification("analysts", "u", None, [resolved], {"chain": "lithium"}, "", NOW_TS),
        build_notification(
            "analysts", "u", None, [Alert(**{**ALERT.__dict__, "starts_at": T0.replace(hour=9)})], {"chain": "lithium"}, "", NOW_TS
        ),
    ]
    assert len({a.idempotency_key, *(n.idempotency_key for n in other)}) == 5


def test_idempotency_key_ignores_alert_order():
    second = Alert(**{**ALERT.__dict__, "fingerprint": "1111111111111111", "labels": {**ALERT.labels, "node": "x"}})
    one = build_notification("r", "u", None, [ALERT, second], {}, "", NOW_TS)
    two = build_notification("r", "u", None, [second, ALERT], {}, "", NOW_TS)
    assert one.idempotency_key == two.idempotency_key


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    "attempt, draw, expected",
    [
        (1, 0.5, 15.0),
        (2, 0.5, 30.0),
        (3, 0.999, 119.88),
        (7, 1.0, 1920.0),
        (8, 1.0, 3600.0),  # capped
        (10_000, 0.5, 1800.0),  # no overflow
        (1, 0.0, 0.0),
    ],
)
def test_backoff_full_jitter(attempt, draw, expected):
    assert backoff_seconds(attempt, rng=FixedRandom(draw)) == pytest.approx(expected)


def test_backoff_with_seeded_rng_stays_within_bounds():
    rng = random.Random(42)
    for attempt in range(1, 20):
        assert 0 <= backoff_seconds(attempt, base=10, cap=600, rng=rng) < min(600, 10 * 2 ** (attempt - 1))
    assert 0 <= backoff_seconds(3) < 120  # default OS randomness


@pytest.mark.parametrize("kwargs", [{"attempt": 0}, {"attempt": 1, "base": 0}, {"attempt": 1, "cap": -1}])
def test_backoff_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        backoff_seconds(**kwargs)


def test_idempotency_key_from_body_matches_build_notification_and_ignores_annotations():
    body = webhook_body([ALERT], "analysts", {"chain": "lithium"}, "http://cw.local")
    assert idempotency_key("analysts", body) == notification("https://x.example/").idempotency_key
    reworded = Alert(**{**ALERT.__dict__, "annotations": {"summary": "score moved"}})
    assert idempotency_key("analysts", webhook_body([reworded], "analysts", {"chain": "lithium"}, "")) == (
        idempotency_key("analysts", body)
    )
