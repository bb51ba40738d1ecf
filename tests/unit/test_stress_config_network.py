"""Stress-test configuration for issue 22: cross-chain ``inputs`` in the catalog (checked
by check-config: unknown nodes, cycles), per-node assumptions with sources, scenario
homes, and the shipped scenario set with its real-world bases."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.config.loader import load_config, load_scenarios, node_buffers
from monitor.config.models import Catalog
from monitor.config.scenarios import ShockConfig

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG)


def _inputs(catalog: Catalog, ref: str) -> list[str]:
    chain, node = ref.split("/")
    return [i.node for i in next(n for n in catalog.chain(chain).nodes if n.id == node).inputs]


def test_the_catalog_links_chains(config):
    catalog = config.catalog
    assert catalog.input_problems() == []
    assert "critical-minerals/cobalt" in _inputs(catalog, "batteries/cathode-precursors")
    assert "batteries/cells-packs" in _inputs(catalog, "new-energy-vehicles/traction-batteries")
    assert "critical-minerals/rare-earths" in _inputs(catalog, "new-energy-vehicles/permanent-magnets")
    assert {"semiconductors/silicon-wafers", "semiconductors/fab-equipment"} <= set(
        _inputs(catalog, "new-energy-vehicles/power-semiconductors"))
    for chain in catalog.chains:
        for node in chain.nodes:
            assert all(i.source for i in node.inputs)


def _with_inputs(config, extra: dict[str, list[dict]]) -> Catalog:
    document = config.catalog.model_dump()
    for chain in document["chains"]:
        for node in chain["nodes"]:
            node["inputs"] = node["inputs"] + extra.get(f"{chain['id']}/{node['id']}", [])
    return Catalog.model_validate(document)


def test_unknown_nodes_and_cycles_are_named_one_line_each(config):
    bad = _with_inputs(config, {"batteries/cathode-materials": [{"node": "x/y", "share": 0.1},
                                                                 {"node": "batteries/nope", "share": 0.1}]})
    problems = bad.input_problems()
    assert len(problems) == 2 and all("is not a node of the catalog" in p for p in problems)
    assert problems[0].startswith("chains[1].nodes[2].inputs[") and "'x/y'" in problems[0]
    cyclic = _with_inputs(config, {"batteries/cathode-materials": [
        {"node": "new-energy-vehicles/traction-batteries", "share": 0.1}]})
    [problem] = cyclic.input_problems()
    assert problem.startswith("inputs: supply-network cycle: ") and "batteries/cells-packs" in problem


def test_input_shares_are_shares():
    from monitor.config.models import NodeInput

    with pytest.raises(ValidationError):
        NodeInput(node="a/b", share=1.5)


def test_each_world_share_assumption_names_its_source(config):
    buffers = config.settings.stress.buffers.nodes
    with_shares = [key for key, b in buffers.items() if b.world_shares]
    assert "semiconductors/integrated-circuits" in with_shares and "semiconductors/fab-equipment" in with_shares
    for key in with_shares:
        assert buffers[key].source, f"{key}: world_shares without a source (or 'illustrative')"
    assert node_buffers(config, None, "semiconductors/fab-equipment").kind == "capacity"
    assert node_buffers(config, None, "semiconductors/integrated-circuits").kind == "consumable"


def test_the_scenario_set_a_chain_chief_faces(config):
    scenarios = {s.id: s for s in load_scenarios(config)}
    assert {"taiwan-strait-ics", "fab-equipment-export-controls", "embargo-cobalt-cod", "indonesia-nickel-ban",
            "shipping-red-sea-malacca", "port-disruption-30pct"} <= set(scenarios)
    for sid in ("taiwan-strait-ics", "fab-equipment-export-controls", "embargo-cobalt-cod", "indonesia-nickel-ban",
                "shipping-red-sea-malacca", "port-disruption-30pct"):
        assert scenarios[sid].description.startswith("Basis:"), sid
    assert "gallium-germanium-export-control" not in scenarios  # JPN/USA/DEU never restricted Ga/Ge to China
    # China's own Ga/Ge/graphite licensing only makes sense for an importing home economy
    assert "china-gallium-germanium-graphite-licensing" not in scenarios
    for sid in ("shipping-red-sea-malacca", "port-disruption-30pct"):
        assert any(s.lead_time_days > 0 for s in scenarios[sid].shocks)


def test_the_ga_ge_scenario_runs_for_an_importing_economy():
    snapshot = load_config(CONFIG / "snapshot")  # home USA
    scenarios = {s.id: s for s in load_scenarios(snapshot)}
    licensing = scenarios["china-gallium-germanium-graphite-licensing"]
    assert {s.partner for s in licensing.shocks} == {"CHN"}
    assert "fab-equipment-export-controls" not in scenarios  # written for home CHN


def test_lead_time_days_only_on_logistics_shocks():
    with pytest.raises(ValidationError, match="lead_time_days"):
        ShockConfig(kind="export_cut", partner="COD", nodes=["a/b"], cut_share=1, months=1, lead_time_days=5)
    assert ShockConfig(kind="logistics", cut_share=0.1, months=1, lead_time_days=5).lead_time_days == 5
