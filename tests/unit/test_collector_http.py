"""The collector HTTP contract: rate limit, timeouts, retries, Retry-After, secrets."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from alerts.ratelimit import TokenBucket
from monitor.collect.base import CollectionError
from monitor.collect.http import (
    USER_AGENT,
    HttpError,
    PayloadError,
    RetryPolicy,
    SourceClient,
    parse_retry_after,
    redact,
)
from tests.collector_fakes import (
    FakeTime,
    Script,
    html_response,
    json_response,
    local_server,
    send,
)

SECRET = "s3cr3t-KEY-0123456789"


def client(handler, fake: FakeTime | None = None, **kwargs) -> SourceClient:
    fake = fake or FakeTime()
    return SourceClient("test", transport=httpx.MockTransport(handler), sleep=fake.sleep,
                        monotonic=fake.monotonic, jitter=lambda: 1.0, secrets=[SECRET], **kwargs)


def test_token_bucket_spaces_requests_at_the_rate():
    fake = FakeTime()
    bucket = TokenBucket(capacity=2, period=1.0)   # burst 2, then 2 per second

    def acquire() -> float:  # as SourceClient does before each request
        wait = bucket.reserve(fake.monotonic())
        fake.sleep(wait)
        return wait

    waits = [acquire() for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]                       # the burst
    assert waits[2:] == pytest.approx([0.5, 0.5, 0.5])   # then one every 1/rate seconds
    fake.now += 10                                       # idle: the bucket refills, up to burst only
    assert [acquire() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


@pytest.mark.parametrize(("attempt", "jitter", "expected"), [
    (1, 1.0, 2.0), (2, 1.0, 4.0), (3, 1.0, 8.0), (10, 1.0, 60.0), (1, 0.0, 1.0), (3, 0.5, 6.0),
])
def test_backoff_is_exponential_capped_and_jittered(attempt, jitter, expected):
    assert RetryPolicy(backoff_base_seconds=2.0, backoff_max_seconds=60.0).backoff(attempt, jitter) == expected


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_user_agent_and_success():
    script = Script(json_response({"ok": True}))
    assert client(script).get_json("https://api.example.org/x") == {"ok": True}
    assert script.requests[0].headers["User-Agent"] == USER_AGENT
    assert "chainwatch/" in USER_AGENT


def test_5xx_then_success_retries_with_backoff():
    fake = FakeTime()
    observed: list[tuple[str, str]] = []
    script = Script(httpx.Response(503), httpx.Response(502), json_response([1]))
    c = client(script, fake, retry=RetryPolicy(max_attempts=5, backoff_base_seconds=1.0),
               observer=lambda s, o: observed.append((s, o)))
    assert c.get_json("https://api.example.org/x") == [1]
    assert len(script.requests) == 3
    assert fake.sleeps[-2:] == [1.0, 2.0]
    assert observed == [("test", "http_5xx"), ("test", "http_5xx"), ("test", "success")]


def test_429_honours_retry_after_header():
    fake = FakeTime()
    script = Script(httpx.Response(429, headers={"Retry-After": "17"}), json_response({}))
    client(script, fake).get("https://api.example.org/x")
    assert 17.0 in fake.sleeps


def test_retry_after_longer_than_the_cap_gives_up():
    script = Script(httpx.Response(429, headers={"Retry-After": "86400"}))
    with pytest.raises(HttpError, match="asks to wait 86400s"):
        client(script, retry=RetryPolicy(max_retry_after_seconds=300)).get("https://api.example.org/x")
    assert len(script.requests) == 1


def test_gives_up_after_max_attempts():
    script = Script(default=lambda r: httpx.Response(500, text="boom"))
    with pytest.raises(HttpError, match=r"HTTP 500 after 3 attempt\(s\)"):
        client(script, retry=RetryPolicy(max_attempts=3)).get("https://api.example.org/x")
    assert len(script.requests) == 3


def test_4xx_is_not_retried():
    script = Script(httpx.Response(404, text="no such series"))
    with pytest.raises(HttpError, match="HTTP 404: no such series") as info:
        client(script).get("https://api.example.org/x")
    assert info.value.status == 404
    assert len(script.requests) == 1


def test_connect_error_and_timeout_are_retried():
    script = Script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), json_response({"ok": 1}))
    assert client(script).get_json("https://api.example.org/x") == {"ok": 1}
    script = Script(default=lambda r: (_ for _ in ()).throw(httpx.ConnectTimeout("x")))
    with pytest.raises(HttpError, match="ConnectTimeout"):
        client(script, retry=RetryPolicy(max_attempts=2)).get("https://api.example.org/x")


def test_html_page_and_truncated_json_are_payload_errors():
    with pytest.raises(PayloadError, match="HTML page instead of JSON.*Bad Gateway"):
        client(Script(html_response())).get_json("https://api.example.org/x")
    with pytest.raises(PayloadError, match="malformed JSON"):
        client(Script(httpx.Response(200, text='{"data": [1, 2'))).get_json("https://api.example.org/x")
    assert issubclass(PayloadError, CollectionError) and issubclass(HttpError, CollectionError)


def test_secrets_never_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"invalid api_key {SECRET} for this request"
    script = Script(httpx.Response(503, text=echo), httpx.Response(401, text=echo))
    c = client(script)
    with pytest.raises(HttpError) as info:
        c.get("https://api.example.org/x", params={"api_key": SECRET, "series_id": "INDPRO"},
              headers={"Ocp-Apim-Subscription-Key": SECRET})
    message = str(info.value)
    assert SECRET not in message and "api_key=***" in message and "series_id=INDPRO" in message
    assert SECRET not in caplog.text
    assert script.requests[0].url.params["api_key"] == SECRET  # it was sent, just never shown


def test_redact_blanks_known_parameters():
    assert redact("https://x/y?key=abc&get=CTY_CODE&subscription-key=zz") == \
        "https://x/y?key=***&get=CTY_CODE&subscription-key=***"


# -- real sockets ---------------------------------------------------------------------


def test_local_server_503_then_200_with_retry_after():
    calls = []

    def handle(req) -> None:
        calls.append(req.path)
        if len(calls) == 1:
            send(req, 503, '{"message": "maintenance"}', headers={"Retry-After": "2"})
        else:
            send(req, 200, '{"data": [1]}')

    fake = FakeTime()
    with local_server(handle) as url:
        c = SourceClient("local", sleep=fake.sleep, monotonic=fake.monotonic, jitter=lambda: 1.0,
                         timeout=httpx.Timeout(5.0, connect=2.0))
        try:
            assert c.get_json(f"{url}/data") == {"data": [1]}
        finally:
            c.close()
    assert len(calls) == 2 and 2.0 in fake.sleeps


def test_local_server_read_timeout_is_retried_then_reported():
    calls = []

    def handle(req) -> None:
        calls.append(req.path)
        time.sleep(0.5)  # longer than the client's read timeout
        try:
            send(req, 200, "{}")
        except OSError:
            pass

    fake = FakeTime()
    with local_server(handle) as url:
        c = SourceClient("local", sleep=fake.sleep, monotonic=fake.monotonic, jitter=lambda: 1.0,
                         timeout=httpx.Timeout(0.1, connect=1.0), retry=RetryPolicy(max_attempts=2))
        try:
            with pytest.raises(HttpError, match=r"ReadTimeout"):
                c.get(f"{url}/slow")
        finally:
            c.close()
    assert len(calls) == 2


def test_local_server_connection_refused():
    with local_server(lambda req: send(req, 200, "{}")) as url:
        pass  # the server is gone now: the port refuses connections
    c = SourceClient("local", sleep=lambda s: None, retry=RetryPolicy(max_attempts=2),
                     timeout=httpx.Timeout(1.0, connect=1.0))
    with pytest.raises(HttpError, match="ConnectError"):
        c.get(f"{url}/x")
