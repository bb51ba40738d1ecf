"""The pipeline as ops see it: dead letters with reasons, Retry-After, metrics, silences,
acknowledgement and escalation, chat receivers, and secrets that never print."""

from __future__ import annotations

import json
import logging
import random
from datetime import date, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from monitor.notify.alerting import AlertPipeline
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.config.models import AlertsFile, Config
from monitor.telemetry.metrics import ServiceMetrics
from monitor.store.alert_store import acknowledge, add_silence, expire_silence
from alerts.matchers import Matcher
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.webhook_receiver import RecordingReceiver


def _result(run_id=1, chain_level="red", chain_score=90.0, node_level="orange", node_score=75.0, chain="batteries"):
    node = NodeAssessment(chain=chain, node="cells-packs", name_en="Cells", name_zh="电芯", criticality=1.0,
                          own_score=node_score, judgement=Judgement(node_score, node_level, node_level, 0, 1.0),
                          dimensions={"concentration": node_score}, drivers=["top partner KOR 80%"],
                          drivers_zh=["第一大来源 KOR 占 80%"])
    chain_ = ChainAssessment(chain=chain, name_en="Batteries", name_zh="电池",
                             judgement=Judgement(chain_score, chain_level, chain_level, 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=run_id, as_of=date(2025, 12, 1), chains=[chain_], findings=[])


def _config(alerts: dict) -> Config:
    base = load_config(CONFIG_DIR, environ={})
    return base.model_copy(update={"alerts": AlertsFile.model_validate(alerts)})


def _webhook(url, **extra):
    return {"name": "default-webhook", "kind": "webhook", "url": url, **extra}


RULES = [{"name": "chain-orange", "scope": "chain", "min_level": "orange"},
         {"name": "node-orange", "scope": "node", "min_level": "orange"}]


@pytest.fixture
def receiver():
    with RecordingReceiver() as running:
        yield running


def _pipeline(config, sessions, clock, metrics=None):
    client = httpx.Client(trust_env=False)
    return AlertPipeline(config, sessions, client, clock, metrics, rng=random.Random(1))


def _outbox(sessions):
    with sessions() as session:
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_max_age_dead_letters_with_reason_and_metrics(sessions, receiver, clock):
    receiver.status = 503
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    config = _config({"receivers": [_webhook(receiver.url, max_age="1h", max_attempts=50)],
                      "default_receivers": ["default-webhook"], "rules": RULES})
    pipeline = _pipeline(config, sessions, clock, metrics)
    pipeline.evaluate(_result())
    assert pipeline.deliver_due().retrying == 1
    clock.now += timedelta(hours=2)
    assert pipeline.deliver_due().dead == 1
    (message,) = _outbox(sessions)
    assert message.status == "dead" and "max_age" in message.last_error and "503" in message.last_error
    assert len(receiver.requests) == 1  # expired: not sent again
    assert registry.get_sample_value("chainwatch_notifications_dead_total", {"receiver": "default-webhook"}) == 1
    assert registry.get_sample_value("chainwatch_notification_delivery_seconds_count", {"receiver": "default-webhook"}) == 1


def test_retry_after_is_honoured_and_4xx_is_not_retried(sessions, receiver, clock):
    receiver.status = 429
    receiver.reply_headers = {"Retry-After": "7200"}
    config = _config({"receivers": [_webhook(receiver.url)], "default_receivers": ["default-webhook"], "rules": RULES})
    pipeline = _pipeline(config, sessions, clock)
    pipeline.evaluate(_result())
    pipeline.deliver_due()
    (message,) = _outbox(sessions)
    assert message.status == "pending"
    assert (message.next_attempt_at.replace(tzinfo=None) - clock.now.replace(tzinfo=None)) >= timedelta(hours=2)
    clock.now += timedelta(hours=1)
    pipeline.deliver_due()
    assert len(receiver.requests) == 1  # not before Retry-After
    receiver.status = 404
    clock.now += timedelta(hours=2)
    assert pipeline.deliver_due().dead == 1
    assert "refused" in _outbox(sessions)[0].last_error


def test_inhibition_silence_ack_and_escalation(sessions, receiver, clock):
    with RecordingReceiver() as chief:
        config = _config({
            "receivers": [_webhook(receiver.url), {"name": "chief", "kind": "webhook", "url": chief.url}],
            "default_receivers": ["default-webhook"], "rules": RULES,
            "route": {"escalate": {"receiver": "chief", "after": "4h"}},
            "inhibit_rules": [{"source_matchers": ['node=""', 'level="red"'],
                               "target_matchers": ['node!=""', 'level!="red"'], "equal": ["chain"]}],
        })
        pipeline = _pipeline(config, sessions, clock)
        pipeline.evaluate(_result())
        pipeline.deliver_due()
        (request,) = receiver.requests
        body = json.loads(request.body)
        assert [a["labels"]["node"] for a in body["alerts"]] == [""]  # the orange node alert is inhibited

        clock.now += timedelta(hours=5)  # nobody acknowledged: escalate once
        pipeline.deliver_due()
        assert len(chief.requests) == 1
        assert json.loads(chief.requests[0].body)["groupKey"].startswith("{}/escalation:")
        clock.now += timedelta(hours=1)
        pipeline.deliver_due()
        assert len(chief.requests) == 1

        # A silence mutes the chain's next change; after it expires the change is announced.
        with sessions.begin() as session:
            silence = add_silence(session, [Matcher.parse('chain="batteries"')], clock.now,
                                  clock.now + timedelta(days=2), "alice", "known issue", clock.now)
        clock.now += timedelta(days=1)
        pipeline.evaluate(_result(2, chain_level="orange", chain_score=75.0))
        pipeline.deliver_due()
        assert len(receiver.requests) == 1
        with sessions.begin() as session:
            expire_silence(session, silence.id, clock.now)
            acknowledge(session, json.loads(request.body)["alerts"][0]["fingerprint"][:6], "bob", clock.now)
        clock.now += timedelta(minutes=10)
        pipeline.deliver_due()
        assert len(receiver.requests) == 2
        alerts = json.loads(receiver.requests[1].body)["alerts"]
        assert {(a["labels"]["node"], a["labels"]["level"]) for a in alerts} == {("", "orange"), ("cells-packs", "orange")}


CHAT_TOKEN = "tok-SECRET-abc123"
SIGN_SECRET = "sign-SECRET-xyz789"


@pytest.mark.parametrize("kind", ["webhook", "slack", "feishu", "dingtalk", "wecom", "alertmanager"])
def test_secrets_never_logged_printed_or_stored(sessions, receiver, clock, caplog, capsys, kind):
    url = f"{receiver.url}/{CHAT_TOKEN}?key={CHAT_TOKEN}"
    env = {"URL": url, "SECRET": SIGN_SECRET}
    raw = {"receivers": [{"name": "default-webhook", "kind": kind, "url": "${URL}", "secret": "${SECRET}"}],
           "default_receivers": ["default-webhook"], "rules": RULES}
    from monitor.config.loader import _interpolate
    problems: list[str] = []
    config = _config(_interpolate(raw, env, "alerts.yaml", "", problems))
    caplog.set_level(logging.DEBUG)
    pipeline = _pipeline(config, sessions, clock)
    pipeline.evaluate(_result())
    receiver.status = 500
    receiver.reply_body = f"error for {url}".encode()
    pipeline.deliver_due()
    receiver.status = 200
    clock.now += timedelta(hours=2)
    pipeline.deliver_due()
    assert receiver.requests and all(CHAT_TOKEN in r.path for r in receiver.requests)
    out = capsys.readouterr()
    texts = [caplog.text, out.out, out.err, repr(config), str(config.alerts.receivers[0]), repr(pipeline)]
    texts += [str(v) for m in _outbox(sessions) for v in (m.body, m.last_error, m.group_key)]
    for text in texts:
        assert CHAT_TOKEN not in text and SIGN_SECRET not in text


@pytest.mark.parametrize("kind, body_check", [
    ("slack", lambda b: "Batteries" in b["text"] and "node Cells" in b["text"]),  # #23: names, not ids
    ("feishu", lambda b: b["msg_type"] == "interactive" and "timestamp" in b and "sign" in b),
    ("dingtalk", lambda b: b["msgtype"] == "markdown" and "电芯" in b["markdown"]["text"]),
    ("wecom", lambda b: b["msgtype"] == "markdown" and len(b["markdown"]["content"].encode()) <= 4096),
])
def test_chat_receivers_send_their_platform_format(sessions, receiver, clock, kind, body_check):
    receiver.reply_body = b'{"errcode":0,"code":0}'
    config = _config({"receivers": [{"name": "default-webhook", "kind": kind, "url": receiver.url, "secret": "s3",
                                     "language": "zh" if kind == "dingtalk" else "en"}],
                      "default_receivers": ["default-webhook"], "rules": RULES})
    pipeline = _pipeline(config, sessions, clock)
    pipeline.evaluate(_result(chain_level="orange", chain_score=75.0))
    assert pipeline.deliver_due().delivered == 1
    (request,) = receiver.requests
    assert body_check(json.loads(request.body))
    if kind == "dingtalk":
        assert "timestamp=" in request.path and "sign=" in request.path


def test_chat_rate_limit_holds_messages_without_counting_attempts(sessions, receiver, clock):
    receiver.reply_body = b'{"errcode":0}'
    config = _config({"receivers": [{"name": "default-webhook", "kind": "wecom", "url": receiver.url, "rate_per_minute": 1}],
                      "default_receivers": ["default-webhook"], "rules": RULES})
    now = [0.0]
    pipeline = AlertPipeline(config, sessions, httpx.Client(trust_env=False), clock, monotonic=lambda: now[0])
    pipeline.evaluate(_result(chain="batteries"))
    assert pipeline.deliver_due().delivered == 1 and len(receiver.requests) == 1
    now[0] += 10
    clock.now += timedelta(seconds=10)
    pipeline.evaluate(AssessmentResult(2, date(2025, 12, 1), _result(chain="batteries").chains
                                       + _result(chain="semiconductors").chains, []))
    assert pipeline.deliver_due().delivered == 0 and len(receiver.requests) == 1
    held = [m for m in _outbox(sessions) if m.status == "pending"]
    assert len(held) == 1 and held[0].attempts == 0
    now[0] += 60
    clock.now += timedelta(minutes=1)
    assert pipeline.deliver_due().delivered == 1
