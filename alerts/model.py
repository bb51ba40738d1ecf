"""The plain data passed between the alert stages.

All classes are frozen dataclasses holding only built-in types, so they can be
stored, compared in tests and handed across module boundaries without dragging
any behaviour along. Mapping fields are copied on construction, so a caller
mutating its own dict afterwards cannot change an alert behind our back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

REQUIRED_LABELS = ("chain", "node", "kind", "severity")
"""Labels every alert carries; ``node`` is ``""`` for a chain-level alert."""

AlertState = Literal["pending", "firing", "resolved"]


def _str_mapping(what: str, value: Mapping[str, str]) -> dict[str, str]:
    """Copy ``value`` into a dict, insisting on str keys and values."""
    copied = dict(value)
    for key, item in copied.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(
                f"{what} must map str to str; {what}[{key!r}] is {item!r} ({type(item).__name__})"
            )
    return copied


def _check_labels(labels: dict[str, str]) -> None:
    missing = [name for name in REQUIRED_LABELS if name not in labels]
    if missing:
        raise ValueError(f"labels {labels!r} lack required label(s) {', '.join(missing)}")


def _utc(what: str, value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused, not guessed."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(timezone.utc)


def redact_url(url: str) -> str:
    """Return ``url`` reduced to ``scheme://host[:port]`` (plus ``/...`` if it had more).

    Webhook URLs are credentials: DingTalk and WeCom put the token in the query
    (``?access_token=``, ``?key=``), Slack and Feishu put it in the path
    (``/services/T…/B…/secret``, ``/hook/<token>``), and anyone may use
    ``user:password@``. Only the origin is safe to show in logs, errors and reprs,
    and it is enough, next to the receiver name, to tell which endpoint failed.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        # A malformed URL may still hold a token; show nothing of it.
        return "<unparseable URL>"
    if not parts.scheme or not host:
        return "<unparseable URL>"
    if ":" in host:  # IPv6 literal: put the brackets back
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    has_more = parts.path not in ("", "/") or parts.query or parts.fragment
    return origin + ("/..." if has_more else "")


@dataclass(frozen=True)
class AlertCandidate:
    """What a rule says should be firing now, before lifecycle bookkeeping.

    ``labels`` identify and route the alert: at least ``chain``, ``node`` (``""`` for
    a chain-level alert), ``kind`` (e.g. ``"risk_level"``) and ``severity``; rules add
    ``alertname``. ``annotations`` carry the human text: ``summary``, ``summary_zh``,
    ``description``, ``level``, ``score``, ``drivers``; all values are strings, as in
    Alertmanager.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    for_runs: int = 1
    """Consecutive assessments the condition must hold before the alert fires."""

    def __post_init__(self) -> None:
        labels = _str_mapping("labels", self.labels)
        _check_labels(labels)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "annotations", _str_mapping("annotations", self.annotations))
        if not isinstance(self.for_runs, int) or self.for_runs < 1:
            raise ValueError(f"candidate {labels!r}: for_runs must be an int >= 1, got {self.for_runs!r}")


@dataclass(frozen=True)
class Alert:
    """An alert with its lifecycle state.

    ``fingerprint`` is :func:`alerts.fingerprint.identity_fingerprint` of the labels
    (it stays the same when only ``severity``/``alertname`` change). ``starts_at`` is
    when the current episode began (its first assessment, pending included);
    ``ends_at`` is ``None`` while pending or firing and the resolution time once
    resolved. Times are normalised to UTC; naive ones are refused.

    ``pending``: the condition holds but not yet for the rule's ``for`` count of
    consecutive assessments; pending alerts are never notified. ``active_runs``
    counts consecutive assessments the condition held; ``missing_runs`` counts
    consecutive assessments a firing alert was absent but kept firing by the rule's
    ``keep_firing_for`` hold.
    """

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    starts_at: datetime
    ends_at: datetime | None = None
    active_runs: int = 1
    missing_runs: int = 0

    def __post_init__(self) -> None:
        labels = _str_mapping("labels", self.labels)
        _check_labels(labels)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "annotations", _str_mapping("annotations", self.annotations))
        if self.state not in ("pending", "firing", "resolved"):
            raise ValueError(
                f"alert {self.fingerprint}: state must be 'pending', 'firing' or 'resolved', got {self.state!r}")
        object.__setattr__(self, "starts_at", _utc("starts_at", self.starts_at))
        if self.state != "resolved" and self.ends_at is not None:
            raise ValueError(f"alert {self.fingerprint}: a {self.state} alert has no ends_at")
        if self.state == "resolved":
            if self.ends_at is None:
                raise ValueError(f"alert {self.fingerprint}: a resolved alert needs ends_at")
            ends_at = _utc("ends_at", self.ends_at)
            if ends_at < self.starts_at:
                raise ValueError(f"alert {self.fingerprint}: ends_at is before starts_at")
            object.__setattr__(self, "ends_at", ends_at)

    @property
    def is_firing(self) -> bool:
        """True while the alert is firing."""
        return self.state == "firing"

    @property
    def severity(self) -> str:
        """The ``severity`` label."""
        return self.labels["severity"]


@dataclass(frozen=True, repr=False)
class Notification:
    """One webhook POST, ready to be stored in the outbox and sent (and re-sent).

    Everything is computed up front (body bytes, signature headers, idempotency key)
    so that every retry sends exactly the same request. It never holds the signing
    secret, only the signature. The URL may carry a token, and ``headers`` may carry
    credentials, so ``repr`` shows only the URL's origin and the header *names*.
    """

    receiver: str
    idempotency_key: str
    body: bytes
    headers: dict[str, str]
    url: str

    def __post_init__(self) -> None:
        if not isinstance(self.body, bytes):
            raise TypeError(f"Notification.body must be bytes, got {type(self.body).__name__}")
        object.__setattr__(self, "headers", _str_mapping("headers", self.headers))

    def __repr__(self) -> str:
        return (
            f"Notification(receiver={self.receiver!r}, idempotency_key={self.idempotency_key!r}, "
            f"url={redact_url(self.url)!r}, body=<{len(self.body)} bytes>, "
            f"headers={sorted(self.headers)!r})"
        )


@dataclass(frozen=True)
class DeliveryOutcome:
    """The result of one delivery attempt: "failed, and whether retrying can help".

    Mirrors Alertmanager's notifiers, which return ``(retry bool, err error)``
    (``notify/util.go``): ``ok`` means the receiver acknowledged (2xx) and the outbox
    row may be deleted; otherwise ``retryable`` says whether another attempt could
    succeed (timeouts, resets, 408/429/5xx) or not (other 4xx: fix the config).
    ``error`` is a one-line description safe to log: it never contains secrets or
    the URL beyond its origin. ``retry_after`` is the server's ``Retry-After`` in
    seconds, when it sent one, so the caller can wait at least that long.
    """

    ok: bool
    retryable: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.ok and self.retryable:
            raise ValueError("a successful delivery cannot be retryable")
        if not self.ok and not self.error:
            raise ValueError("a failed delivery needs an error message")


__all__ = [
    "REQUIRED_LABELS",
    "Alert",
    "AlertCandidate",
    "AlertState",
    "DeliveryOutcome",
    "Notification",
    "redact_url",
]

