"""Webhook delivery: build a :class:`~alerts.model.Notification`, POST it, classify the result.

The durable outbox lives in storage; this module only turns alerts into a
self-contained request and reports what one attempt achieved, so the outbox can
delete the row (ok), schedule a retry (:func:`backoff_seconds`) or give up.

httpx exceptions and how they are classified (httpx's own tree, abridged)::

    HTTPError
    └── RequestError
        ├── TransportError
        │   ├── TimeoutException (Connect/Read/Write/PoolTimeout)   retryable
        │   ├── NetworkError (ConnectError, ReadError, ...)         retryable
        │   ├── RemoteProtocolError (peer reset / closed early)     retryable
        │   ├── ProxyError                                          retryable
        │   ├── LocalProtocolError, UnsupportedProtocol             not retryable
        ├── DecodingError, TooManyRedirects                         not retryable
    InvalidURL                                                      not retryable

Responses: 2xx ok; 408, 429 and 5xx retryable; everything else (3xx, other 4xx)
not retryable: the request itself is wrong and sending it again will not help.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from alerts import net
from alerts.model import Alert, DeliveryOutcome, Notification, redact_url
from alerts.payload import encode_body, webhook_body
from alerts.signing import sign

RETRYABLE_STATUS = frozenset({408, 429})
"""4xx codes that mean "try again later" rather than "your request is wrong"."""

_MAX_ERROR_BODY_BYTES = 256
_SYSTEM_RNG = random.SystemRandom()


def user_agent() -> str:
    """The ``User-Agent`` sent with every webhook: ``chainwatch/<version> (alert webhook)``."""
    return net.user_agent("alert webhook")


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date)."""
    return net.parse_retry_after(response.headers.get("Retry-After"))


