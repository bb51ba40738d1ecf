"""The HTTP side of every network collector: polite, bounded, secret-safe.

One :class:`SourceClient` per source (home-assistant's "one coordinator per
source"): it owns an ``httpx.Client`` with explicit connect/read timeouts and a
descriptive User-Agent, a token-bucket rate limit (:class:`alerts.ratelimit.TokenBucket`) and the
retry policy (:class:`RetryPolicy`). httpx's own transport retries cover connect
errors only, so retrying is done here:

- retried: connect errors, timeouts, other transport errors, HTTP 429 and 5xx;
- waited: ``Retry-After`` (seconds or an HTTP date) when the server sends one, or a
  source-specific hint (UN Comtrade's "Try again in N seconds"), else exponential
  backoff ``min(cap, base * 2**(attempt-1))`` times a jitter factor in [0.5, 1];
- given up: after ``max_attempts`` attempts, on any other 4xx, or when the server
  asks to wait longer than ``max_retry_after_seconds``.

Sleeping and the monotonic clock are injected, so tests never actually wait.

Secrets (API keys) are sent as headers or query parameters but never appear in a log
line or an error message: every URL shown is passed through :func:`alerts.net.redact`, which
blanks known secret query parameters and any known secret value.

Exception tree::

    CollectionError (RuntimeError)      monitor.collect.base: a source failed
      +-- HttpError                     the request failed (after retries) or got a 4xx
      +-- PayloadError                  the response arrived but is not what the API documents
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from alerts.net import RedactingLogFilter, backoff_ceiling, parse_retry_after, redact, user_agent
from alerts.ratelimit import TokenBucket
from monitor.clock import Clock, system_clock
from monitor.collect.base import CollectionError

log = logging.getLogger(__name__)

USER_AGENT = user_agent("+https://github.com/chainwatch/chainwatch; supply-chain risk monitor")
"""Sent with every request, so source operators can tell who is calling."""

RequestObserver = Callable[[str, str], None]
"""``observer(source, outcome)`` is called once per HTTP attempt (for metrics)."""


class HttpError(CollectionError):
    """An HTTP request of a source failed for good (after the retries it deserved)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class PayloadError(CollectionError):
    """A response arrived but its content is not in the API's documented format."""


#: The secrets every client registered: blanked in the ``httpx``/``httpcore`` log lines.
_LOGGED_SECRETS: set[str] = set()
_HTTPX_FILTER = RedactingLogFilter(lambda message: redact(message, _LOGGED_SECRETS))


def _guard_httpx_logs(secrets: Iterable[str]) -> None:
    _LOGGED_SECRETS.update(s for s in secrets if s)
    _HTTPX_FILTER.attach("httpx", "httpcore")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (see the module docstring)."""

    max_attempts: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Delay before attempt ``attempt + 1``: exponential, capped, times ``jitter`` in [0.5, 1]."""
        return backoff_ceiling(attempt, self.backoff_base_seconds, self.backoff_max_seconds) * (0.5 + 0.5 * jitter)


_TRANSIENT = (httpx.TimeoutException, httpx.TransportError)


