"""The integrations by receiver kind, and the generic webhook one (contract in docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime

from alerts import alertmanager_api, dingtalk, feishu, slack, wecom
from alerts.integrations import Integration, PreparedRequest, RenderContext
from alerts.payload import webhook_body
from alerts.signing import sign


def _render_webhook(ctx: RenderContext) -> dict:
    return webhook_body(ctx.alerts, ctx.receiver, ctx.group_labels, ctx.external_url, route_key=ctx.route_key,
                        generator_url=lambda a: a.annotations.get("report_url") or ctx.report_url or ctx.external_url)


def _prepare_webhook(body: bytes, url: str, secret: str | None, now: datetime,
                     idempotency_key: str | None = None) -> PreparedRequest:
    # Signed at send time over the exact stored bytes: the body never changes between
    # retries, the timestamp does (and v2 signs it with the Idempotency-Key).
    return PreparedRequest(url, body, sign(body, secret, int(now.timestamp()), idempotency_key) if secret else {})


WEBHOOK = Integration("webhook", _render_webhook, _prepare_webhook)

INTEGRATIONS: dict[str, Integration] = {
    i.kind: i for i in (WEBHOOK, alertmanager_api.INTEGRATION, slack.INTEGRATION, feishu.INTEGRATION,
                        dingtalk.INTEGRATION, wecom.INTEGRATION)
}
"""Receiver kind → integration."""
