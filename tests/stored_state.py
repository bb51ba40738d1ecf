"""A small but complete stored state, written with the storage functions (for metrics tests).

Every kind of row the metrics read is present: two assessment runs (one succeeded,
one failed after it), findings with periods, scores of a chain with two nodes,
collections that succeeded and failed, alerts, and outbox messages in every status.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from alerts.model import Alert
from monitor.records import CollectedBatch
from monitor.telemetry.metrics import build_registry
from monitor.store.alert_store import QueuedNotification, save_alerts_and_enqueue
from monitor.store.assessments import complete_run, fail_run, start_run
from monitor.store.observations import record_failed_collection, store_batch
from monitor.store.tables import OutboxMessage


def score(chain: str, node: str, dimension: str, value: float | None, level: str = "",
          completeness: float = 1.0) -> dict:
    """A risk-score row as :func:`complete_run` takes it."""
    return {"chain": chain, "node": node, "dimension": dimension, "score": value, "level": level,
            "completeness": completeness, "drivers": []}


def finding(chain: str, node: str, series_id: str, period: date | None, status: str = "normal") -> dict:
    """A finding row as :func:`complete_run` takes it."""
    return {
        "chain": chain, "node": node, "series_id": series_id, "method": "stl_residual", "period": period,
        "status": status, "direction": None, "observed": 1.0, "expected": 1.0, "lower": 0.5, "upper": 1.5,
        "score": 0.1, "explanation_en": "", "explanation_zh": "",
    }


SCORES = [
    score("batteries", "", "overall", 65.0, "yellow", completeness=0.75),
    score("batteries", "cells", "overall", 90.0, "red", completeness=0.5),
    score("batteries", "cells", "concentration", None),
    score("batteries", "cells", "disruption", 90.0),
    score("batteries", "lithium", "overall", 30.0, "blue"),
    {**score("batteries", "lithium", "concentration", 30.0),
     "details": {"window_months": 12, "hhi": 0.3, "top_share": 0.45, "top_partner": "AUS", "n_partners": 4,
                 "top_partners": [{"partner": "AUS", "share": 0.45}, {"partner": "CHL", "share": 0.3}]}},
    score("batteries", "lithium", "disruption", 10.0),
]
FINDINGS = [
    finding("batteries", "cells", "imports.batteries.cells", date(2025, 11, 1), "flagged"),
    finding("batteries", "cells", "prod.cells", date(2025, 10, 1)),
    # A "missing" verdict judges a month without data: it must not count as the data period.
    finding("batteries", "lithium", "imports.batteries.lithium", date(2025, 12, 1), "missing"),
    finding("batteries", "lithium", "prod.lithium", date(2025, 9, 1), "insufficient_history"),
]


def _alert(chain: str, node: str, severity: str, state: str, now: datetime) -> Alert:
    return Alert(
        fingerprint=f"{chain}-{node}-{severity}", labels={"chain": chain, "node": node, "kind": "risk_level",
                                                         "severity": severity},
        annotations={}, state=state, starts_at=now - timedelta(days=1),
        ends_at=now if state == "resolved" else None,
    )


def populate(sessions: sessionmaker[Session], now: datetime) -> None:
    """Write the state described in the module docstring; ``now`` is the last write's time."""
    start = now - timedelta(hours=2)
    store_batch(sessions, CollectedBatch(source="demo", vintage="v1"), start)
    record_failed_collection(sessions, "comtrade", start, "HTTP 503")
    store_batch(sessions, CollectedBatch(source="comtrade", vintage="v1"), start + timedelta(minutes=1))
    record_failed_collection(sessions, "comtrade", start + timedelta(minutes=2), "HTTP 503")

    run = start_run(sessions, "hash", start)
    complete_run(sessions, run, date(2025, 12, 1), FINDINGS, SCORES, start + timedelta(seconds=4))
    failed = start_run(sessions, "hash", start + timedelta(hours=1))
    fail_run(sessions, failed, "boom", start + timedelta(hours=1, seconds=1))

    alerts = [_alert("batteries", "cells", "critical", "firing", now),
              _alert("batteries", "", "warning", "firing", now),
              _alert("batteries", "lithium", "info", "resolved", now)]
    queued = [QueuedNotification(f"key-{i}", receiver, "{}", "{}")
              for i, receiver in enumerate(["ops-webhook", "ops-webhook", "ops-webhook", "chat"])]
    with sessions.begin() as session:
        save_alerts_and_enqueue(session, alerts, queued, run, start)
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == "key-1")
                        .values(status="delivered", delivered_at=start))
        session.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == "key-2")
                        .values(status="dead"))


def exported_sample_names(sessions: sessionmaker[Session], now: datetime) -> set[str]:
    """Every sample name ``/metrics`` shows over the populated state, process counters included."""
    populate(sessions, now)
    registry, metrics = build_registry(sessions, lambda: now)
    metrics.collections.labels("demo", "success").inc()
    metrics.notifications.labels("ops-webhook", "delivered").inc()
    metrics.jobs.labels("assess", "success").inc()
    return {sample.name for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples}