def _classify_exception(exc: Exception) -> bool:
    """True if an attempt that raised ``exc`` could succeed when repeated."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return False  # our URL or request is malformed: repeating cannot fix it
    return isinstance(exc, httpx.TransportError)


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


#: httpx logs every request's full URL at INFO, and a chat webhook URL is a credential
#: (DingTalk/WeCom tokens in the query, Slack/Feishu in the path): its log lines show
#: only the URLs' origins.
_URL_FILTER = net.RedactingLogFilter(
    lambda message: _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), message) if "://" in message else message)


class WebhookNotifier:
    """Sends :class:`~alerts.model.Notification` objects with an injected ``httpx.Client``.

    ``timeout`` (seconds) bounds each phase of the request (connect, write, read,
    pool wait), so a stuck receiver cannot hold the outbox worker for long. The
    notifier holds no secret: signatures are computed before the notification is
    stored, and error messages show only the URL's origin.
    """

    def __init__(self, client: httpx.Client, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self._client = client
        self._timeout = httpx.Timeout(timeout)
        _URL_FILTER.attach("httpx")

    def __repr__(self) -> str:
        return f"WebhookNotifier(timeout={self._timeout.read!r})"

    def send(self, notification: Notification,
             check: Callable[[bytes], DeliveryOutcome | None] | None = None) -> DeliveryOutcome:
        """POST the notification once and report whether it was acknowledged.

        Sends the stored body unchanged with ``Content-Type: application/json``,
        ``Idempotency-Key``, ``User-Agent`` and the notification's own headers (the
        signature). Redirects are not followed: a redirected POST would be resent
        elsewhere (or turned into a GET), so a 3xx is reported as a config error.
        ``check``, for platforms that report errors inside a 200 answer (Feishu,
        DingTalk, WeCom), reads the 2xx body and may turn it into a failure.
        Never raises for network or HTTP failures; they become the outcome.
        """
        where = f"webhook {notification.receiver!r} at {redact_url(notification.url)}"
        fixed = {
            "Content-Type": "application/json",
            "Idempotency-Key": notification.idempotency_key,
            "User-Agent": user_agent(),
        }
        # HTTP header names are case-insensitive: drop any stored variant of ours
        # rather than send the header twice.
        overridden = {name.lower() for name in fixed}
        headers = {k: v for k, v in notification.headers.items() if k.lower() not in overridden}
        headers.update(fixed)
        try:
            with self._client.stream(
                "POST",
                notification.url,
                content=notification.body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    if check is not None:
                        refused = check(self._read_body(response))
                        if refused is not None:
                            return DeliveryOutcome(ok=False, retryable=refused.retryable, status_code=status,
                                                   error=f"{where}: {net.scrub_url(refused.error or '', notification.url)}")
                    # Acknowledged: the body is irrelevant and reading it could only fail.
                    return DeliveryOutcome(ok=True, retryable=False, status_code=status)
                snippet = self._read_snippet(response)
                retryable = status >= 500 or status in RETRYABLE_STATUS
                error = f"{where}: unexpected status {status} {response.reason_phrase}".rstrip()
                if snippet:
                    error += f": {net.scrub_url(snippet, notification.url)}"
                return DeliveryOutcome(
                    ok=False,
                    retryable=retryable,
                    status_code=status,
                    error=error,
                    retry_after=_retry_after(response) if retryable else None,
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = net.scrub_url(str(exc), notification.url) or "no detail"
            return DeliveryOutcome(
                ok=False,
                retryable=_classify_exception(exc),
                status_code=None,
                error=f"{where}: {type(exc).__name__}: {detail}",
            )

    @staticmethod
    def _read_body(response: httpx.Response, limit: int = 65_536) -> bytes:
        """Up to ``limit`` bytes of an answer; read failures give what was read."""
        chunk = b""
        try:
            for part in response.iter_bytes():
                chunk += part
                if len(chunk) >= limit:
                    break
        except httpx.HTTPError:
            pass
        return chunk[:limit]

    @staticmethod
    def _read_snippet(response: httpx.Response) -> str:
        """The first bytes of an error response, for the log; failures to read are ignored."""
        chunk = b""
        try:
            for part in response.iter_bytes():
                chunk += part
                if len(chunk) >= _MAX_ERROR_BODY_BYTES:
                    break
        except httpx.HTTPError:
            pass
        text = chunk[:_MAX_ERROR_BODY_BYTES].decode("utf-8", "replace")
        return " ".join(text.split())  # one line: receivers like to send HTML pages


def group_idempotency_key(receiver_name: str, group_key: str, sequence: int, alerts: Sequence[Alert]) -> str:
    """``Idempotency-Key`` of the ``sequence``-th notification of a group to a receiver.

    SHA-256 (hex) over the receiver, the group key, the sequence number and, per
    alert in sorted order, fingerprint, state, start and full label set. It is
    computed once, when the notification enters the outbox, and stored with it, so
    every retry (and every re-send after a crash) carries the same key; the
    sequence makes a repeat reminder a new notification, not a duplicate.
    """
    entries = sorted(
        f"{a.fingerprint}\x1f{a.state}\x1f{a.starts_at.isoformat()}\x1f{sorted(a.labels.items())}" for a in alerts)
    digest = hashlib.sha256()
    for piece in (receiver_name, group_key, str(sequence), *entries):
        digest.update(piece.encode("utf-8", "surrogatepass"))
        digest.update(b"\xff")
    return digest.hexdigest()


def digest_idempotency_key(member_keys: Sequence[str]) -> str:
    """``Idempotency-Key`` of a digest: SHA-256 (hex) over its members' keys, in order.

    A digest re-sent after a crash holds the same rows in the same order (the outbox's),
    so a de-duplicating receiver sees the same key.
    """
    return hashlib.sha256("\n".join(["digest", *member_keys]).encode("utf-8")).hexdigest()


def idempotency_key(receiver_name: str, body: Mapping[str, Any]) -> str:
    """Derive the ``Idempotency-Key`` from what a webhook body says, not when it was made.

    ``body`` is a :func:`alerts.payload.webhook_body` result. The key is SHA-256 (hex)
    over the receiver name, the body's ``groupKey`` and, for each alert in sorted
    order, its ``fingerprint``, ``status`` and ``startsAt``, separated by bytes that
    cannot occur in UTF-8. Rebuilding or retrying the same notification gives the
    same key (annotation text and the signing timestamp do not count), so receivers
    can drop duplicates; a new episode (new ``startsAt``) or a resolution (new
    ``status``) gives a new key.
    """
    entries = sorted(f"{a['fingerprint']}\x1f{a['status']}\x1f{a['startsAt']}" for a in body["alerts"])
    digest = hashlib.sha256()
    for piece in (receiver_name, body["groupKey"], *entries):
        digest.update(piece.encode("utf-8", "surrogatepass"))
        digest.update(b"\xff")
    return digest.hexdigest()


def build_notification(
    receiver_name: str,
    url: str,
    secret: str | None,
    alerts: Sequence[Alert],
    group_labels: Mapping[str, str],
    external_url: str,
    now_ts: int,
) -> Notification:
    """Build the complete, signed request for one group of alerts and one receiver.

    The body is :func:`alerts.payload.webhook_body` encoded with
    :func:`alerts.payload.encode_body`; when ``secret`` is given the signature and
    timestamp (``now_ts``, unix seconds) headers are added. The secret itself is
    not kept in the returned object.

    Raises:
        ValueError: if ``alerts`` is empty or ``secret`` is an empty string.
    """
    body = webhook_body(alerts, receiver_name, group_labels, external_url)
    raw = encode_body(body)
    key = idempotency_key(receiver_name, body)
    headers = sign(raw, secret, now_ts, key) if secret is not None else {}
    return Notification(
        receiver=receiver_name,
        idempotency_key=key,
        body=raw,
        headers=headers,
        url=url,
    )


def backoff_seconds(attempt: int, base: float = 30, cap: float = 3600, rng: random.Random | None = None) -> float:
    """Seconds to wait before retrying after ``attempt`` failed attempts (1, 2, ...).

    Exponential backoff with *full jitter*: a uniform draw from
    ``[0, min(cap, base * 2 ** (attempt - 1)))``. The ceiling doubles per failure
    (30 s, 60 s, 120 s, ... up to one hour by default) so a down receiver is not
    hammered; the jitter spreads the retries of many queued notifications so they
    do not all hit the receiver again in the same second when it comes back.
    ``rng`` is injectable for tests; by default the OS random source is used.

    Raises:
        ValueError: if ``attempt < 1`` or ``base``/``cap`` are not positive.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts failed attempts and starts at 1, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError(f"base and cap must be positive seconds, got base={base}, cap={cap}")
    return (rng or _SYSTEM_RNG).random() * net.backoff_ceiling(attempt, base, cap)
