"""Wiring of the alert pipeline: scores → rules → lifecycle → routing → groups → outbox → delivery.

Stages, as in Alertmanager (each is a pure function in ``alerts/``):

1. ``evaluate``: rules turn the assessment into candidates; the lifecycle reconciles
   them with the stored alerts (pending → firing → resolved); the new states are
   stored, and the groups are flushed, in one transaction.
2. ``flush`` (also run before each dispatch, for group_wait/group_interval,
   repeat_interval and escalation): each alert is routed; silenced and inhibited
   alerts are muted; per (receiver, group) the notification log decides whether
   and what to notify; the rendered notification enters the outbox in the same
   transaction as the log entry.
3. ``deliver_due``: each due outbox message is claimed (lease + attempt, committed
   before sending), sent, and its outcome committed: delivered, retried later
   (only retryable failures; ``Retry-After`` honoured), or dead with the reason
   (refused, ``max_attempts`` answered failures, or older than the receiver's
   ``max_age``; an unreachable receiver is retried until ``max_age``). A chat bot's
   messages pass its sliding window; those waiting for its last free slot go as one
   digest whose rows are claimed, and delivered, together.

A notification leaves ``pending`` only when the receiver acknowledged it (2xx) or
it is dead-lettered; a crash at any point re-sends it with the same key.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alerts import alertmanager_api
from alerts.fingerprint import identity_fingerprint
from alerts.delivery import WebhookNotifier, backoff_seconds, digest_idempotency_key, group_idempotency_key
from alerts.grouping import decide_flush
from alerts.inhibition import InhibitRule, inhibited
from alerts.integrations import RenderContext
from alerts.lifecycle import reconcile
from alerts.matchers import Matcher
from alerts.model import Alert, Notification
from alerts.payload import encode_body, group_key
from alerts.ratelimit import DigestQueue, SlidingWindow, chat_window
from alerts.receivers import INTEGRATIONS
from alerts.routing import Escalation, Route, RouteMatch, Timing, match_routes
from alerts.rules import (
    ExposureChangeRule,
    FindingEvent,
    FindingRule,
    LevelChangeRule,
    LevelRule,
    RiskSubject,
    Rule,
    evaluate_rules,
    keep_firing_for,
)
from alerts.silences import muted_fingerprints
from indicators.vocabulary import LEVEL_NAMES_ZH
from monitor.assess.assessment import AssessmentResult
from monitor.clock import Clock, as_utc
from monitor.config.models import AlertRule, Config, RouteConfig
from monitor.telemetry.metrics import ServiceMetrics
from monitor.notify.policy_events import policy_event_findings
from monitor.store.alert_store import (
    QueuedNotification,
    claim,
    due_messages,
    enqueue,
    list_silences,
    load_acknowledgements,
    load_alerts,
    load_group_logs,
    save_alerts,
    save_group_log,
)
from monitor.store.simulated_data import assessed_rows_simulated, assessed_series
from monitor.stress.runs import stress_alert_candidates, stress_alert_subjects
from monitor.store.tables import OutboxMessage

log = logging.getLogger(__name__)

ORPHAN_MAX_AGE = timedelta(hours=24)
"""Messages of a receiver removed from the config (or switched off) are dead after this."""


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


def risk_subjects(result: AssessmentResult, config: Config | None = None) -> list[RiskSubject]:
    """Chains and nodes of an assessment, as the alert rules see them."""
    thresholds = config.settings.assessment.levels if config is not None else None
    common = {"data_period": result.as_of.strftime("%Y-%m")} if result.as_of is not None else {}
    base = config.settings.external_url.rstrip("/") if config is not None else None

    def extra(level: str, drivers_zh: list[str], completeness: float) -> dict[str, str]:
        out = dict(common)
        # How much of the subject's data the level stands on (a partial picture is said so).
        out["completeness"] = f"{completeness:.0%}"
        if thresholds is not None and level in ("blue", "yellow", "orange", "red"):
            out["threshold"] = f"{level} ≥ {getattr(thresholds, level):g}"
            out["threshold_zh"] = f"{LEVEL_NAMES_ZH[level]} ≥ {getattr(thresholds, level):g}"
        if drivers_zh:
            out["drivers_zh"] = "；".join(drivers_zh)
        return out

    subjects = []
    for chain in result.chains:
        common.update(chain_name=chain.name_en, chain_name_zh=chain.name_zh)
        if base is not None:
            # The chain's section of the latest report (served at a stable URL, docs/report.md).
            common["report_url"] = f"{base}/reports/latest#chain-{chain.chain}"
        if chain.score is not None:
            subjects.append(RiskSubject(
                chain=chain.chain, node="", level=chain.level, score=chain.score,
                summary_en=f"Chain {chain.name_en} is at {chain.level} (risk score {chain.score:.0f}/100)",
                summary_zh=f"产业链「{chain.name_zh}」预警等级：{LEVEL_NAMES_ZH[chain.level]}（风险分 {chain.score:.0f}/100）",
                drivers=chain.drivers, previous_level=getattr(chain.judgement, "previous_level", None),
                annotations=extra(chain.level, list(getattr(chain, "drivers_zh", [])),
                                  chain.judgement.completeness),
            ))
        for node in chain.nodes:
            if node.score is None:
                continue
            subjects.append(RiskSubject(
                chain=chain.chain, node=node.node, level=node.level, score=node.score,
                summary_en=f"{chain.name_en} / {node.name_en} is at {node.level} (risk score {node.score:.0f}/100)",
                summary_zh=f"{chain.name_zh} / {node.name_zh} 预警等级：{LEVEL_NAMES_ZH[node.level]}（风险分 {node.score:.0f}/100）",
                drivers=node.drivers, previous_level=getattr(node.judgement, "previous_level", None),
                annotations={**extra(node.level, list(node.drivers_zh), node.judgement.completeness),
                             "node_name": node.name_en, "node_name_zh": node.name_zh},
            ))
    return subjects


def finding_events(result: AssessmentResult) -> list[FindingEvent]:
    """Flagged detector findings as plain data; ``kind`` is ``<method>_<direction>``."""
    levels = {(c.chain, n.node): n.level for c in result.chains for n in c.nodes}
    events = []
    for chain, node, finding in result.findings:
        if finding.status != "flagged":
            continue
        level = levels.get((chain, node), "none")
        events.append(FindingEvent(
            chain=chain, node=node, kind=f"{finding.method}_{finding.direction or 'flagged'}",
            # A flagged finding is evidence of its own even where the node's level is none or unknown.
            series=finding.series_id, level=level if level not in ("none", "unknown") else "blue",
            summary_en=finding.explanation_en, summary_zh=finding.explanation_zh,
            observed=_finite(finding.observed), expected=_finite(finding.expected), score=_finite(finding.score),
            period=finding.period.strftime("%Y-%m") if finding.period is not None else "",
        ))
    return events


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def build_rules(rules: list[AlertRule]) -> list[Rule]:
    """Config rules as :mod:`alerts.rules` objects."""
    built: list[Rule] = []
    for r in rules:
        severity = dict(r.severity) if r.severity else None
        if r.kind == "level":
            built.append(LevelRule(r.name, r.scope, r.min_level or "orange", r.for_runs, r.keep_firing_for, severity))
        elif r.kind == "exposure_change":
            built.append(ExposureChangeRule(r.name, r.scope, r.min_level or "orange", r.for_runs,
                                            r.keep_firing_for, severity))
        elif r.kind == "level_change":
            built.append(LevelChangeRule(r.name, r.scope, r.min_level or "yellow", r.for_runs, r.keep_firing_for,
                                         severity))
        else:
            built.append(FindingRule(r.name, tuple(r.kinds), r.min_level or "blue", r.for_runs, r.keep_firing_for,
                                     severity))
    return built


def build_route(config: RouteConfig) -> Route:
    """The config's routing tree as an :class:`alerts.routing.Route`."""
    timing = None
    if any(v is not None for v in (config.group_wait, config.group_interval, config.repeat_interval)):
        default = Timing()
        timing = Timing(config.group_wait if config.group_wait is not None else default.group_wait,
                        config.group_interval or default.group_interval,
                        config.repeat_interval or default.repeat_interval)
    return Route(
        matchers=tuple(Matcher.parse(m) for m in config.matchers),
        receivers=tuple(config.receivers) if config.receivers is not None else None,
        group_by=tuple(config.group_by) if config.group_by is not None else None,
        timing=timing,
        escalation=Escalation(config.escalate.receiver, config.escalate.after) if config.escalate else None,
        continue_=config.continue_,
        routes=tuple(build_route(child) for child in config.routes),
    )


