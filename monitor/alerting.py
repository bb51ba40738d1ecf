"""Wiring of the alert pipeline: scores → rules → lifecycle → outbox → delivery.

Alert state and the notifications it causes are written in one transaction; a
notification leaves the outbox's ``pending`` state only when the receiver
acknowledged it (2xx) or its retries are exhausted (``dead``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from alerts.delivery import WebhookNotifier, backoff_seconds, idempotency_key
from alerts.lifecycle import reconcile
from alerts.model import Alert, Notification
from alerts.payload import encode_body, group_key, webhook_body
from alerts.rules import LevelRule, RiskSubject, evaluate_level_rules
from alerts.signing import sign
from monitor.assessment import AssessmentResult
from monitor.clock import Clock
from monitor.config.models import Config, WebhookReceiver
from monitor.metrics import ServiceMetrics
from monitor.storage.alert_store import QueuedNotification, due_messages, load_alerts, save_alerts_and_enqueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertEvaluation:
    """What one evaluation changed."""

    alerts: list[Alert]
    changed: list[Alert]
    queued: int


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass over the outbox did."""

    delivered: int
    retrying: int
    dead: int


def risk_subjects(result: AssessmentResult) -> list[RiskSubject]:
    """Chains and nodes of an assessment, as the alert rules see them."""
    subjects = []
    for chain in result.chains:
        if chain.score is not None:
            subjects.append(RiskSubject(
                chain=chain.chain, node="", level=chain.level, score=chain.score,
                summary_en=f"Chain {chain.name_en} is at {chain.level} (risk score {chain.score:.0f}/100)",
                summary_zh=f"产业链「{chain.name_zh}」预警等级：{_LEVEL_ZH[chain.level]}（风险分 {chain.score:.0f}/100）",
                drivers=chain.drivers,
            ))
        for node in chain.nodes:
            if node.score is None:
                continue
            subjects.append(RiskSubject(
                chain=chain.chain, node=node.node, level=node.level, score=node.score,
                summary_en=f"{chain.name_en} / {node.name_en} is at {node.level} (risk score {node.score:.0f}/100)",
                summary_zh=f"{chain.name_zh} / {node.name_zh} 预警等级：{_LEVEL_ZH[node.level]}（风险分 {node.score:.0f}/100）",
                drivers=node.drivers,
            ))
    return subjects


_LEVEL_ZH = {"none": "无", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


class AlertPipeline:
    """Evaluates rules on an assessment and delivers the resulting notifications."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], client: httpx.Client,
                 clock: Clock, metrics: ServiceMetrics | None = None, rng: random.Random | None = None):
        self._config = config
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._receivers = {r.name: r for r in config.alerts.receivers}
        self._rules = [LevelRule(name=r.name, scope=r.scope, min_level=r.min_level) for r in config.alerts.rules]
        self._notifiers = {r.name: WebhookNotifier(client, timeout=r.timeout_seconds) for r in config.alerts.receivers}
        for receiver in config.alerts.receivers:
            if receiver.url is None:
                log.warning("receiver %s has no URL configured: it is off", receiver.name)

    def _enabled_receivers(self, chain_id: str) -> list[WebhookReceiver]:
        chain = self._config.catalog.chain(chain_id)
        names = chain.receivers or self._config.alerts.default_receivers
        return [self._receivers[n] for n in names if self._receivers[n].url is not None]

    def evaluate(self, result: AssessmentResult) -> AlertEvaluation:
        """Apply the rules, update alert states and queue notifications (one transaction)."""
        now = self._clock()
        candidates = evaluate_level_rules(self._rules, risk_subjects(result), dict(self._config.alerts.severity))
        external_url = self._config.settings.external_url
        with self._sessions.begin() as session:
            previous = load_alerts(session)
            outcome = reconcile(previous, candidates, now)
            by_chain: dict[str, list[Alert]] = {}
            for alert in outcome.changed:
                by_chain.setdefault(alert.labels["chain"], []).append(alert)
            queued = []
            for chain_id, alerts in sorted(by_chain.items()):
                group_labels = {"chain": chain_id}
                for receiver in self._enabled_receivers(chain_id):
                    body = webhook_body(alerts, receiver.name, group_labels, external_url)
                    queued.append(QueuedNotification(
                        idempotency_key=idempotency_key(receiver.name, body),
                        receiver=receiver.name, group_key=group_key(group_labels),
                        body=encode_body(body).decode("utf-8"),
                    ))
            added = save_alerts_and_enqueue(session, list(outcome.alerts.values()), queued, result.run_id, now)
        return AlertEvaluation(alerts=list(outcome.alerts.values()), changed=list(outcome.changed), queued=added)

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Send every due outbox message once; reschedule or dead-letter failures."""
        delivered = retrying = dead = 0
        now = self._clock()
        with self._sessions() as session:
            for message in due_messages(session, now, limit):
                receiver = self._receivers.get(message.receiver)
                if receiver is None or receiver.url is None:
                    continue  # receiver switched off since queuing: keep the message for later
                body = message.body.encode("utf-8")
                headers = {}
                if receiver.secret is not None:
                    headers = sign(body, receiver.secret.get_secret_value(), int(now.timestamp()))
                notification = Notification(receiver=receiver.name, idempotency_key=message.idempotency_key,
                                            body=body, headers=headers, url=receiver.url)
                result = self._notifiers[receiver.name].send(notification)
                message.attempts += 1
                if result.ok:
                    message.status = "delivered"
                    message.delivered_at = self._clock()
                    message.last_error = None
                    delivered += 1
                    outcome = "delivered"
                elif not result.retryable or message.attempts >= receiver.max_attempts:
                    message.status = "dead"
                    message.last_error = result.error
                    dead += 1
                    outcome = "dead"
                    log.error("notification %s to %s given up after %d attempts: %s",
                              message.idempotency_key, receiver.name, message.attempts, result.error)
                else:
                    wait = backoff_seconds(message.attempts, rng=self._rng)
                    message.next_attempt_at = now + timedelta(seconds=wait)
                    message.last_error = result.error
                    retrying += 1
                    outcome = "retrying"
                    log.warning("notification %s to %s failed (%s); retry in %.0f s",
                                message.idempotency_key, receiver.name, result.error, wait)
                # Commit per message so a crash later in the pass never re-sends this one.
                session.commit()
                if self._metrics is not None:
                    self._metrics.notifications.labels(receiver.name, outcome).inc()
        return DeliveryReport(delivered, retrying, dead)
