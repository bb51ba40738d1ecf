"""What every outgoing HTTP request of chainwatch shares: who is calling, when to
retry, and what never reaches a log.

Used by the collectors (``monitor/collect/http.py``) and the alert receivers
(``alerts/delivery.py``) alike. It lives in ``alerts/`` because ``alerts/`` may not
import ``monitor/`` (docs/architecture.md) while ``monitor/`` may import ``alerts/``;
it needs nothing but the standard library. Rate limiting has its own module,
:mod:`alerts.ratelimit`.

- :func:`user_agent`: ``chainwatch/<version> (<purpose>)``, so an operator can tell
  who calls;
- :func:`parse_retry_after`: a ``Retry-After`` header (delta-seconds or HTTP date);
- :func:`backoff_ceiling`: the exponential backoff ceiling ``min(cap, base * 2**(n-1))``
  each caller draws its jitter under;
- :func:`redact`, :func:`scrub_url`, :class:`RedactingLogFilter`: secrets (API keys,
  webhook tokens) blanked in messages and in httpx's own log lines.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "SECRET_PARAMS",
    "user_agent",
    "parse_retry_after",
    "backoff_ceiling",
    "redact",
    "scrub_url",
    "RedactingLogFilter",
]

#: Query parameters that carry credentials in the APIs chainwatch calls.
SECRET_PARAMS = frozenset({"api_key", "key", "subscription-key", "subscription_key", "token", "apikey"})


@functools.cache
def version() -> str:
    """chainwatch's installed version (``0+unknown`` in a source tree that is not installed)."""
    try:
        return metadata.version("chainwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent(purpose: str) -> str:
    """The ``User-Agent`` of a request: ``chainwatch/<version> (<purpose>)``."""
    return f"chainwatch/{version()} ({purpose})"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None.

    A date in the past gives 0; ``now`` (aware) defaults to the current UTC time.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """``min(cap, base * 2**(attempt-1))``: the longest wait after ``attempt`` failures (1, 2, ...)."""
    exponent = min(max(attempt - 1, 0), 62)  # past 2**62 the ceiling is the cap anyway; no float overflow
    return min(cap, base * 2.0**exponent)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret query parameters (:data:`SECRET_PARAMS`) and every known secret value blanked."""
    names = "|".join(re.escape(n) for n in sorted(SECRET_PARAMS, key=len, reverse=True))
    text = re.sub(rf"(?i)\b({names})=([^&#\s\"']*)", lambda m: f"{m.group(1)}=***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def scrub_url(text: str, url: str) -> str:
    """Remove every sensitive piece of ``url`` from ``text`` (an exception message or an echo).

    A webhook URL is a credential: the whole URL, its query, fragment, user info, its
    path, every query value and path segment long enough to be a token are replaced
    by ``<redacted>`` (a receiver may echo the URL reordered or only part of it).
    """
    try:
        parts = urlsplit(url)
        secrets = [url, parts.query, parts.fragment, parts.password or "", parts.username or ""]
        if len(parts.path) > 1:
            secrets.append(parts.path)
        secrets += [value for _, value in parse_qsl(parts.query, keep_blank_values=True) if len(value) >= 4]
        secrets += [segment for segment in parts.path.split("/") if len(segment) >= 6]
    except ValueError:
        secrets = [url]
    for piece in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(piece, "<redacted>")
    return text


class RedactingLogFilter(logging.Filter):
    """Rewrites log records through ``clean`` (httpx logs every request URL at INFO).

    Works on the formatted message, so that several such filters on one logger
    compose (one may already have folded the arguments into ``msg``).
    """

    def __init__(self, clean: Callable[[str], str]) -> None:
        super().__init__()
        self._clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True

    def attach(self, *loggers: str) -> None:
        """Add this filter to the named loggers (once each)."""
        for name in loggers:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)
