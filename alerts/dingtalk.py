"""DingTalk robots: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``.

With "加签" (signing) on, the URL gets ``&timestamp=<ms>&sign=<...>``
(:func:`alerts.signing.dingtalk_sign`) at send time. DingTalk answers HTTP 200 with
``{"errcode": 0}``; ``130101`` means "sending too fast": a robot takes 20 messages
a minute and is then blocked for 10 minutes. Messages are limited to 20,000 bytes.
@mentions: ``"at": {"atMobiles": [...], "atUserIds": [...], "isAtAll": bool}`` beside
the message, and ``@<mobile or id>`` in the markdown text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.signing import dingtalk_sign
from alerts.templates import digest_text, render_text, title

MAX_TEXT_BYTES = 19_000  # of 20,000 bytes per message, leaving room for the title and JSON
RATE_LIMITED = frozenset({130101, -1})


def at(mentions: Sequence[str], mention_all: bool) -> dict:
    """DingTalk's ``at`` object: mobile numbers in ``atMobiles``, other ids in ``atUserIds``."""
    mobiles = [m for m in mentions if m.lstrip("+").isdigit()]
    return {"atMobiles": mobiles, "atUserIds": [m for m in mentions if m not in mobiles], "isAtAll": mention_all}


def render(ctx: RenderContext) -> dict:
    """The markdown message; @mentions in ``at`` and, so that DingTalk highlights them, in the text."""
    marks = " ".join(f"@{m}" for m in ctx.mentions)
    budget = ctx.max_bytes - len(marks.encode()) - 2 if marks else ctx.max_bytes
    text = render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, budget)
    body = {"msgtype": "markdown", "markdown": {
        "title": title(ctx.alerts, ctx.group_labels, ctx.language),
        "text": f"{text}\n\n{marks}" if marks else text}}
    if ctx.mentions or ctx.mention_all:
        body["at"] = at(ctx.mentions, ctx.mention_all)
    return body


def digest(bodies: Sequence[Mapping[str, Any]], language: str) -> dict:
    """One markdown message for several held back; the union of their @mentions."""
    text = digest_text([b["markdown"]["text"] for b in bodies], language, MAX_TEXT_BYTES)
    body = {"msgtype": "markdown", "markdown": {"title": text.split("\n", 1)[0], "text": text}}
    ats = [b["at"] for b in bodies if "at" in b]
    if ats:
        mentions = list(dict.fromkeys(m for a in ats for m in [*a["atMobiles"], *a["atUserIds"]]))
        body["at"] = at(mentions, any(a["isAtAll"] for a in ats))
    return body


def prepare(body: bytes, url: str, secret: str | None, now: datetime,
            idempotency_key: str | None = None) -> PreparedRequest:
    """Sign in the query when a secret is set."""
    if not secret:
        return PreparedRequest(url, body, {})
    timestamp_ms = int(now.timestamp() * 1000)
    separator = "&" if "?" in url else "?"
    return PreparedRequest(f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}",
                           body, {})


INTEGRATION = Integration("dingtalk", render, prepare, json_error_check("errcode", RATE_LIMITED, "DingTalk"),
                          MAX_TEXT_BYTES, digest=digest)
