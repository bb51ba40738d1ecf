"""The webhook body: Alertmanager's webhook format (version 4), as docs/webhooks.md fixes it.

::

    {"version": "4", "status": "firing|resolved", "receiver", "groupKey",
     "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
     "alerts": [{"status", "fingerprint", "labels", "annotations",
                 "startsAt", "endsAt", "generatorURL"}]}

Existing Alertmanager webhook consumers can read it unchanged. Times are RFC 3339
in UTC with a ``Z``; a firing alert's ``endsAt`` is Go's zero time
``0001-01-01T00:00:00Z``, which is what those consumers test for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from alerts.model import Alert

WEBHOOK_VERSION = "4"
"""The Alertmanager webhook payload version we follow."""

ZERO_TIME_RFC3339 = "0001-01-01T00:00:00Z"
"""``endsAt`` of a firing alert (Go's zero ``time.Time``, as Alertmanager writes it)."""

ROOT_ROUTE_KEY = "{}"
"""Route key of Alertmanager's root route, the prefix of a group key."""


def format_rfc3339(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix.

    Whole seconds print without a fraction (``2024-05-01T08:00:00Z``); otherwise the
    microseconds print with trailing zeros trimmed, like Go's ``RFC3339Nano``.

    Raises:
        ValueError: for a naive datetime (its zone would be a guess).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"cannot format naive datetime {value.isoformat()} as UTC")
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _quote(value: str) -> str:
    """Double-quote ``value`` the way Go's ``strconv.Quote`` does for common text."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)  # printable Unicode (Chinese names) stays as is, as in Go
    out.append('"')
    return "".join(out)


def format_label_set(labels: Mapping[str, str]) -> str:
    """Render labels like Prometheus' ``LabelSet.String()``: ``{a="1", b="2"}``, sorted."""
    return "{" + ", ".join(f"{name}={_quote(labels[name])}" for name in sorted(labels)) + "}"


def group_key(group_labels: Mapping[str, str], route_key: str = ROOT_ROUTE_KEY) -> str:
    """Return the group key ``<route key>:<group labels>``, e.g. ``{}:{chain="lithium"}``.

    Same shape as Alertmanager's ``aggrGroup.GroupKey()``; receivers use it to thread
    notifications about the same group.
    """
    if not isinstance(group_labels, Mapping):
        # Catches group_key(receiver_name, labels)-style calls: the receiver is not
        # part of an Alertmanager group key, and a str would render as nonsense.
        raise TypeError(
            f"group_key(group_labels, route_key='{{}}'): group_labels must be a mapping, "
            f"got {type(group_labels).__name__} {group_labels!r}"
        )
    if not isinstance(route_key, str):
        raise TypeError(f"group_key: route_key must be a str such as '{{}}', got {type(route_key).__name__}")
    return f"{route_key}:{format_label_set(group_labels)}"


def _common(mappings: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The name/value pairs present, with the same value, in every mapping."""
    first, *rest = mappings
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def webhook_body(
    alerts: Sequence[Alert],
    receiver: str,
    group_labels: Mapping[str, str],
    external_url: str,
    *,
    route_key: str = ROOT_ROUTE_KEY,
    generator_url: Callable[[Alert], str] | None = None,
) -> dict[str, Any]:
    """Build the webhook body for one group of alerts, exactly per docs/webhooks.md.

    ``status`` is ``"firing"`` if any alert fires, else ``"resolved"``.
    ``commonLabels``/``commonAnnotations`` hold the pairs shared by all alerts.
    Alerts keep the given order. Each alert's ``generatorURL`` is
    ``generator_url(alert)`` when given, else ``external_url`` (chainwatch has no
    per-rule expression page like Prometheus' graph link).

    Raises:
        ValueError: if ``alerts`` is empty (there is nothing to notify).
    """
    if not alerts:
        raise ValueError(f"webhook_body for receiver {receiver!r}: no alerts to send")
    return {
        "version": WEBHOOK_VERSION,
        "status": "firing" if any(a.is_firing for a in alerts) else "resolved",
        "receiver": receiver,
        "groupKey": group_key(group_labels, route_key),
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "alerts": [
            {
                "status": alert.state,
                "fingerprint": alert.fingerprint,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": format_rfc3339(alert.starts_at),
                "endsAt": format_rfc3339(alert.ends_at) if alert.ends_at is not None else ZERO_TIME_RFC3339,
                "generatorURL": generator_url(alert) if generator_url is not None else external_url,
            }
            for alert in alerts
        ],
    }


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Serialise a body to the exact bytes that are signed and sent.

    Compact separators and sorted keys make the bytes deterministic (same body, same
    signature, same bytes on every retry); ``ensure_ascii=False`` keeps Chinese text
    readable in receivers' logs; NaN/Infinity are refused because they are not JSON.
    """
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
