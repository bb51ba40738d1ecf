"""DingTalk robots: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``.

With "加签" (signing) on, the URL gets ``&timestamp=<ms>&sign=<...>``
(:func:`alerts.signing.dingtalk_sign`) at send time. DingTalk answers HTTP 200 with
``{"errcode": 0}``; ``130101`` means "sending too fast": a robot takes 20 messages
a minute and is then blocked for 10 minutes. Messages are limited to 20,000 bytes.
"""

from __future__ import annotations

from datetime import datetime

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.signing import dingtalk_sign
from alerts.templates import render_text, title

MAX_TEXT_BYTES = 19_000  # of 20,000 bytes per message, leaving room for the title and JSON
RATE_LIMITED = frozenset({130101, -1})


def render(ctx: RenderContext) -> dict:
    """The markdown message."""
    return {"msgtype": "markdown", "markdown": {
        "title": title(ctx.alerts, ctx.group_labels, ctx.language),
        "text": render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, ctx.max_bytes)}}


def prepare(body: bytes, url: str, secret: str | None, now: datetime) -> PreparedRequest:
    """Sign in the query when a secret is set."""
    if not secret:
        return PreparedRequest(url, body, {})
    timestamp_ms = int(now.timestamp() * 1000)
    separator = "&" if "?" in url else "?"
    return PreparedRequest(f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}",
                           body, {})


INTEGRATION = Integration("dingtalk", render, prepare, json_error_check("errcode", RATE_LIMITED, "DingTalk"),
                          MAX_TEXT_BYTES, rate=(20, 60.0))
