"""A webhook receiver down for hours, then back: nothing lost, nothing twice, dead letters only past max_age.

The receiver de-duplicates on ``Idempotency-Key`` (as the contract asks of
receivers) and sits behind a :class:`~tests.tcp_gate.TcpGate`: while the gate is
down connections are refused, exactly what a crashed receiver looks like. Time is
an injected clock moved in 5-minute dispatcher ticks; nothing sleeps.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from monitor.notify.alerting import AlertPipeline
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.clock import as_utc
from monitor.config.loader import load_config
from monitor.config.models import AlertsFile
from monitor.telemetry.metrics import ServiceMetrics
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.tcp_gate import TcpGate
from tests.webhook_receiver import DedupReceiver

TICK = timedelta(minutes=5)  # a compressed dispatch interval


def _result(run_id: int, red: tuple[str, ...]) -> AssessmentResult:
    """An assessment where the chains in ``red`` are red (one alert group each)."""
    chains = []
    for chain_id in red:
        node = NodeAssessment(chain=chain_id, node="n1", name_en="Node", name_zh="环节", criticality=1.0,
                              own_score=40.0, judgement=Judgement(40.0, "blue", "blue", 0, 1.0),
                              dimensions={"concentration": 40.0}, drivers=[])
        chains.append(ChainAssessment(chain=chain_id, name_en=chain_id, name_zh=chain_id,
                                      judgement=Judgement(90.0, "red", "red", 0, 1.0), nodes=[node]))
    return AssessmentResult(run_id=run_id, as_of=date(2025, 12, 1), chains=chains, findings=[])


@pytest.fixture
def gated_receiver():
    """A de-duplicating receiver behind a gate; yields (receiver, gate, url)."""
    with DedupReceiver() as receiver:
        port = urlsplit(receiver.url).port
        with TcpGate("127.0.0.1", port) as gate:
            yield receiver, gate, f"http://127.0.0.1:{gate.port}/hook"


def _pipeline(sessions, clock, url: str, **receiver_settings):
    base = load_config(CONFIG_DIR, environ={})
    alerts = yaml.safe_load((CONFIG_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"] = [{"name": "default-webhook", "kind": "webhook", "url": url, "secret": "s",
                            "timeout_seconds": 1, **receiver_settings}]
    config = base.model_copy(update={"alerts": AlertsFile.model_validate(alerts)})
    registry = CollectorRegistry()
    client = httpx.Client(trust_env=False)
    pipeline = AlertPipeline(config, sessions, client, clock, ServiceMetrics(registry), rng=random.Random(7))
    return pipeline, registry, client


def _messages(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_receiver_down_for_twelve_hours_then_back_gets_everything_once(sessions, clock, gated_receiver):
    receiver, gate, url = gated_receiver
    pipeline, registry, client = _pipeline(sessions, clock, url)  # shipped max_attempts 5, max_age 24h
    try:
        gate.down()
        pipeline.evaluate(_result(1, ("semiconductors", "batteries")))
        attempts = 0
        for step in range(12 * 12):  # 12 hours of 5-minute dispatcher ticks
            if step == 60:           # a new alert group while the receiver is still down
                pipeline.evaluate(_result(2, ("semiconductors", "batteries", "rare-earths")))
            report = pipeline.deliver_due()
            attempts += report.retrying
            assert report.delivered == 0 and report.dead == 0, f"dead letter {step * TICK} into the outage"
            clock.now += TICK
        assert attempts > 3 * 5  # far more tries than max_attempts, none dead: the receiver never answered
        keys = {m.idempotency_key for m in _messages(sessions)}
        assert len(keys) == 3 and receiver.acknowledged == {}

        gate.up()
        for _ in range(24):  # backoff is capped at 1 h: two hours of ticks drain everything
            pipeline.deliver_due()
            clock.now += TICK
        assert {m.status for m in _messages(sessions)} == {"delivered"}
        assert set(receiver.acknowledged) == keys
        assert all(count == 1 for count in receiver.acknowledged.values())
        get = registry.get_sample_value
        assert get("chainwatch_notifications_total", {"receiver": "default-webhook", "outcome": "delivered"}) == 3
        assert get("chainwatch_notifications_dead_total", {"receiver": "default-webhook"}) is None
    finally:
        client.close()


def test_dead_letters_only_past_max_age(sessions, clock, gated_receiver):
    receiver, gate, url = gated_receiver
    max_age = timedelta(hours=2)
    pipeline, registry, client = _pipeline(sessions, clock, url, max_age="2h")
    try:
        gate.down()
        pipeline.evaluate(_result(1, ("semiconductors", "batteries")))
        for _ in range(5 * 12):  # five hours down
            pipeline.deliver_due()
            for message in _messages(sessions):
                if message.status == "dead":
                    assert clock.now - as_utc(message.created_at) > max_age
                    assert "max_age" in message.last_error and "ConnectError" in message.last_error
            clock.now += TICK
        gate.up()
        pipeline.deliver_due()
        assert {m.status for m in _messages(sessions)} == {"dead"}
        assert receiver.acknowledged == {}  # expired messages are not sent after the fact
        assert registry.get_sample_value("chainwatch_notifications_dead_total", {"receiver": "default-webhook"}) == 2
    finally:
        client.close()

