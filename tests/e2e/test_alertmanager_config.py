"""``check-config`` and the Alertmanager receiver's liveness settings (#23 item 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from alerts.alertmanager_api import identity_labels, stable_alertname
from monitor.config.models import AlertmanagerReceiver
from tests.conftest import CONFIG_DIR

CHAINWATCH = Path(sys.executable).with_name("chainwatch")


def test_validity_defaults_to_four_resend_intervals_and_must_cover_one():
    receiver = AlertmanagerReceiver.model_validate({"name": "am", "kind": "alertmanager", "resend_interval": "2m"})
    assert receiver.validity == timedelta(minutes=8)
    assert AlertmanagerReceiver.model_validate({"name": "am", "kind": "alertmanager"}).resend_interval == \
        timedelta(minutes=5)
    with pytest.raises(ValidationError, match="shorter than resend_interval"):
        AlertmanagerReceiver.model_validate({"name": "am", "kind": "alertmanager", "validity": "1m"})


def test_check_config_rejects_a_validity_shorter_than_the_resend_interval(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    alerts = yaml.safe_load((config / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["receivers"].append({"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093",
                                "resend_interval": "5m", "validity": "2m"})
    (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True), encoding="utf-8")
    done = subprocess.run([str(CHAINWATCH), "check-config", "--config", str(config)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "shorter than resend_interval" in done.stdout + done.stderr


def test_identity_labels_leave_out_what_changes_with_the_level():
    class A:
        labels = {"alertname": "node-orange", "chain": "batteries", "node": "cells-packs", "kind": "risk_level",
                  "severity": "critical", "level": "orange"}

    assert identity_labels(A()) == {"alertname": "ChainwatchNodeRiskLevel", "chain": "batteries",
                                    "node": "cells-packs", "kind": "risk_level"}
    assert stable_alertname({"chain": "x", "node": "", "kind": "partner_share_collapse_down"}) == \
        "ChainwatchChainPartnerShareCollapseDown"