class AlertPipeline:
    """Evaluates rules on an assessment, flushes groups and delivers the outbox."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], client: httpx.Client,
                 clock: Clock, metrics: ServiceMetrics | None = None, rng: random.Random | None = None,
                 *, monotonic: Callable[[], float] = time.monotonic,
                 lease_margin: timedelta = timedelta(seconds=30)):
        self._config = config
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._lease_margin = lease_margin
        alerts = config.alerts
        self._receivers = {r.name: r for r in alerts.receivers}
        self._rules = build_rules(list(alerts.rules))
        self._holds = keep_firing_for(self._rules)
        self._route = build_route(alerts.route)
        self._inhibit = [InhibitRule(tuple(Matcher.parse(m) for m in r.source_matchers),
                                     tuple(Matcher.parse(m) for m in r.target_matchers), tuple(r.equal))
                         for r in alerts.inhibit_rules]
        self._notifiers = {r.name: WebhookNotifier(client, timeout=r.timeout_seconds) for r in alerts.receivers}
        # Chat bots: a sliding window per bot (every platform limit at once, docs/webhooks.md).
        self._windows: dict[str, SlidingWindow] = {}
        self._windows_lock = threading.Lock()  # the assess and dispatch jobs may deliver at once
        for receiver in alerts.receivers:
            window = chat_window(receiver.kind, getattr(receiver, "rate_per_minute", None))
            if window is not None:
                self._windows[receiver.name] = window
        # Said once, at the first evaluation: commands that never notify (collect, report,
        # alerts list…) have no reason to mention it.
        self._unannounced_off = [r.name for r in alerts.receivers if r.url is None]

    # --- routing -----------------------------------------------------------------

    def _enabled(self, name: str) -> bool:
        receiver = self._receivers.get(name)
        return receiver is not None and receiver.url is not None

    def chain_receivers(self, chain_id: str) -> list[str]:
        """The chain's own receivers (链长制): its ``receivers`` and its contacts' receivers,
        else ``default_receivers``."""
        try:
            chain = self._config.catalog.chain(chain_id)
            names = list(chain.receivers) + [c.receiver for c in chain.contacts if c.receiver]
        except KeyError:
            names = []
        return list(dict.fromkeys(names or self._config.alerts.default_receivers))

    def routes_for(self, alert: Alert) -> list[RouteMatch]:
        """The routes an alert ends in."""
        return match_routes(self._route, alert.labels, self.chain_receivers)

    # --- evaluation ------------------------------------------------------------------

    def evaluate(self, result: AssessmentResult) -> AlertEvaluation:
        """Apply the rules, update alert states and flush the groups (one transaction)."""
        for name in self._unannounced_off:
            log.warning("receiver %s has no URL configured: it is off", name)
        self._unannounced_off = []
        now = self._clock()
        with self._sessions() as session:
            # Stored policy events alert as findings on their nodes (docs/events.md).
            events = finding_events(result) + policy_event_findings(session, self._config.catalog, now.date())
        candidates = evaluate_rules(self._rules, risk_subjects(result, self._config), events,
                                    dict(self._config.alerts.severity))
        with self._sessions() as session:
            # Chains whose latest stress test crosses stress.alert_threshold alert too.
            candidates += stress_alert_candidates(stress_alert_subjects(session, self._config),
                                                  dict(self._config.alerts.severity))
            simulated = assessed_rows_simulated(session, self._config.catalog.home, assessed_series(self._config))
        if simulated:
            # Every notification says so when the assessed rows include demo rows (docs/provenance.md).
            candidates = [replace(c, annotations={**c.annotations, "simulated_data": "true"}) for c in candidates]
        with self._sessions.begin() as session:
            previous = load_alerts(session)
            candidates = self._expire_events(candidates, previous, now)
            outcome = reconcile(previous, candidates, now, resolved_retention=self._config.alerts.resolved_retention,
                                keep_firing_for=self._holds)
            save_alerts(session, outcome.alerts, result.run_id, now, drop_missing=True)
            queued = self._flush(session, now, outcome.alerts)
        return AlertEvaluation(alerts=list(outcome.alerts.values()), changed=list(outcome.changed), queued=queued)

    def _expire_events(self, candidates: list, previous: dict[str, Alert], now: datetime) -> list:
        """Drop event candidates whose alert fired longer than its rule's ``resolve_after`` (they resolve)."""
        limits = {r.name: r.resolve_after for r in self._config.alerts.rules if r.resolve_after is not None}
        if not limits:
            return candidates
        kept = []
        for candidate in candidates:
            limit = limits.get(candidate.labels.get("alertname", ""))
            alert = previous.get(identity_fingerprint(candidate.labels)) if limit is not None else None
            if alert is not None and alert.is_firing and now - alert.starts_at >= limit:
                continue  # expired: resolves now
            if (alert is not None and alert.state == "resolved" and alert.ends_at is not None
                    and alert.ends_at - alert.starts_at >= limit and now - alert.ends_at < limit):
                continue  # expired before and the finding persists: quiet for one more resolve_after
            kept.append(candidate)
        return kept

    def flush(self) -> int:
        """Flush every group that is due (group_wait, group_interval, repeat, escalation).

        Returns the number of notifications queued. A concurrent flush of the same
        group (another process) makes this one roll back; the next tick retries.
        """
        now = self._clock()
        try:
            with self._sessions.begin() as session:
                return self._flush(session, now, load_alerts(session))
        except (IntegrityError, OperationalError) as err:
            log.warning("alert flush deferred (concurrent flush or database busy): %s", type(err).__name__)
            return 0

    def _flush(self, session: Session, now: datetime, alerts: dict[str, Alert]) -> int:
        acks = load_acknowledgements(session)
        muted = muted_fingerprints(list_silences(session, now), alerts.values(), now)
        muted |= set(inhibited(self._inhibit, [a for a in alerts.values() if a.fingerprint not in muted]))
        groups: dict[tuple[str, str], tuple[RouteMatch, dict[str, str], str, list[Alert]]] = {}

        def add(receiver: str, match: RouteMatch, labels: dict[str, str], route_key: str, alert: Alert) -> None:
            if not self._enabled(receiver):
                return
            key = group_key(labels, route_key)
            groups.setdefault((receiver, key), (match, labels, route_key, []))[3].append(alert)

        for alert in sorted(alerts.values(), key=lambda a: (a.labels.get("node", ""), a.fingerprint)):
            if alert.state == "pending" or alert.fingerprint in muted:
                continue
            for match in self.routes_for(alert):
                labels = match.group_labels(alert.labels)
                for receiver in match.receivers:
                    add(receiver, match, labels, match.key, alert)
                esc = match.escalation
                if (esc is not None and alert.is_firing and alert.fingerprint not in acks
                        and now >= alert.starts_at + esc.after):
                    add(esc.receiver, match, labels, match.key + "/escalation", alert)

        logs = load_group_logs(session)
        queued: list[QueuedNotification] = []
        for (receiver_name, key), (match, labels, route_key, members) in sorted(groups.items()):
            receiver = self._receivers[receiver_name]
            before = logs.get((receiver_name, key))
            timing = match.timing
            if receiver.kind != "alertmanager":
                # A register change is news once: its resolution at the next unchanged
                # assessment is not announced to people (Alertmanager still gets the state).
                members = [a for a in members if not (a.state == "resolved" and a.labels.get("kind") == "exposure_change")]
            if receiver.kind == "alertmanager":
                # Alertmanager groups, waits and repeats by itself; what it needs from us is the
                # current state at once and a re-post of every firing alert each resend_interval
                # (else it resolves them at endsAt), acknowledged or not (docs/webhooks.md).
                timing = Timing(group_wait=timing.group_wait, group_interval=timedelta(0),
                                repeat_interval=receiver.resend_interval)
            acked = frozenset() if receiver.kind == "alertmanager" else frozenset(acks)
            decision = decide_flush(members, before, timing, now, acked)
            if decision.log != before:
                save_group_log(session, receiver_name, key, decision.log)
            if not decision.alerts:
                continue
            body = self._render(receiver, decision.alerts, labels, route_key, now)
            queued.append(QueuedNotification(
                idempotency_key=group_idempotency_key(receiver_name, key, decision.log.sequence, decision.alerts),
                receiver=receiver_name, group_key=key, body=encode_body(body).decode("utf-8")))
            log.info("notification to %s for group %s queued (%s, %d alert(s))",
                     receiver_name, key, decision.reason, len(decision.alerts))
        return enqueue(session, queued, now)

    def _render(self, receiver, alerts, labels, route_key: str, now: datetime):  # noqa: ANN001, ANN202
        integration = INTEGRATIONS[receiver.kind]
        max_bytes = getattr(receiver, "max_bytes", None) or integration.max_bytes or 0
        base = self._config.settings.external_url.rstrip("/")
        chains = {a.labels.get("chain", "") for a in alerts}
        # The latest report (a stable URL), at the group's chain section when it has one chain.
        report_url = f"{base}/reports/latest" + (f"#chain-{next(iter(chains))}" if len(chains) == 1 and "" not in chains
                                                 else "")
        ctx = RenderContext(alerts=alerts, receiver=receiver.name, group_labels=labels, route_key=route_key,
                            external_url=self._config.settings.external_url,
                            report_url=report_url, language=receiver.language,
                            max_bytes=max_bytes, now=now, mentions=tuple(getattr(receiver, "mentions", ())),
                            mention_all=getattr(receiver, "mention_all", False))
        if receiver.kind == "alertmanager":
            return alertmanager_api.render(ctx, receiver.validity)
        return integration.render(ctx)

    # --- delivery ----------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Flush due groups, then send every due outbox message once.

        Per send: claim (lease, attempt counted, committed) → send → commit the
        outcome. Messages older than the receiver's ``max_age`` are dead-lettered
        with that reason instead of being sent. A chat bot's messages pass its sliding
        window; when more than one waits for its last free slot they go as one digest
        (all its rows claimed before, and delivered together after, the one request).
        """
        self.flush()
        now = self._clock()
        with self._sessions() as session:
            due: dict[str, list[int]] = {}
            for message in due_messages(session, now, limit):
                due.setdefault(message.receiver, []).append(message.id)
        outcomes: list[str] = []
        for receiver_name, ids in due.items():
            ids = self._sendable(receiver_name, ids, outcomes)
            window = self._windows.get(receiver_name)
            if window is None:
                for message_id in ids:
                    outcomes += self._deliver(receiver_name, [message_id])
                continue
            queue: DigestQueue[list[int]] = DigestQueue(window, merge=lambda parts: [i for p in parts for i in p])
            for message_id in ids:
                queue.push([message_id])
            while len(queue):
                with self._windows_lock:
                    moment = self._monotonic()
                    batch = queue.release_next(moment)
                    wait = queue.next_release(moment) if batch is None else None
                if batch is None:  # the window is full: the rest waits in the outbox
                    self._throttle(receiver_name, [i for part in queue.waiting() for i in part], wait or 0.0)
                    break
                outcomes += self._deliver(receiver_name, batch)
        return DeliveryReport(outcomes.count("delivered"), outcomes.count("retrying"), outcomes.count("dead"))

    def _dead(self, session: Session, messages: list[OutboxMessage], reason: str) -> str:
        for message in messages:
            message.status = "dead"
            message.last_error = reason
            message.claimed_until = None
        session.commit()
        for message in messages:
            log.error("notification %s to %s dead-lettered: %s", message.idempotency_key, message.receiver, reason)
            if self._metrics is not None:
                self._metrics.notifications_dead.labels(message.receiver).inc()
                self._metrics.notifications.labels(message.receiver, "dead").inc()
        return "dead"

    def _sendable(self, receiver_name: str, ids: list[int], outcomes: list[str]) -> list[int]:
        """The due messages of a receiver that may be sent; dead-letters expired ones (into ``outcomes``)."""
        now = self._clock()
        receiver = self._receivers.get(receiver_name)
        kept = []
        with self._sessions() as session:
            for message_id in ids:
                message = session.get(OutboxMessage, message_id)
                if message is None or message.status != "pending":
                    continue
                age = now - as_utc(message.created_at)
                if receiver is None or receiver.url is None:
                    if age > ORPHAN_MAX_AGE:
                        outcomes.append(self._dead(session, [message], f"receiver {receiver_name!r} is not configured "
                                                                       f"or has no URL, for longer than {ORPHAN_MAX_AGE}"))
                    continue  # switched off for now: keep the message for later
                if age > receiver.max_age:
                    last = f"; last error: {message.last_error}" if message.last_error else ""
                    outcomes.append(self._dead(session, [message], f"expired: not delivered within max_age "
                                                                   f"{receiver.max_age} ({message.attempts} attempt(s)){last}"))
                    continue
                kept.append(message_id)
        return kept

    def _throttle(self, receiver_name: str, ids: list[int], wait: float) -> None:
        """Over the platform's limit: these wait in the outbox ``wait`` seconds, no attempt counted."""
        now = self._clock()
        with self._sessions.begin() as session:
            for message_id in ids:
                message = session.get(OutboxMessage, message_id)
                if message is not None and message.status == "pending":
                    message.next_attempt_at = now + timedelta(seconds=wait)
        if self._metrics is not None:
            self._metrics.notifications.labels(receiver_name, "throttled").inc(len(ids))

    def _deliver(self, receiver_name: str, ids: list[int]) -> list[str]:
        """Send one message, or the digest of several, once; commit and return the outcome of every row."""
        now = self._clock()
        receiver = self._receivers[receiver_name]
        lease = timedelta(seconds=3 * receiver.timeout_seconds) + self._lease_margin
        with self._sessions() as session:
            claimed = [i for i in ids if claim(session, i, now, now + lease)]
            session.commit()  # the claims and the attempts are on record before anything is sent
            if not claimed:
                return []  # another dispatcher holds them
            messages = [session.get(OutboxMessage, i) for i in claimed]
            for message in messages:
                session.refresh(message)

            integration = INTEGRATIONS[receiver.kind]
            if len(messages) == 1:
                body, key = messages[0].body.encode("utf-8"), messages[0].idempotency_key
            else:  # held back by the platform's limit: one message standing for all of them
                body = encode_body(integration.digest([json.loads(m.body) for m in messages], receiver.language))
                key = digest_idempotency_key([m.idempotency_key for m in messages])
                log.info("%d notifications to %s sent as one digest", len(messages), receiver.name)
            secret = receiver.secret.get_secret_value() if receiver.secret is not None else None
            prepared = integration.prepare(body, receiver.url.get_secret_value(), secret, now, key)
            notification = Notification(receiver=receiver.name, idempotency_key=key,
                                        body=prepared.body, headers=prepared.headers, url=prepared.url)
            started = time.perf_counter()
            result = self._notifiers[receiver.name].send(notification, check=integration.check)
            elapsed = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.delivery_seconds.labels(receiver.name).observe(elapsed)

            done = self._clock()
            for message in messages:
                message.claimed_until = None
            spent: list[OutboxMessage] = []
            if result.ok:
                for message in messages:
                    message.status = "delivered"
                    message.delivered_at = done
                    message.last_error = None
                session.commit()  # every row of a digest at once, only now that it was acknowledged
                outcome = "delivered"
            elif not result.retryable:
                return [self._dead(session, messages, f"refused: {result.error}")] * len(messages)
            else:
                # max_attempts bounds a receiver that answers and keeps failing this message;
                # an unreachable one (refused, reset, timeout) says nothing about the message,
                # so only max_age ends those retries (a receiver down for hours loses nothing).
                spent = [m for m in messages if m.attempts >= receiver.max_attempts and result.status_code is not None]
                if spent:
                    self._dead(session, spent, f"gave up after {spent[0].attempts} attempts: {result.error}")
                    messages = [m for m in messages if m not in spent]
                    if not messages:
                        return ["dead"] * len(spent)
                wait = backoff_seconds(max(m.attempts for m in messages), rng=self._rng)
                if result.retry_after is not None:
                    wait = max(wait, result.retry_after)
                for message in messages:
                    message.next_attempt_at = done + timedelta(seconds=wait)
                    message.last_error = result.error
                session.commit()
                outcome = "retrying"
                log.warning("notification %s to %s failed (%s); retry in %.0f s",
                            key, receiver.name, result.error, wait)
            if self._metrics is not None:
                self._metrics.notifications.labels(receiver.name, outcome).inc(len(messages))
            return ["dead"] * len(spent) + [outcome] * len(messages)
