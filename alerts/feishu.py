"""Feishu (Lark) custom bots: an interactive card with a markdown element.

Body: ``{"msg_type": "interactive", "card": {"header": {...}, "elements":
[{"tag": "markdown", "content": ...}]}}``; with signature verification on, the
body also carries ``"timestamp"`` (unix seconds, as a string) and ``"sign"``
(:func:`alerts.signing.feishu_sign`), added at send time. Feishu answers HTTP 200
with ``{"code": 0}`` on success; ``11232`` means rate limited (100/min, 5/s per bot).
The request body is limited to about 30 KB.
"""

from __future__ import annotations

import json
from datetime import datetime

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.payload import encode_body
from alerts.signing import feishu_sign
from alerts.templates import render_text, title

MAX_TEXT_BYTES = 28_000  # of ~30 KB per request, leaving room for the card around it
RATE_LIMITED = frozenset({11232, 9499})


def render(ctx: RenderContext) -> dict:
    """The card body, without timestamp/sign."""
    firing = any(a.is_firing for a in ctx.alerts)
    return {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": title(ctx.alerts, ctx.group_labels, ctx.language)},
                       "template": "red" if firing else "green"},
            "elements": [{"tag": "markdown", "content": render_text(
                ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, ctx.max_bytes, with_title=False)}],
        },
    }


def prepare(body: bytes, url: str, secret: str | None, now: datetime) -> PreparedRequest:
    """Add ``timestamp`` and ``sign`` to the body when a secret is set."""
    if not secret:
        return PreparedRequest(url, body, {})
    document = json.loads(body)
    timestamp = int(now.timestamp())
    document["timestamp"] = str(timestamp)
    document["sign"] = feishu_sign(secret, timestamp)
    return PreparedRequest(url, encode_body(document), {})


INTEGRATION = Integration("feishu", render, prepare, json_error_check("code", RATE_LIMITED, "Feishu"),
                          MAX_TEXT_BYTES, rate=(100, 60.0))
