"""Basket HS codes (issue #20 item 5): a node measured through a basket says so.

``Node.baskets`` maps some of a node's HS codes to what else each code carries;
``Node.basket_note()`` turns that into the phrase appended to the node's drivers.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from pydantic import ValidationError

from monitor.config.loader import ConfigError, load_config
from monitor.config.models import Catalog, Node
from tests.conftest import CONFIG_DIR

CJK = re.compile(r"[\u4e00-\u9fff]")
LIVE_DIR = CONFIG_DIR / "live"


def _node(**fields) -> Node:
    base = {"id": "gallium-germanium", "name": {"en": "Gallium and germanium", "zh": "镓与锗"},
            "stage": "midstream", "criticality": 0.5, "hs_codes": ["811292", "282560"]}
    return Node.model_validate(base | fields)


GERMANIUM_ETC = {"en": "also indium, niobium and vanadium", "zh": "还包括铟、铌、钒"}
ZIRCONIA = {"en": "also zirconium dioxide", "zh": "还包括二氧化锆"}


def test_a_node_without_baskets_has_no_note():
    assert _node().baskets == {}
    assert _node().basket_note() is None


def test_one_basket_among_other_codes_is_measured_partly_through_it():
    en, zh = _node(baskets={"811292": GERMANIUM_ETC}).basket_note()
    assert en == "measured partly through basket HS 811292 (also indium, niobium and vanadium)"
    assert zh == "部分通过 HS 811292（还包括铟、铌、钒）篮子税目测度"


def test_all_codes_baskets_are_listed_in_catalog_order():
    # Dict order differs from hs_codes order on purpose: the note follows hs_codes.
    node = _node(baskets={"282560": ZIRCONIA, "811292": GERMANIUM_ETC})
    en, zh = node.basket_note()
    assert en == ("measured through baskets HS 811292 (also indium, niobium and vanadium); "
                  "HS 282560 (also zirconium dioxide)")
    assert zh == "通过 HS 811292（还包括铟、铌、钒）、HS 282560（还包括二氧化锆）篮子税目测度"


def test_a_basket_text_needs_both_languages():
    with pytest.raises(ValidationError, match="zh"):
        _node(baskets={"811292": {"en": "also indium"}})
    with pytest.raises(ValidationError, match="unknown|extra"):
        _node(baskets={"811292": GERMANIUM_ETC | {"fr": "aussi indium"}})


def test_a_basket_that_is_not_one_of_the_nodes_codes_names_chain_node_and_code(raw_catalog):
    broken = copy.deepcopy(raw_catalog)
    chain = next(c for c in broken["chains"] if c["id"] == "critical-minerals")
    node = next(n for n in chain["nodes"] if n["id"] == "gallium-germanium")
    node["baskets"]["811299"] = GERMANIUM_ETC
    with pytest.raises(ValidationError) as err:
        Catalog.model_validate(broken)
    message = str(err.value)
    assert "'811299'" in message and "'gallium-germanium'" in message and "'critical-minerals'" in message


def test_the_loader_reports_a_stray_basket_as_one_line_and_the_cli_exits_2(tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config_dir)
    path = config_dir / "chains.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    chain_index = next(i for i, c in enumerate(document["chains"]) if c["id"] == "critical-minerals")
    nodes = document["chains"][chain_index]["nodes"]
    node_index = next(i for i, n in enumerate(nodes) if n["id"] == "cobalt")
    nodes[node_index]["baskets"] = {"2604": {"en": "also nickel", "zh": "还包括镍"}}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        load_config(config_dir, environ={})
    assert info.value.problems == [
        f"chains.yaml: chains[{chain_index}].nodes[{node_index}].baskets: HS '2604' is not one of the hs_codes "
        "of node 'cobalt' in chain 'critical-minerals' (2605, 8105)"]

    proc = subprocess.run([sys.executable, "-m", "monitor.cli.main", "check-config", "--config", str(config_dir)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert [line.strip() for line in proc.stderr.splitlines() if "baskets" in line] == info.value.problems


@pytest.mark.parametrize("directory", [CONFIG_DIR, LIVE_DIR], ids=["default", "live"])
def test_both_profiles_load_with_their_baskets(directory):
    catalog = load_config(directory, environ={}).catalog
    flagged = {(c.id, n.id) for c in catalog.chains for n in c.nodes if n.baskets}
    assert {("critical-minerals", "lithium-ores"), ("critical-minerals", "gallium-germanium"),
            ("new-energy-vehicles", "traction-motors")} <= flagged


def test_live_and_default_catalogs_measure_the_same_codes_and_baskets():
    default = load_config(CONFIG_DIR, environ={}).catalog
    live = load_config(LIVE_DIR, environ={}).catalog
    for chain in default.chains:
        for node in chain.nodes:
            twin = next(n for n in live.chain(chain.id).nodes if n.id == node.id)
            assert (twin.hs_codes, twin.baskets, twin.description) == (node.hs_codes, node.baskets, node.description)


def test_every_basket_node_says_so_in_its_description_in_both_languages(catalog):
    for chain in catalog.chains:
        for node in chain.nodes:
            if not node.baskets:
                continue
            assert node.description is not None, (chain.id, node.id)
            assert "basket" in node.description.en and "篮子" in node.description.zh, (chain.id, node.id)
            for code, text in node.baskets.items():
                assert text.en.startswith("also "), (node.id, code)
                assert text.zh.startswith("还包括") and CJK.search(text.zh), (node.id, code)
            en, zh = node.basket_note()
            assert "basket" in en and "篮子税目" in zh


@pytest.mark.parametrize(
    ("chain_id", "node_id", "code"),
    [
        ("critical-minerals", "lithium-ores", "253090"),      # also rare-earth ore (Mountain Pass)
        ("critical-minerals", "gallium-germanium", "811292"),  # Ga/Ge/In/Nb/V
        ("critical-minerals", "gallium-germanium", "282560"),  # GeO2 and ZrO2
        ("semiconductors", "process-chemicals", "280429"),     # rare gases incl. helium
        ("new-energy-vehicles", "traction-batteries", "850760"),
        ("new-energy-vehicles", "power-semiconductors", "854129"),
        ("batteries", "separators", "392010"),
        ("batteries", "electrolytes", "382499"),
    ],
)
def test_known_baskets_are_flagged(catalog, chain_id, node_id, code):
    node = next(n for n in catalog.chain(chain_id).nodes if n.id == node_id)
    assert code in node.baskets


def test_the_same_code_is_a_basket_only_where_it_carries_other_goods(catalog):
    # 850760 is the whole product of batteries/cells-packs, but a basket for traction batteries.
    cells = next(n for n in catalog.chain("batteries").nodes if n.id == "cells-packs")
    assert "850760" in cells.hs_codes and "850760" not in cells.baskets


@pytest.mark.parametrize(
    ("chain_id", "node_id", "code"),
    [
        ("critical-minerals", "nickel", "720260"),        # ferro-nickel incl. NPI
        ("critical-minerals", "manganese", "2602"),       # manganese ores
        ("critical-minerals", "natural-graphite", "250410"),
        ("semiconductors", "silicon-wafers", "250610"),   # high-purity quartz
        ("batteries", "graphite-anode", "380190"),        # coated spherical graphite
        ("batteries", "electrolytes", "282690"),          # LiPF6
        ("batteries", "separators", "392020"),
        ("pharmaceuticals", "other-apis", "293359"),      # pyrimidine/piperazine APIs
        ("new-energy-vehicles", "electric-vehicles", "870370"),
    ],
)
def test_codes_added_by_the_review_sit_on_their_node(catalog, chain_id, node_id, code):
    node = next(n for n in catalog.chain(chain_id).nodes if n.id == node_id)
    assert code in node.hs_codes


def test_non_api_2933_lines_stay_out_of_pharmaceuticals(catalog):
    codes = {c for n in catalog.chain("pharmaceuticals").nodes for c in n.hs_codes}
    assert not {"2933", "293361", "293371"} & codes  # melamine and caprolactam are not APIs
