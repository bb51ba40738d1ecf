"""WeCom (企业微信) group robots: ``{"msgtype": "markdown", "markdown": {"content"}}``.

The URL's ``key`` is the credential; there is no signature. WeCom answers HTTP 200
with ``{"errcode": 0}``; ``45009`` means the rate limit (20 messages a minute per
robot) was hit, ``-1`` that the system is busy. Markdown content is limited to
4,096 bytes of UTF-8. @mentions: ``<@userid>`` in the markdown content (markdown
messages cannot mention everyone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.templates import digest_text, render_text

MAX_TEXT_BYTES = 4_096
RATE_LIMITED = frozenset({45009, -1})


def render(ctx: RenderContext) -> dict:
    """The markdown message; @mentions as ``<@userid>`` after the text."""
    marks = " ".join(f"<@{m}>" for m in ctx.mentions)
    budget = ctx.max_bytes - len(marks.encode()) - 2 if marks else ctx.max_bytes
    text = render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, budget)
    return {"msgtype": "markdown", "markdown": {"content": f"{text}\n\n{marks}" if marks else text}}


def digest(bodies: Sequence[Mapping[str, Any]], language: str) -> dict:
    """One markdown message for several held back."""
    return {"msgtype": "markdown", "markdown": {
        "content": digest_text([b["markdown"]["content"] for b in bodies], language, MAX_TEXT_BYTES)}}


def prepare(body: bytes, url: str, secret: str | None, now: datetime,
            idempotency_key: str | None = None) -> PreparedRequest:
    """The stored body, unchanged: the URL's key is the credential."""
    return PreparedRequest(url, body, {})


INTEGRATION = Integration("wecom", render, prepare, json_error_check("errcode", RATE_LIMITED, "WeCom"),
                          MAX_TEXT_BYTES, digest=digest)
