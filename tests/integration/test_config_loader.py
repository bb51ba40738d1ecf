"""Config validation: every problem is one clear line naming file and field path."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from monitor.config.loader import ConfigError, load_config
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _edit(config_dir, filename, change):
    path = config_dir / filename
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems(config_dir, environ=None):
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, environ=environ or {})
    return info.value.problems


def test_default_config_is_valid():
    config = load_config(CONFIG_DIR, environ={})
    assert len(config.catalog.chains) >= 5
    assert config.alerts.receivers[0].url is None  # unset URL: receiver off
    assert len(config.config_hash) == 64


def _set(path, value):
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize(
    ("filename", "change", "expected"),
    [
        ("chains.yaml", _set(["chains", 2, "nodes", 1, "hs_codes", 0], "85A1"),
         "chains.yaml: chains[2].nodes[1].hs_codes[0]: '85A1' is not an HS code"),
        ("chains.yaml", _set(["chains", 0, "colour"], "red"), "chains.yaml: chains[0].colour: unknown key"),
        ("chains.yaml", _set(["chains", 0, "nodes", 0, "criticality"], "very"), "chains.yaml: chains[0].nodes[0].criticality:"),
        ("chains.yaml", _set(["chains", 1, "nodes", 0, "depends_on"], ["no-such-node"]),
         "chains.yaml: chains[1].nodes[0].depends_on[0]: 'no-such-node' is not a node of chain"),
        ("sources.yaml", _set(["sources", 0, "schedule"], "every day"), "sources.yaml: sources[0].schedule:"),
        ("chains.yaml", _set(["home"], "XXX"), "chains.yaml: home:"),
        ("settings.yaml", _set(["assessment", "levels", "red"], 10), "settings.yaml: assessment.levels:"),
        ("chains.yaml", _set(["chains", 0, "nodes", 1, "detector_threshold"], 0),
         "chains.yaml: chains[0].nodes[1].detector_threshold:"),
        ("chains.yaml", _set(["chains", 1, "detector_threshold"], "high"), "chains.yaml: chains[1].detector_threshold:"),
    ],
)
def test_each_problem_names_file_and_field(config_dir, filename, change, expected):
    _edit(config_dir, filename, change)
    problems = _problems(config_dir)
    assert any(p.startswith(expected) for p in problems), problems


def test_duplicate_node_id(config_dir):
    def change(document):
        nodes = document["chains"][0]["nodes"]
        nodes[1]["id"] = nodes[0]["id"]
    _edit(config_dir, "chains.yaml", change)
    assert any("chains[0].nodes[1].id: duplicate node id" in p for p in _problems(config_dir))


def test_dependency_cycle(config_dir):
    def change(document):
        nodes = document["chains"][0]["nodes"]
        nodes[0]["depends_on"] = [nodes[1]["id"]]
        nodes[1]["depends_on"] = [nodes[0]["id"]]
    _edit(config_dir, "chains.yaml", change)
    problems = _problems(config_dir)
    assert any(p.startswith("chains.yaml: chains[0]: dependency cycle:") for p in problems), problems


def test_unset_variable_without_default(config_dir):
    _edit(config_dir, "alerts.yaml", _set(["receivers", 0, "url"], "${CW_TEST_UNSET_URL}"))
    assert _problems(config_dir) == [
        "alerts.yaml: receivers[0].url: environment variable CW_TEST_UNSET_URL is not set and has no default"]


def test_variables_are_interpolated_and_secret_hidden(config_dir):
    env = {"CHAINWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook", "CHAINWATCH_WEBHOOK_SECRET": "s3cr3t-value"}
    config = load_config(config_dir, environ=env)
    receiver = config.alerts.receivers[0]
    assert receiver.url.get_secret_value() == "http://127.0.0.1:9/hook"
    assert receiver.secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.alerts)


def test_unknown_receiver_is_reported_across_files(config_dir):
    _edit(config_dir, "chains.yaml", _set(["chains", 0, "receivers"], ["nobody"]))
    assert any(p.startswith("chains.yaml: chains[0].receivers[0]: unknown receiver 'nobody'")
               for p in _problems(config_dir))


def test_broken_yaml_names_line(config_dir):
    (config_dir / "sources.yaml").write_text("sources:\n  - id: demo\n   kind: [\n", encoding="utf-8")
    problems = _problems(config_dir)
    assert problems[0].startswith("sources.yaml: not valid YAML: line ")


def test_several_problems_reported_together(config_dir):
    _edit(config_dir, "chains.yaml", _set(["chains", 0, "nodes", 0, "hs_codes"], ["1", "2605"]))
    _edit(config_dir, "sources.yaml", _set(["sources", 0, "schedule"], "bad"))
    problems = _problems(config_dir)
    assert len(problems) == 2


def test_cli_exits_2_without_traceback(config_dir, tmp_path):
    _edit(config_dir, "chains.yaml", _set(["chains", 2, "nodes", 1, "hs_codes", 0], "85A1"))
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "check-config", "--config", str(config_dir)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "chains.yaml: chains[2].nodes[1].hs_codes[0]" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "monitor.cli.main", "check-config", "--config", str(CONFIG_DIR)],
                        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")
