"""The default chain catalog (config/chains.yaml): valid, complete, and about the right goods."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.config.models import Catalog

CONFIG_DIR = Path(__file__).parents[2] / "config"
NAMED_CHAINS = {"semiconductors", "batteries", "critical-minerals", "pharmaceuticals", "new-energy-vehicles"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _node(catalog: Catalog, chain_id: str, node_id: str):
    return next(n for n in catalog.chain(chain_id).nodes if n.id == node_id)


def test_default_catalog_validates_and_watches_china(catalog):
    assert catalog.home == "CHN"


def test_covers_the_five_named_chains(catalog):
    ids = {chain.id for chain in catalog.chains}
    assert len(catalog.chains) >= 5
    assert NAMED_CHAINS <= ids, NAMED_CHAINS - ids


@pytest.mark.parametrize("chain_id", sorted(NAMED_CHAINS))
def test_chain_runs_from_upstream_to_downstream(catalog, chain_id):
    chain = catalog.chain(chain_id)
    assert len(chain.nodes) >= 4
    assert {node.stage for node in chain.nodes} == {"upstream", "midstream", "downstream"}
    for node in chain.nodes:
        assert node.hs_codes, f"{chain_id}/{node.id} has no HS code"
        # An edge from a downstream node back to an upstream one would invert the chain.
        order = {"upstream": 0, "midstream": 1, "downstream": 2}
        for dep in node.depends_on:
            assert order[_node(catalog, chain_id, dep).stage] <= order[node.stage], (node.id, dep)


def test_depends_on_edges_stay_inside_their_chain(catalog):
    for chain in catalog.chains:
        ids = {node.id for node in chain.nodes}
        for node in chain.nodes:
            assert set(node.depends_on) <= ids, (chain.id, node.id)


def test_an_edge_to_an_unknown_node_is_rejected_with_the_field_named(raw_catalog):
    broken = copy.deepcopy(raw_catalog)
    broken["chains"][0]["nodes"][-1]["depends_on"] = ["no-such-node"]
    with pytest.raises(ValidationError) as err:
        Catalog.model_validate(broken)
    message = str(err.value)
    assert "depends_on" in message and "no-such-node" in message


def test_a_dependency_cycle_is_rejected(raw_catalog):
    broken = copy.deepcopy(raw_catalog)
    nodes = broken["chains"][0]["nodes"]
    # Make the first node depend on the last, which (transitively) depends on the first.
    nodes[0]["depends_on"] = [nodes[-1]["id"]]
    with pytest.raises(ValidationError, match="dependency cycle"):
        Catalog.model_validate(broken)


@pytest.mark.parametrize(
    ("chain_id", "node_id", "hs_code"),
    [
        ("critical-minerals", "cobalt", "2605"),       # cobalt ores and concentrates
        ("critical-minerals", "cobalt", "8105"),       # cobalt mattes, intermediates, metal
        ("critical-minerals", "nickel", "2604"),       # nickel ores and concentrates
        ("critical-minerals", "rare-earths", "2846"),  # rare-earth compounds
        ("critical-minerals", "rare-earths", "280530"),  # rare-earth metals
        ("critical-minerals", "gallium-germanium", "811292"),
        ("semiconductors", "silicon-wafers", "280461"),  # silicon >= 99.99 %
        ("semiconductors", "silicon-wafers", "381800"),  # doped wafers
        ("semiconductors", "fab-equipment", "848620"),   # machines for semiconductor devices
        ("semiconductors", "integrated-circuits", "8542"),
        ("batteries", "lithium-compounds", "283691"),    # lithium carbonate
        ("batteries", "lithium-compounds", "282520"),    # lithium hydroxide
        ("batteries", "graphite-anode", "250410"),       # natural graphite, powder/flakes
        ("batteries", "cells-packs", "850760"),          # lithium-ion accumulators
        ("pharmaceuticals", "antibiotic-apis", "2941"),
        ("pharmaceuticals", "vitamins-hormones", "2936"),
        ("pharmaceuticals", "vitamins-hormones", "2937"),
        ("pharmaceuticals", "finished-medicines", "3004"),
        ("new-energy-vehicles", "electric-vehicles", "870380"),
        ("new-energy-vehicles", "permanent-magnets", "850511"),
        ("new-energy-vehicles", "power-semiconductors", "854129"),
    ],
)
def test_key_hs_codes_sit_on_the_right_node(catalog, chain_id, node_id, hs_code):
    assert hs_code in _node(catalog, chain_id, node_id).hs_codes


def test_no_hs_code_is_counted_twice_within_a_chain(catalog):
    for chain in catalog.chains:
        codes = [code for node in chain.nodes for code in node.hs_codes]
        assert len(codes) == len(set(codes)), chain.id
        # A heading and one of its own subheadings on the same chain would double count too.
        for code in codes:
            assert not any(other != code and other.startswith(code) for other in codes), (chain.id, code)


def test_every_chain_has_an_accountable_owner_and_a_route(catalog):
    for chain in catalog.chains:
        assert chain.owner.name and chain.owner.title, chain.id
        assert chain.lead_department and chain.co_departments, chain.id
        assert CJK.search(chain.lead_department), "lead department should carry its Chinese name"
        assert chain.receivers == ["default-webhook"], chain.id
        assert chain.contacts, chain.id
        for contact in chain.contacts:
            # Placeholder addresses only: the default catalog must not point at real people.
            assert contact.email and contact.email.endswith("@example.org"), contact


def test_names_are_bilingual(catalog):
    for chain in catalog.chains:
        assert CJK.search(chain.name.zh) and not CJK.search(chain.name.en), chain.id
        for node in chain.nodes:
            assert CJK.search(node.name.zh) and not CJK.search(node.name.en), node.id


def test_each_chain_has_a_production_series_the_demo_source_produces(catalog):
    for chain in catalog.chains:
        series = [s for node in chain.nodes for s in node.production_series]
        assert series, chain.id
        for node in chain.nodes:
            for series_id in node.production_series:
                assert series_id == f"demo.prod.{chain.id}.{node.id}", series_id


def test_a_nodes_detector_threshold_wins_over_its_chains_which_wins_over_the_default(catalog):
    # The precedence the assessment judges each node's series with (its wiring:
    # tests/integration/test_assessment.py::test_node_detector_threshold_sets_that_nodes_sensitivity_only).
    minerals = catalog.chain("critical-minerals")
    node = minerals.nodes[0]
    assert minerals.detector_threshold is None and node.detector_threshold is None
    assert minerals.detector_threshold_of(node, 3.5) == 3.5
    chain_wide = minerals.model_copy(update={"detector_threshold": 7.0})
    assert chain_wide.detector_threshold_of(node, 3.5) == 7.0
    assert chain_wide.detector_threshold_of(node.model_copy(update={"detector_threshold": 2.0}), 3.5) == 2.0
    assert minerals.detector_threshold_of(node.model_copy(update={"detector_threshold": 2.0}), 3.5) == 2.0
