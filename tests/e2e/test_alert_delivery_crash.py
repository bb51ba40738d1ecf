"""At-least-once delivery survives ``kill -9`` of the dispatcher mid-delivery.

A real dispatcher process sends a chain's notifications to a receiver that
de-duplicates on ``Idempotency-Key``. The receiver processes the second
notification and holds its answer; the test SIGKILLs the dispatcher right then,
starts a new one, and checks that every notification arrived and each key was
acknowledged exactly once (the re-sent one is dropped as a duplicate).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import date, datetime, timezone

import httpx
import yaml
from sqlalchemy import select

from monitor.notify.alerting import AlertPipeline
from monitor.assess.assessment import AssessmentResult, ChainAssessment, Judgement, NodeAssessment
from monitor.config.loader import load_config
from monitor.store.tables import OutboxMessage
from tests.conftest import CONFIG_DIR, REPO
from tests.webhook_receiver import DedupReceiver

CHAINS = ("semiconductors", "batteries", "rare-earths")


def _result() -> AssessmentResult:
    chains = []
    for chain_id in CHAINS:
        node = NodeAssessment(chain=chain_id, node="n1", name_en="Node", name_zh="环节", criticality=1.0,
                              own_score=40.0, judgement=Judgement(40.0, "blue", "blue", 0, 1.0),
                              dimensions={"concentration": 40.0}, drivers=[])
        chains.append(ChainAssessment(chain=chain_id, name_en=chain_id, name_zh=chain_id,
                                      judgement=Judgement(90.0, "red", "red", 0, 1.0), nodes=[node]))
    return AssessmentResult(run_id=1, as_of=date(2025, 12, 1), chains=chains, findings=[])


def _config_dir(tmp_path, url):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))
    alerts = yaml.safe_load((target / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"][0].update(url=url, secret="crash-secret", timeout_seconds=1)
    (target / "alerts.yaml").write_text(yaml.safe_dump(alerts), encoding="utf-8")
    return target


def _dispatcher(config_dir, db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}
    return subprocess.Popen([sys.executable, "-m", "tests.dispatcher_process", str(config_dir), db_url],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_delivery_loses_nothing_and_duplicates_are_deduplicated(db_url, sessions, tmp_path):
    with DedupReceiver(block_on=2) as receiver:
        config_dir = _config_dir(tmp_path, receiver.url)
        config = load_config(config_dir)
        with httpx.Client(trust_env=False) as client:
            now = datetime.now(timezone.utc)
            pipeline = AlertPipeline(config, sessions, client, lambda: now)
            assert pipeline.evaluate(_result()).queued == len(CHAINS)
        with sessions() as session:
            keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
        assert len(keys) == len(CHAINS)

        first = _dispatcher(config_dir, db_url)
        try:
            assert receiver.blocked.wait(60), first.communicate(timeout=5)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        receiver.release()
        held = [k for k, n in receiver.acknowledged.items()]
        assert len(held) == 2  # one answered, one processed but unanswered

        second = _dispatcher(config_dir, db_url)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err

        assert set(receiver.acknowledged) == keys
        assert all(count == 1 for count in receiver.acknowledged.values())
        assert sum(receiver.duplicates.values()) >= 1  # the unanswered one came again, and was dropped
        with sessions() as session:
            assert {m.status for m in session.scalars(select(OutboxMessage))} == {"delivered"}
