"""Webhook signatures: HMAC-SHA256 of the raw body with the receiver's shared secret.

Headers (DESIGN.md, "Webhook contract")::

    X-Chainwatch-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-Chainwatch-Timestamp: <unix seconds when the notification was built>

The HMAC covers the raw body only, so a receiver verifies the exact bytes it read
before parsing them. The timestamp is *not* covered: it is informational and gives
no replay protection on its own; receivers de-duplicate with ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import hmac

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
