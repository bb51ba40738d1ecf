"""Stress-test scenario files: the shipped library is valid, bad files give errors naming the field."""

from __future__ import annotations

import shutil

import pytest
import yaml

from monitor.config.loader import (
    ConfigError,
    load_config,
    load_scenario,
    load_scenarios,
    node_buffers,
)
from tests.conftest import CONFIG_DIR

GOOD = {
    "id": "test-embargo",
    "name": {"en": "Test embargo", "zh": "测试禁运"},
    "horizon_months": 6,
    "shocks": [{"kind": "export_cut", "partner": "COD", "nodes": ["critical-minerals/cobalt"],
                "cut_share": 1.0, "months": 3}],
}


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_DIR, environ={})


def _write(tmp_path, document, name="scenario.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _shock(**changes):
    shock = {**GOOD["shocks"][0], **changes}
    return {**GOOD, "shocks": [{k: v for k, v in shock.items() if v is not None}]}


def test_the_standard_library_is_valid(config):
    scenarios = {s.id: s for s in load_scenarios(config)}
    assert {"embargo-cobalt-cod", "embargo-lithium-ores-aus", "embargo-lithium-compounds-chl",
            "embargo-process-chemicals-jpn", "port-disruption-30pct",
            "combined-minerals-squeeze"} <= set(scenarios)
    port = scenarios["port-disruption-30pct"].shocks[0]
    assert (port.kind, port.cut_share, port.months, port.nodes, port.chains) == ("logistics", 0.3, 3, [], [])
    kinds = {s.kind for s in scenarios["combined-minerals-squeeze"].shocks}
    assert kinds == {"export_cut", "production_drop", "logistics"}


def test_a_good_scenario_loads(tmp_path, config):
    scenario = load_scenario(_write(tmp_path, GOOD), config)
    assert scenario.shocks[0].partner == "COD"


@pytest.mark.parametrize(("document", "expected"), [
    (_shock(nodes=["critical-minerals/coblt"]),
     "scenario.yaml: shocks[0].nodes[0]: 'critical-minerals/coblt' is not a node of the catalog"),
    (_shock(nodes=["cobalt"]), "scenario.yaml: shocks[0].nodes[0]: 'cobalt' is not a node reference"),
    (_shock(months=-2), "scenario.yaml: shocks[0].months: Input should be greater than or equal to 1"),
    (_shock(cut_share=1.5), "scenario.yaml: shocks[0].cut_share: Input should be less than or equal to 1"),
    (_shock(partner="XXX"), "scenario.yaml: shocks[0].partner: 'XXX' is not an ISO 3166-1 alpha-3 country code"),
    (_shock(partner="CHN"), "scenario.yaml: shocks[0].partner: 'CHN' is the home economy"),
    (_shock(partner=None), "scenario.yaml: shocks[0].partner: an export_cut shock needs the exporting country"),
    (_shock(products=["9999"]), "scenario.yaml: shocks[0].products[0]: no node of the catalog has HS code '9999'"),
    (_shock(chains=["steel"]), "scenario.yaml: shocks[0].chains[0]: 'steel' is not a chain of the catalog"),
    (_shock(kind="logistics"), "scenario.yaml: shocks[0].partner: only export_cut shocks take a partner"),
    (_shock(start_month=9), "scenario.yaml: shocks[0].start_month: month 9 is after the horizon (6 months)"),
    (_shock(colour="red"), "scenario.yaml: shocks[0].colour: unknown key"),
    ({**GOOD, "horizon_months": 0}, "scenario.yaml: horizon_months: Input should be greater than or equal to 1"),
    ({**GOOD, "buffers": {"nodes": {"critical-minerals/cobalt": {"substitution_share": 2}}}},
     "scenario.yaml: buffers.nodes.critical-minerals/cobalt.substitution_share: Input should be less than or equal to 1"),
    ({**GOOD, "buffers": {"nodes": {"batteries/cobalt": {"inventory_days": 10}}}},
     "scenario.yaml: buffers.nodes.batteries/cobalt: 'batteries/cobalt' is not a node of the catalog"),
    ({**GOOD, "buffers": {"default": {"inventory_days": -5}}},
     "scenario.yaml: buffers.default.inventory_days: Input should be greater than or equal to 0"),
    ({**GOOD, "shocks": [{"kind": "production_drop", "nodes": ["critical-minerals/cobalt"], "cut_share": 0.2,
                          "months": 2}], "buffers": {"nodes": {"critical-minerals/cobalt": {"domestic_share": 0}}}},
     "scenario.yaml: shocks[0].nodes: critical-minerals/cobalt has domestic_share 0"),
])
def test_invalid_scenarios_name_the_file_and_field(tmp_path, config, document, expected):
    with pytest.raises(ConfigError) as info:
        load_scenario(_write(tmp_path, document), config)
    assert any(problem.startswith(expected) for problem in info.value.problems), info.value.problems


def test_not_yaml_and_missing_files_are_named(tmp_path, config):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML: line"):
        load_scenario(bad, config)
    with pytest.raises(ConfigError, match="scenario file not found"):
        load_scenario(tmp_path / "absent.yaml", config)


def test_buffers_layer_settings_then_scenario(tmp_path, config):
    scenario = load_scenario(_write(tmp_path, {**GOOD, "buffers": {
        "default": {"inventory_days": 10}, "nodes": {"critical-minerals/cobalt": {"ramp_up_share_per_month": 0.5}}}}),
        config)
    cobalt = node_buffers(config, scenario, "critical-minerals/cobalt")
    # settings node (domestic 0.05) kept; settings node inventory 60 overridden by the scenario default 10
    assert (cobalt.domestic_share, cobalt.inventory_days, cobalt.ramp_up_share_per_month) == (0.05, 10, 0.5)
    nickel = node_buffers(config, None, "critical-minerals/nickel")
    assert (nickel.inventory_days, nickel.domestic_share) == (30, 0.2)


def test_duplicate_ids_and_a_missing_explicit_directory_are_errors(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))
    _write(target / "scenarios", {**GOOD, "id": "embargo-cobalt-cod"}, "zz-copy.yaml")
    with pytest.raises(ConfigError, match="zz-copy.yaml: id: scenario id 'embargo-cobalt-cod' is also used by"):
        load_scenarios(load_config(target, environ={}))
    shutil.rmtree(target / "scenarios")
    settings = yaml.safe_load((target / "settings.yaml").read_text(encoding="utf-8"))
    del settings["stress"]["scenarios_dir"]  # the default directory may be absent: no scenarios
    (target / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    assert load_scenarios(load_config(target, environ={})) == []
    settings["stress"]["scenarios_dir"] = "nowhere"  # set explicitly: it must exist
    (target / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(ConfigError, match="settings.yaml: stress.scenarios_dir: .*nowhere is not a directory"):
        load_scenarios(load_config(target, environ={}))


def test_check_config_names_each_unknown_buffer_node_of_the_settings_once(tmp_path, capsys):
    from monitor.cli.main import main

    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))
    settings = yaml.safe_load((target / "settings.yaml").read_text(encoding="utf-8"))
    settings["stress"]["buffers"]["nodes"].update({"minerals/nope": {"domestic_share": 0.1},
                                                   "batteries/ghost": {"inventory_days": 5}})
    (target / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    config = load_config(target, environ={})
    assert len(list((target / "scenarios").glob("*.yaml"))) > 1  # it was printed once per scenario file

    assert main(["check-config", "--config", str(target)]) == 2
    lines = sorted(line.strip() for line in capsys.readouterr().err.splitlines() if "stress.buffers.nodes" in line)
    assert lines == [
        "settings.yaml: stress.buffers.nodes.batteries/ghost: 'batteries/ghost' is not a node of the catalog "
        "(write chain/node)",
        "settings.yaml: stress.buffers.nodes.minerals/nope: 'minerals/nope' is not a node of the catalog "
        "(write chain/node)",
    ]
    # once also for one scenario file (chainwatch stress --scenario), and with no scenario at all
    with pytest.raises(ConfigError) as one:
        load_scenario(target / "scenarios" / "port-disruption-30pct.yaml", config)
    assert sorted(p for p in one.value.problems if "stress.buffers.nodes" in p) == lines
    shutil.rmtree(target / "scenarios")
    del settings["stress"]["scenarios_dir"]
    (target / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(ConfigError) as none:
        load_scenarios(load_config(target, environ={}))
    assert sorted(none.value.problems) == lines
