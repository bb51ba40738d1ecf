"""config/prometheus/: promtool accepts the config and rules, the rule unit tests pass,
and every rule selects only metrics chainwatch exports."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone

import pytest

from monitor.store.database import make_engine, migrate, session_factory
from tests.promql_sources import (
    PROMETHEUS_BUILTINS,
    PROMETHEUS_DIR,
    RULE_FILES,
    alert_operand,
    load_rule_groups,
    metric_names,
    recorded_names,
    rule_expressions,
)
from tests.stored_state import exported_sample_names

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package 'prometheus' (.ci/run does)")
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*_test.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_check_config():
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_check_rules():
    result = _promtool("check", "rules", *(p.name for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path):
    result = _promtool("test", "rules", str(path.relative_to(PROMETHEUS_DIR)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested():
    alerts = {rule["alert"] for groups in load_rule_groups().values() for group in groups
              for rule in group["rules"] if "alert" in rule}
    tested = "\n".join(p.read_text(encoding="utf-8") for p in RULE_TESTS)
    assert alerts, "no alerting rules found"
    assert {a for a in alerts if f"alertname: {a}\n" not in tested} == set()


def test_alerts_carry_severity_and_text():
    for groups in load_rule_groups().values():
        for group in groups:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                assert rule["alert"].startswith("Chainwatch"), rule["alert"]
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
                assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
                assert alert_operand(rule["expr"]) is not None, f"{rule['alert']}: not 'x <op> number'"


def test_recording_rules_follow_naming_convention():
    for name in recorded_names():
        level, metric, operation = name.split(":")
        assert level and metric.startswith("chainwatch_") and operation, name


def test_rules_select_only_exported_metrics(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    exported = exported_sample_names(session_factory(engine), datetime(2026, 1, 15, tzinfo=timezone.utc))
    engine.dispose()
    known = exported | PROMETHEUS_BUILTINS | recorded_names()
    for expression in rule_expressions():
        unknown = metric_names(expression.expr) - known
        assert not unknown, f"{expression.where}: {sorted(unknown)} not exported by chainwatch"
