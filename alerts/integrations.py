"""Receiver integrations: how a group of alerts becomes one platform's request.

Each integration has two halves, split by the outbox:

- ``render`` (at flush time) builds the platform's JSON body from the alerts. It
  holds no secret, so it is stored in the outbox as is and every retry sends the
  same content.
- ``prepare`` (at each send) turns the stored body into the final request: URL,
  bytes and headers, adding what depends on the secret or the clock (signatures,
  Feishu's ``timestamp``/``sign`` fields, DingTalk's signed query). Secrets therefore
  never reach the database, and signatures are fresh (Feishu and DingTalk refuse
  timestamps more than an hour old, which a retry after a long outage would be).
- ``check`` reads a 2xx answer's body where the platform reports errors inside it
  (Feishu ``code``, DingTalk/WeCom ``errcode``) and says whether retrying can help.

Integrations: ``webhook`` (contract in docs/webhooks.md), ``alertmanager`` (``POST
/api/v2/alerts``), ``slack``, ``feishu``, ``dingtalk``, ``wecom``; the per-platform
modules hold the formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.model import Alert, DeliveryOutcome


@dataclass(frozen=True)
class RenderContext:
    """Everything a renderer may use about one group notification."""

    alerts: Sequence[Alert]
    receiver: str
    group_labels: Mapping[str, str]
    route_key: str
    external_url: str
    report_url: str
    language: str
    max_bytes: int
    now: datetime
    mentions: tuple[str, ...] = ()
    """Who the message @mentions (chat receivers' ``mentions``: DingTalk mobile numbers or
    user ids, Feishu open_ids, WeCom user ids)."""
    mention_all: bool = False
    """@mention everyone in the group (DingTalk ``isAtAll``, Feishu ``<at id=all>``)."""


@dataclass(frozen=True)
class PreparedRequest:
    """The final request of one attempt (never stored: it may hold credentials)."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Integration:
    """One receiver kind (see module docstring)."""

    kind: str
    render: Callable[[RenderContext], Any]
    prepare: Callable[[bytes, str, str | None, datetime, str], PreparedRequest]
    """(body, url, secret, now, Idempotency-Key) -> the request of one attempt."""
    check: Callable[[bytes], DeliveryOutcome | None] | None = None
    max_bytes: int | None = None
    """The platform's size limit of the message text (bytes of UTF-8)."""
    digest: Callable[[Sequence[Mapping[str, Any]], str], Any] | None = None
    """``digest(bodies, language)``: one body standing for several rendered bodies that the
    platform's rate limit held back (:class:`alerts.ratelimit.DigestQueue`)."""


def json_error_check(field: str, retryable_codes: frozenset[int], platform: str) -> Callable[[bytes], DeliveryOutcome | None]:
    """A ``check`` for platforms answering 200 with ``{field: 0}`` on success.

    Non-JSON answers count as success (the HTTP status already said 2xx); a
    non-zero code is a failure, retryable only for the listed (rate-limit, busy)
    codes. The error text holds the code and the platform's message, never the URL.
    """

    def check(content: bytes) -> DeliveryOutcome | None:
        try:
            answer = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(answer, dict):
            return None
        code = answer.get(field, answer.get("StatusCode", 0))
        if code in (0, None):
            return None
        message = str(answer.get("msg") or answer.get("errmsg") or answer.get("StatusMessage") or "")[:200]
        return DeliveryOutcome(ok=False, retryable=code in retryable_codes, status_code=200,
                               error=f"{platform} refused the message: {field} {code}: {message}")

    return check
