"""Webhook signatures: HMAC-SHA256 with the receiver's shared secret.

Headers (docs/webhooks.md)::

    X-Chainwatch-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-Chainwatch-Timestamp: <unix seconds when the request was signed>
    X-Chainwatch-Signature-V2: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{Idempotency-Key}.{raw body}")>

The first signature covers the body only (kept for existing receivers): a captured
request replays with a fresh ``Idempotency-Key`` and timestamp. Version 2 (the scheme
Stripe uses) also signs the timestamp and the idempotency key, so a receiver that
checks it (:func:`verify_v2`) refuses a request older than its tolerance window and
one whose key was changed; within the window it de-duplicates by the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

SIGNATURE_HEADER = "X-Chainwatch-Signature"
TIMESTAMP_HEADER = "X-Chainwatch-Timestamp"
SIGNATURE_V2_HEADER = "X-Chainwatch-Signature-V2"
#: Default of :func:`verify_v2`: how far (seconds) a request's timestamp may be from the receiver's clock.
DEFAULT_TOLERANCE_SECONDS = 300
_SCHEME = "sha256="


def _digest(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _signed_payload(timestamp: int, idempotency_key: str, body: bytes) -> bytes:
    return f"{int(timestamp)}.{idempotency_key}.".encode("utf-8") + body


def sign(body: bytes, secret: str, timestamp: int, idempotency_key: str | None = None) -> dict[str, str]:
    """Return the signature and timestamp headers for ``body``; with ``idempotency_key``
    (the request's ``Idempotency-Key``) also ``X-Chainwatch-Signature-V2``.

    Raises:
        ValueError: for an empty secret (an HMAC with an empty key proves nothing).
    """
    if not secret:
        raise ValueError("signing secret must not be empty")
    headers = {SIGNATURE_HEADER: _SCHEME + _digest(body, secret), TIMESTAMP_HEADER: str(int(timestamp))}
    if idempotency_key is not None:
        signed = _digest(_signed_payload(timestamp, idempotency_key, body), secret)
        headers[SIGNATURE_V2_HEADER] = f"t={int(timestamp)},v1={signed}"
    return headers


def verify_v2(body: bytes, secret: str, header_value: str | None, idempotency_key: str | None, now: float,
              tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """The receiver's check of ``X-Chainwatch-Signature-V2`` (reference implementation).

    True only if the header's ``t`` is within ``tolerance_seconds`` of ``now`` (unix
    seconds, the receiver's clock) and one of its ``v1`` values is the HMAC-SHA256 of
    ``"{t}.{idempotency_key}.{body}"`` with ``secret``. Several ``v1`` values are
    accepted (one per secret while a secret is rotated). A replay with a fresh
    ``Idempotency-Key`` or a new timestamp fails, as does one older than the window;
    within the window the receiver de-duplicates by ``Idempotency-Key``.
    Comparison in constant time; a malformed or missing header fails.
    """
    if not secret or not header_value or idempotency_key is None:
        return False
    timestamp: int | None = None
    candidates: list[bytes] = []
    for part in header_value.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value.encode("utf-8", "replace"))
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _digest(_signed_payload(timestamp, idempotency_key, body), secret).encode("ascii")
    # Every candidate is compared (no early exit) so timing says nothing about which matched.
    return sum(hmac.compare_digest(expected, candidate) for candidate in candidates) > 0


def verify(body: bytes, secret: str, header_value: str | None) -> bool:
    """True if ``header_value`` (an ``X-Chainwatch-Signature``) signs ``body`` with ``secret``.

    Compares in constant time (``hmac.compare_digest``) so a receiver does not leak,
    through timing, how many leading characters of a forged signature were right.
    Malformed or missing headers simply fail.
    """
    if not secret or not header_value or not header_value.startswith(_SCHEME):
        return False
    expected = (_SCHEME + _digest(body, secret)).encode("ascii")
    # Encode first: compare_digest refuses non-ASCII str, and a forged header may hold any.
    return hmac.compare_digest(expected, header_value.strip().encode("utf-8", "replace"))


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu (Lark) custom-bot signature for ``timestamp`` (unix *seconds*).

    Feishu's documented scheme: the HMAC-SHA256 *key* is ``f"{timestamp}\\n{secret}"``
    and the message is empty; the signature is the digest in base64. It goes in the
    JSON body next to ``"timestamp"`` (as a string); Feishu refuses timestamps more
    than an hour away from its clock.
    """
    if not secret:
        raise ValueError("Feishu signing secret must not be empty")
    key = f"{int(timestamp)}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature for ``timestamp_ms`` (unix *milliseconds*), URL-encoded.

    DingTalk's documented scheme: HMAC-SHA256 with *key* ``secret`` over
    ``f"{timestamp}\\n{secret}"``, base64, then URL-encoded; it goes in the query as
    ``&timestamp=<ms>&sign=<this>``. DingTalk refuses timestamps more than an hour off.
    """
    if not secret:
        raise ValueError("DingTalk signing secret must not be empty")
    message = f"{int(timestamp_ms)}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))
