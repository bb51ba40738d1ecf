"""The signing secret and the URL's token never show in reprs, outcomes or errors."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from alerts.delivery import WebhookNotifier, build_notification
from alerts.model import Alert, Notification, redact_url

SECRET = "hunter2-signing-secret"
TOKEN = "url-token-77aa"
ALERT = Alert(
    fingerprint="0123456789abcdef",
    labels={"chain": "lithium", "node": "", "kind": "risk_level", "severity": "critical"},
    annotations={"summary": "x"},
    state="firing",
    starts_at=datetime(2024, 5, 1, tzinfo=timezone.utc),
)


def make(url: str) -> Notification:
    return build_notification("analysts", url, SECRET, [ALERT], {"chain": "lithium"}, "", 1714550400)


@pytest.mark.parametrize(
    "url",
    [
        f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
        f"https://hooks.slack.com/services/T000/B000/{TOKEN}",
        f"https://user:{TOKEN}@example.com/hook",
        f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}#{TOKEN}",
    ],
)
def test_notification_repr_hides_secret_and_token(url):
    note = make(url)
    text = repr(note) + str(note)
    assert SECRET not in text and TOKEN not in text
    assert "X-Chainwatch-Signature" in text  # header names are shown, values are not
    assert note.headers["X-Chainwatch-Signature"] not in text
    assert all(SECRET not in str(v) for v in note.__dict__.values())


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.UnsupportedProtocol],
)
def test_outcome_text_and_repr_never_hold_secret_or_token(exc):
    url = f"https://hooks.example.com/hook/{TOKEN}?key={TOKEN}"

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(f"{request.url} {request.headers}", request=request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        notifier = WebhookNotifier(client, timeout=1)
        outcome = notifier.send(make(url))
    for text in (repr(outcome), str(outcome), outcome.error or "", repr(notifier)):
        assert SECRET not in text and TOKEN not in text


def test_signature_is_not_the_secret():
    note = make("https://x.example/")
    assert SECRET not in note.body.decode() and all(SECRET not in v for v in note.headers.values())


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com:8443/a?b=c", "https://example.com:8443/..."),
        ("http://[::1]:9000/hook", "http://[::1]:9000/..."),
        ("not a url", "<unparseable URL>"),
        ("http://[bad/x?token=1", "<unparseable URL>"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown
