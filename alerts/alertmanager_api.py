"""Prometheus Alertmanager as a receiver: ``POST <url>/api/v2/alerts``.

Teams already on Alertmanager can take chainwatch's alerts into their own routing,
silences and receivers. The body is a JSON list of "postable alerts" (``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``). Alertmanager resolves
an alert by itself once ``endsAt`` passes, as it would for a Prometheus that went
quiet, so a firing alert is sent with ``endsAt`` = send time + ``validity`` and the
route's ``repeat_interval`` for this receiver must be shorter than ``validity``
(the pipeline re-posts firing groups every ``repeat_interval``, acknowledged or not).
Resolved alerts are sent with their real ``endsAt``. Labels with empty values are
left out: Alertmanager treats them as absent anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.integrations import Integration, PreparedRequest, RenderContext
from alerts.payload import format_rfc3339

API_PATH = "/api/v2/alerts"
DEFAULT_VALIDITY = timedelta(hours=48)


def render(ctx: RenderContext, validity: timedelta = DEFAULT_VALIDITY) -> list[dict]:
    """The postable alerts of the group."""
    alerts = []
    for alert in ctx.alerts:
        ends = alert.ends_at if alert.ends_at is not None else ctx.now + validity
        alerts.append({
            "labels": {k: v for k, v in alert.labels.items() if v != ""},
            "annotations": {k: v for k, v in alert.annotations.items() if v != ""},
            "startsAt": format_rfc3339(alert.starts_at),
            "endsAt": format_rfc3339(ends),
            "generatorURL": ctx.report_url or ctx.external_url,
        })
    return alerts


def api_url(base_url: str) -> str:
    """``<base>/api/v2/alerts`` (the configured URL may already end with it)."""
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def prepare(body: bytes, url: str, secret: str | None, now: datetime) -> PreparedRequest:
    """POST to the alerts endpoint of ``url``; ``secret``, if set, is a bearer token."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return PreparedRequest(api_url(url), body, headers)


INTEGRATION = Integration("alertmanager", render, prepare, None, None, None)
