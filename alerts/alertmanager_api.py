"""Prometheus Alertmanager as a receiver: ``POST <url>/api/v2/alerts``.

Teams already on Alertmanager can take chainwatch's alerts into their own routing,
silences and receivers. The body is a JSON list of "postable alerts" (``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``).

Semantics, as Prometheus keeps them with its own Alertmanager (docs/webhooks.md):

- **Identity.** Alertmanager identifies an alert by its whole label set, so the
  labels sent are only those that say *which* alert it is: ``chain``, ``node``,
  ``kind``, ``series``... plus a stable ``alertname`` derived from scope and kind
  (:func:`stable_alertname`). What changes with the level (``level``, ``severity``,
  the name of the winning rule, the score) goes to the annotations; an escalation
  orange → red therefore updates the one alert instead of leaving the orange copy
  firing beside a new red one.
- **Liveness.** Alertmanager resolves an alert by itself once ``endsAt`` passes, as
  for a Prometheus that went quiet. A firing alert is sent with ``endsAt`` = send
  time + ``validity`` and re-posted every ``resend_interval`` (the pipeline does so
  for this receiver kind whatever the route's ``repeat_interval``), so it never
  lapses while chainwatch has it firing, and lapses ``validity`` after chainwatch
  stopped saying so. A resolved alert is sent with ``endsAt`` = its resolution time.

Labels with empty values are left out: Alertmanager treats them as absent anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.fingerprint import VOLATILE_LABELS
from alerts.integrations import Integration, PreparedRequest, RenderContext
from alerts.model import Alert
from alerts.payload import format_rfc3339

API_PATH = "/api/v2/alerts"
DEFAULT_RESEND_INTERVAL = timedelta(minutes=5)
"""How often firing alerts are re-posted (Prometheus' ``--rules.alert.resend-delay`` is 1 min)."""
VALIDITY_INTERVALS = 4
"""Default ``validity`` = this many resend intervals (Prometheus uses 4 as well)."""
DEFAULT_VALIDITY = DEFAULT_RESEND_INTERVAL * VALIDITY_INTERVALS


def stable_alertname(labels: dict[str, str]) -> str:
    """``alertname`` for Alertmanager: ``Chainwatch<Chain|Node><Kind>``, e.g. ``ChainwatchNodeRiskLevel``.

    It depends only on the scope and the ``kind`` label, never on which rule (of
    several levels) matched, so it stays the same when the level changes.
    """
    scope = "Node" if labels.get("node") else "Chain"
    kind = "".join(part[:1].upper() + part[1:] for part in labels.get("kind", "").replace("-", "_").split("_"))
    return f"Chainwatch{scope}{kind}"


def identity_labels(alert: Alert) -> dict[str, str]:
    """The labels Alertmanager identifies the alert by: nothing that changes with the level."""
    labels = {k: v for k, v in alert.labels.items() if k not in VOLATILE_LABELS and v != ""}
    labels["alertname"] = stable_alertname(alert.labels)
    return labels


def render(ctx: RenderContext, validity: timedelta = DEFAULT_VALIDITY) -> list[dict]:
    """The postable alerts of the group (see the module docstring for labels and ``endsAt``)."""
    alerts = []
    for alert in ctx.alerts:
        # A resolved alert's endsAt must not lie ahead of Alertmanager's clock: it merges an
        # endsAt still in the future like a firing one and keeps the later (older) endsAt.
        ends = min(alert.ends_at, ctx.now) if alert.ends_at is not None else ctx.now + validity
        annotations = {k: v for k, v in alert.annotations.items() if v != ""}
        for name in sorted(VOLATILE_LABELS):  # level, severity, rule: what the alert is now, not which one
            value = alert.labels.get(name, "")
            if value:
                annotations["rule" if name == "alertname" else name] = value
        alerts.append({
            "labels": identity_labels(alert),
            "annotations": annotations,
            "startsAt": format_rfc3339(alert.starts_at),
            "endsAt": format_rfc3339(ends),
            "generatorURL": alert.annotations.get("report_url") or ctx.report_url or ctx.external_url,
        })
    return alerts


def api_url(base_url: str) -> str:
    """``<base>/api/v2/alerts`` (the configured URL may already end with it)."""
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def prepare(body: bytes, url: str, secret: str | None, now: datetime,
            idempotency_key: str | None = None) -> PreparedRequest:
    """POST to the alerts endpoint of ``url``; ``secret``, if set, is a bearer token."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return PreparedRequest(api_url(url), body, headers)


INTEGRATION = Integration("alertmanager", render, prepare)
