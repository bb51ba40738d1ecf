"""Alert wiring: rules → lifecycle → durable outbox → signed delivery, with retries and dead letters."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select

from alerts.signing import verify, verify_v2
from monitor.notify.alerting import AlertPipeline
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.webhook_receiver import RecordingReceiver

SECRET = "pipeline-secret"


@pytest.fixture
def receiver():
    with RecordingReceiver() as running:
        yield running


@pytest.fixture
def pipeline(sessions, receiver, clock):
    config = load_config(CONFIG_DIR, environ={"CHAINWATCH_WEBHOOK_URL": receiver.url,
                                              "CHAINWATCH_WEBHOOK_SECRET": SECRET})
    with httpx.Client(trust_env=False) as client:
        yield AlertPipeline(config, sessions, client, clock, rng=random.Random(1))


def _result(run_id, chain_level, chain_score, node_level="yellow", node_score=55.0):
    node = NodeAssessment(chain="batteries", node="cells-packs", name_en="Cells", name_zh="电芯",
                          criticality=1.0, own_score=node_score,
                          judgement=Judgement(node_score, node_level, node_level, 0, 1.0),
                          dimensions={"concentration": node_score, "disruption": None},
                          drivers=["imports concentrated: top partner KOR 80%"])
    chain = ChainAssessment(chain="batteries", name_en="Batteries", name_zh="电池",
                            judgement=Judgement(chain_score, chain_level, chain_level, 0, 1.0), nodes=[node])
    return AssessmentResult(run_id=run_id, as_of=date(2025, 12, 1), chains=[chain], findings=[])


def _outbox(sessions):
    with sessions() as session:
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_fire_once_then_resolve(pipeline, receiver, sessions, clock):
    evaluation = pipeline.evaluate(_result(1, "red", 90.0))
    assert evaluation.queued == 1 and [a.state for a in evaluation.changed] == ["firing"]
    assert pipeline.deliver_due().delivered == 1
    request = receiver.requests[-1]
    assert verify(request.body, SECRET, request.headers["X-Chainwatch-Signature"])
    # v2 signs the Idempotency-Key actually sent and the timestamp (the dispatcher's clock).
    assert verify_v2(request.body, SECRET, request.headers["X-Chainwatch-Signature-V2"],
                     request.headers["Idempotency-Key"], now=clock.now.timestamp())
    assert not verify_v2(request.body, SECRET, request.headers["X-Chainwatch-Signature-V2"],
                         request.headers["Idempotency-Key"] + "-replayed", now=clock.now.timestamp())
    body = json.loads(request.body)
    assert body["status"] == "firing" and body["groupLabels"] == {"chain": "batteries"}
    assert body["alerts"][0]["labels"]["severity"] == "critical"

    clock.now += timedelta(days=1)
    assert pipeline.evaluate(_result(2, "red", 91.0)).queued == 0  # still firing: no news
    assert pipeline.deliver_due().delivered == 0

    clock.now += timedelta(days=1)
    evaluation = pipeline.evaluate(_result(3, "yellow", 55.0))
    assert [a.state for a in evaluation.changed] == ["resolved"]
    pipeline.deliver_due()
    resolved = json.loads(receiver.requests[-1].body)
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"].startswith("2026-01-17")
    assert len(receiver.requests) == 2
    assert [m.status for m in _outbox(sessions)] == ["delivered", "delivered"]


def test_receiver_down_then_back_delivers_once_with_same_key(pipeline, receiver, sessions, clock):
    receiver.status = 503
    pipeline.evaluate(_result(1, "red", 90.0))
    report = pipeline.deliver_due()
    assert (report.delivered, report.retrying, report.dead) == (0, 1, 0)
    message = _outbox(sessions)[0]
    assert message.status == "pending" and message.attempts == 1 and "503" in message.last_error
    assert pipeline.deliver_due().retrying == 0  # not due yet: nothing sent
    assert len(receiver.requests) == 1

    receiver.status = 200
    clock.now += timedelta(hours=2)
    assert pipeline.deliver_due().delivered == 1
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    assert _outbox(sessions)[0].status == "delivered"


def test_rejected_notification_is_dead_lettered_at_once(pipeline, receiver, sessions):
    receiver.status = 400
    pipeline.evaluate(_result(1, "red", 90.0))
    assert pipeline.deliver_due().dead == 1
    assert _outbox(sessions)[0].status == "dead"


def test_attempts_are_capped(pipeline, receiver, sessions, clock):
    receiver.status = 500
    pipeline.evaluate(_result(1, "red", 90.0))
    max_attempts = load_config(CONFIG_DIR, environ={}).alerts.receivers[0].max_attempts
    for _ in range(max_attempts):
        pipeline.deliver_due()
        clock.now += timedelta(hours=2)
    assert len(receiver.requests) == max_attempts
    assert _outbox(sessions)[0].status == "dead"
    assert pipeline.deliver_due().dead == 0  # a dead letter is not retried


def test_unset_url_queues_nothing(sessions, clock):
    config = load_config(CONFIG_DIR, environ={})
    with httpx.Client(trust_env=False) as client:
        pipeline = AlertPipeline(config, sessions, client, clock)
        evaluation = pipeline.evaluate(_result(1, "red", 90.0))
    assert evaluation.queued == 0 and len(evaluation.changed) == 1
    assert _outbox(sessions) == []