class SourceClient:
    """HTTP access for one source: rate-limited, retried, timed out, secret-safe.

    ``secrets`` are values that must never print (API keys); ``retry_hint(response)``
    may return seconds to wait for a 429/5xx body that says so without a header.
    """

    def __init__(
        self,
        source: str,
        *,
        timeout: httpx.Timeout | None = None,
        rate_per_second: float = 1.0,
        burst: int = 1,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        observer: RequestObserver | None = None,
        retry_hint: Callable[[httpx.Response], float | None] | None = None,
    ):
        self.source = source
        self.retry = retry or RetryPolicy()
        self._secrets = tuple(s for s in secrets if s)
        _guard_httpx_logs(self._secrets)
        self._sleep = sleep
        self._jitter = jitter
        self._observer = observer
        self._retry_hint = retry_hint
        self.bucket = TokenBucket(burst, burst / rate_per_second)  # ``burst`` at once, ``rate_per_second`` after
        self._monotonic = monotonic
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/csv;q=0.9, */*;q=0.5",
                     **dict(headers or {})},
            timeout=timeout or httpx.Timeout(30.0, connect=10.0),
            transport=transport,
            follow_redirects=True,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def redact(self, text: str) -> str:
        """``text`` safe to log: secret parameters and values blanked."""
        return redact(text, self._secrets)

    def observe(self, outcome: str) -> None:
        """Report one request outcome to the observer (metrics)."""
        if self._observer is not None:
            self._observer(self.source, outcome)

    def get(self, url: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None, *, check_later: bool = False) -> httpx.Response:
        """GET ``url``; returns the 2xx response or raises :class:`HttpError` (message redacted).

        ``check_later``: the caller validates the body and reports ``success`` or
        ``bad_payload`` itself (:meth:`parse_json` does).
        """
        request = self._client.build_request("GET", url, params=params, headers=headers)
        shown = self.redact(str(request.url))
        attempt = 0
        while True:
            attempt += 1
            wait = self.bucket.reserve(self._monotonic())  # the source's rate: wait for a token
            if wait > 0:
                self._sleep(wait)
            try:
                response = self._client.send(request)
                response.read()
            except _TRANSIENT as err:
                outcome = "timeout" if isinstance(err, httpx.TimeoutException) else "connect_error"
                self.observe(outcome)
                problem = f"{type(err).__name__}"
                if attempt >= self.retry.max_attempts:
                    raise HttpError(f"source {self.source!r}: GET {shown} failed after {attempt} attempt(s): "
                                    f"{problem}") from None
                delay = self.retry.backoff(attempt, self._jitter())
                log.debug("source %s: GET %s: %s, retrying in %.1fs", self.source, shown, problem, delay)
                self._sleep(delay)
                continue
            status = response.status_code
            if 200 <= status < 300:
                if not check_later:
                    self.observe("success")
                return response
            retryable = status == 429 or status >= 500
            self.observe("rate_limited" if status == 429 else f"http_{status // 100}xx")
            detail = self.redact(_snippet(response))
            if not retryable:
                raise HttpError(f"source {self.source!r}: GET {shown} returned HTTP {status}: {detail}", status)
            if attempt >= self.retry.max_attempts:
                raise HttpError(f"source {self.source!r}: GET {shown} returned HTTP {status} after {attempt} "
                                f"attempt(s): {detail}", status)
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None and self._retry_hint is not None:
                wait = self._retry_hint(response)
            if wait is None:
                wait = self.retry.backoff(attempt, self._jitter())
            elif wait > self.retry.max_retry_after_seconds:
                raise HttpError(f"source {self.source!r}: GET {shown} returned HTTP {status} and asks to wait "
                                f"{wait:.0f}s (more than {self.retry.max_retry_after_seconds:.0f}s): {detail}",
                                status)
            log.debug("source %s: GET %s: HTTP %d, retrying in %.1fs", self.source, shown, status, wait)
            self._sleep(wait)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        """GET and parse JSON; an HTML page or truncated JSON is a :class:`PayloadError`."""
        return self.parse_json(self.get(url, params, headers, check_later=True))

    def parse_json(self, response: httpx.Response) -> Any:
        """The JSON body of ``response``; an HTML page or truncated JSON is a :class:`PayloadError`."""
        shown = self.redact(str(response.request.url))
        content_type = response.headers.get("Content-Type", "")
        text = response.text
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            self.observe("bad_payload")
            raise PayloadError(f"source {self.source!r}: GET {shown} returned an HTML page instead of JSON: "
                               f"{self.redact(_snippet(response))}")
        try:
            document = json.loads(text)
        except ValueError as err:
            self.observe("bad_payload")
            raise PayloadError(f"source {self.source!r}: GET {shown} returned malformed JSON "
                               f"({err.msg} at character {err.pos} of {len(text)})") from None
        self.observe("success")
        return document

    def get_text(self, url: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> str:
        """GET and return the body as text; an HTML page is a :class:`PayloadError`."""
        response = self.get(url, params, headers, check_later=True)
        if "html" in response.headers.get("Content-Type", "").lower() or response.text.lstrip()[:1] == "<":
            self.observe("bad_payload")
            raise PayloadError(f"source {self.source!r}: GET {self.redact(str(response.request.url))} returned "
                               f"an HTML page instead of data: {self.redact(_snippet(response))}")
        self.observe("success")
        return response.text


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response body on one line, tags stripped (for error messages)."""
    text = re.sub(r"<[^>]+>", " ", response.text)
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"


@dataclass(frozen=True)
class HttpOptions:
    """What tests and the composition root inject into network collectors."""

    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    observer: RequestObserver | None = None


def client_from_settings(settings: Any, options: HttpOptions | None = None, *,
                         headers: Mapping[str, str] | None = None,
                         retry_hint: Callable[[httpx.Response], float | None] | None = None) -> SourceClient:
    """A :class:`SourceClient` configured from a source's ``_HttpSource`` settings."""
    options = options or HttpOptions()
    key = settings.api_key.get_secret_value() if getattr(settings, "api_key", None) is not None else ""
    return SourceClient(
        settings.id,
        timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
        rate_per_second=settings.rate_per_second,
        burst=settings.burst,
        retry=RetryPolicy(max_attempts=settings.max_attempts, backoff_base_seconds=settings.backoff_seconds),
        headers=headers,
        secrets=[key] if key else [],
        transport=options.transport,
        sleep=options.sleep,
        monotonic=options.monotonic,
        jitter=options.jitter,
        observer=options.observer,
        retry_hint=retry_hint,
    )


class HttpSourceCollector:
    """What every API collector holds: its settings, clock and :class:`SourceClient`.

    Subclasses set their own ``incremental`` flag and implement ``collect``; this
    class only saves them the same constructor and ``close``.
    """

    def __init__(self, settings: Any, options: HttpOptions | None = None, clock: Clock = system_clock,
                 **client_options: Any):
        self.source_id = settings.id
        self.lookback_months = settings.lookback_months
        self._settings = settings
        self._clock = clock
        self._client = client_from_settings(settings, options, **client_options)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()
