"""Slack incoming webhooks: ``POST {"text": ...}`` with Slack's mrkdwn.

The URL (``https://hooks.slack.com/services/T…/B…/<secret>``) is the credential;
there is no signature. Slack answers ``200 ok``, errors with 4xx
(``invalid_payload``, ``channel_not_found``...) and rate limiting with ``429`` and
``Retry-After``, all classified by status. Message text is capped at 40,000
characters; we keep well below. Alert data in the text is escaped as Slack asks
(``&`` ``&amp;``, ``<`` ``&lt;``, ``>`` ``&gt;``), so it can neither break the markup
nor ping (``<!channel>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.integrations import Integration, PreparedRequest, RenderContext
from alerts.templates import SLACK, digest_text, render_text

MAX_TEXT_BYTES = 35_000


def render(ctx: RenderContext) -> dict:
    """The incoming-webhook body."""
    return {"text": render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, ctx.max_bytes, SLACK),
            "mrkdwn": True}


def digest(bodies: Sequence[Mapping[str, Any]], language: str) -> dict:
    """One message for several held back (their text is already escaped)."""
    return {"text": digest_text([b["text"] for b in bodies], language, MAX_TEXT_BYTES), "mrkdwn": True}


def prepare(body: bytes, url: str, secret: str | None, now: datetime,
            idempotency_key: str | None = None) -> PreparedRequest:
    """The stored body, unchanged: the URL is the credential."""
    return PreparedRequest(url=url, body=body, headers={})


INTEGRATION = Integration("slack", render, prepare, None, MAX_TEXT_BYTES, digest=digest)
