"""Feishu (Lark) custom bots: an interactive card with a markdown element.

Body: ``{"msg_type": "interactive", "card": {"header": {...}, "elements":
[{"tag": "markdown", "content": ...}]}}``; with signature verification on, the
body also carries ``"timestamp"`` (unix seconds, as a string) and ``"sign"``
(:func:`alerts.signing.feishu_sign`), added at send time. Feishu answers HTTP 200
with ``{"code": 0}`` on success; ``11232`` means rate limited (100/min, 5/s per bot).
The request body is limited to about 30 KB. @mentions in the card's markdown:
``<at id=all></at>`` (everyone) and ``<at id=ou_…></at>`` (a user's open_id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.integrations import Integration, PreparedRequest, RenderContext, json_error_check
from alerts.payload import encode_body
from alerts.signing import feishu_sign
from alerts.templates import digest_text, render_text, title

MAX_TEXT_BYTES = 28_000  # of ~30 KB per request, leaving room for the card around it
RATE_LIMITED = frozenset({11232, 9499})


def mention_marks(mentions: Sequence[str], mention_all: bool) -> str:
    """Card markdown @mentions: ``<at id=all></at>``, ``<at id=ou_…></at>``."""
    return " ".join(f"<at id={m}></at>" for m in (*(["all"] if mention_all else []), *mentions))


def _card(header: str, content: str, firing: bool) -> dict:
    return {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": header}, "template": "red" if firing else "green"},
            "elements": [{"tag": "markdown", "content": content}],
        },
    }


def render(ctx: RenderContext) -> dict:
    """The card body, without timestamp/sign; @mentions after the text."""
    marks = mention_marks(ctx.mentions, ctx.mention_all)
    budget = ctx.max_bytes - len(marks.encode()) - 2 if marks else ctx.max_bytes
    text = render_text(ctx.alerts, ctx.group_labels, ctx.language, ctx.report_url, budget, with_title=False)
    return _card(title(ctx.alerts, ctx.group_labels, ctx.language), f"{text}\n\n{marks}" if marks else text,
                 any(a.is_firing for a in ctx.alerts))


def digest(bodies: Sequence[Mapping[str, Any]], language: str) -> dict:
    """One card for several held back: each card's title and text."""
    texts = [f"**{b['card']['header']['title']['content']}**\n{b['card']['elements'][0]['content']}" for b in bodies]
    text = digest_text(texts, language, MAX_TEXT_BYTES)
    return _card(text.split("\n", 1)[0], text, any(b["card"]["header"].get("template") == "red" for b in bodies))


def prepare(body: bytes, url: str, secret: str | None, now: datetime,
            idempotency_key: str | None = None) -> PreparedRequest:
    """Add ``timestamp`` and ``sign`` to the body when a secret is set."""
    if not secret:
        return PreparedRequest(url, body, {})
    document = json.loads(body)
    timestamp = int(now.timestamp())
    document["timestamp"] = str(timestamp)
    document["sign"] = feishu_sign(secret, timestamp)
    return PreparedRequest(url, encode_body(document), {})


INTEGRATION = Integration("feishu", render, prepare, json_error_check("code", RATE_LIMITED, "Feishu"),
                          MAX_TEXT_BYTES, digest=digest)
