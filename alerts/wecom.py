"""WeCom (企业微信) group robots: ``{"msgtype": "markdown", "markdown": {"content"}}``.

The URL's ``key`` is the credential; there is no signature. WeCom answers HTTP 200
with ``{"errcode": 0}``; ``45009`` means the rate limit (20 messages a minute per
robot) was hit, ``-1`` that the system is busy. Markdown content is limited to
4,096 bytes of UTF-8.
"""

from __future__ import annotations

from datetime import datetime

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.templates import render_text

MAX_TEXT_BYTES = 4_096
RATE_LIMITED = frozenset({45009, -1})


def render(ctx: RenderContext) -> dict:
    """The markdown message."""
    return {"msgtype": "markdown", "markdown": {
        "content": render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, ctx.max_bytes)}}


def prepare(body: bytes, url: str, secret: str | None, now: datetime) -> PreparedRequest:
    """The stored body, unchanged: the URL's key is the credential."""
    return PreparedRequest(url, body, {})


INTEGRATION = Integration("wecom", render, prepare, json_error_check("errcode", RATE_LIMITED, "WeCom"),
                          MAX_TEXT_BYTES, rate=(20, 60.0))
