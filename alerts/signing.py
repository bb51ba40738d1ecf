"""Webhook signatures: HMAC-SHA256 of the raw body with the receiver's shared secret.

Headers (docs/webhooks.md)::

    X-Chainwatch-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-Chainwatch-Timestamp: <unix seconds when the notification was built>

The HMAC covers the raw body only, so a receiver verifies the exact bytes it read
before parsing them. The timestamp is *not* covered: it is informational and gives
no replay protection on its own; receivers de-duplicate with ``Idempotency-Key``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

SIGNATURE_HEADER = "X-Chainwatch-Signature"
TIMESTAMP_HEADER = "X-Chainwatch-Timestamp"
_SCHEME = "sha256="


def _digest(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Return the signature and timestamp headers for ``body``.

    Raises:
        ValueError: for an empty secret (an HMAC with an empty key proves nothing).
    """
    if not secret:
        raise ValueError("signing secret must not be empty")
    return {SIGNATURE_HEADER: _SCHEME + _digest(body, secret), TIMESTAMP_HEADER: str(int(timestamp))}


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
