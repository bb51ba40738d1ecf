"""``check_config`` names every problem in one run, across files and scenarios; YAML
hazards, yes/on for booleans and literal secrets are reported naming file and field."""

from __future__ import annotations

import shutil

import pytest

from monitor.config.loader import ConfigError, check_config, load_config
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_problems_of_every_stage_reported_in_one_run(config_dir):
    # A per-file problem, a cross-file one (unknown receiver), a scenario problem and a
    # settings boolean written as "yes": formerly three runs to see them all.
    _replace(config_dir / "sources.yaml", "id: demo", "id: demo\n    colour: red")
    _replace(config_dir / "chains.yaml", "receivers: [", "receivers: [nobody, ")
    _replace(config_dir / "scenarios" / "embargo-cobalt-cod.yaml", "critical-minerals/cobalt", "critical-minerals/nope")
    _replace(config_dir / "settings.yaml", "read_requires_token: false", "read_requires_token: yes")
    _replace(config_dir / "settings.yaml", "hysteresis_runs: 2", "hysteresis_runs: on")
    checked = check_config(config_dir, environ={})
    assert checked.config is None
    text = "\n".join(checked.problems)
    assert "sources.yaml: sources[0].colour: unknown key" in text
    assert "chains.yaml: chains[" in text and "unknown receiver 'nobody'" in text
    assert "embargo-cobalt-cod.yaml: shocks[0].nodes[0]: 'critical-minerals/nope' is not a node" in text
    assert "settings.yaml: api.read_requires_token: expected true or false, got 'yes'" in text
    assert "settings.yaml: assessment.hysteresis_runs:" in text


def test_unset_variable_and_invalid_field_in_one_file_both_reported(config_dir):
    _replace(config_dir / "alerts.yaml", "max_attempts: 5", "max_attempts: 0")
    _replace(config_dir / "alerts.yaml", '"${CHAINWATCH_WEBHOOK_SECRET:-}"', '"${CHAINWATCH_NO_SUCH_SECRET}"')
    problems = check_config(config_dir, environ={}).problems
    assert any(p.startswith("alerts.yaml: receivers[0].secret: environment variable CHAINWATCH_NO_SUCH_SECRET")
               for p in problems)
    assert any(p.startswith("alerts.yaml: receivers[0].max_attempts:") for p in problems)
    assert len(problems) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\na: 2\n", "settings.yaml: not valid YAML: line 2: duplicate key 'a' (first at line 1)"),
    ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", "settings.yaml: not valid YAML: line 1: nested more than"),
    ('l0: &l0 ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)),
     "settings.yaml: not valid YAML: aliases expand to"),
])
def test_yaml_hazards_in_settings_are_one_line_problems(config_dir, text, expected):
    (config_dir / "settings.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, environ={})
    assert info.value.problems[0].startswith(expected)


def test_literal_secret_is_a_warning_not_an_error(config_dir):
    _replace(config_dir / "alerts.yaml", '"${CHAINWATCH_WEBHOOK_SECRET:-}"', '"hunter2-literal"')
    checked = check_config(config_dir, environ={})
    assert checked.problems == []
    assert checked.warnings == ["alerts.yaml: receivers[0].secret: a literal secret; write ${VAR} and set the "
                                "variable in the environment"]
    assert "hunter2" not in "".join(checked.warnings)


def test_secret_from_the_environment_is_no_warning(config_dir):
    checked = check_config(config_dir, environ={"CHAINWATCH_WEBHOOK_SECRET": "s3cret",
                                                "CHAINWATCH_WEBHOOK_URL": "https://example.test/hook"})
    assert checked.problems == [] and checked.warnings == []
