"""The stress result's terminal table: names not ids, fitted to the width with whole words (issue 25)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from indicators.stress import Input, NodeSpec, Shock, chain_result, simulate_network
from monitor.cli.stress_table import scenario_table
from monitor.config.loader import load_config, load_scenario
from monitor.stress.runs import ScenarioOutcome
from tests.conftest import CONFIG_DIR


@pytest.fixture(scope="module")
def outcome():
    config = load_config(CONFIG_DIR, environ={})
    scenario = load_scenario(CONFIG_DIR / "scenarios" / "taiwan-strait-ics.yaml", config)
    ics = NodeSpec("semiconductors/integrated-circuits", {("TWN", "854231"): 40.0, ("KOR", "854231"): 60.0})
    power = NodeSpec("new-energy-vehicles/power-semiconductors", {},
                     inputs=(Input("semiconductors/integrated-circuits", 0.3, 1),))
    results = simulate_network([power, ics], [Shock("export_cut", 1.0, months=6, partner="TWN")], 12)
    # a chain's results are keyed by node id, as monitor.stress.runs stores them
    by_chain = {}
    for key, result in results.items():
        chain, node = key.split("/")
        by_chain.setdefault(chain, {})[node] = replace(result, node=node)
    chains = [chain_result(chain, nodes, {node: 1.0 for node in nodes}, 12) for chain, nodes in by_chain.items()]
    return ScenarioOutcome(scenario=scenario, as_of=date(2025, 12, 1), chains=chains, simulated=True,
                           sensitivity=[{"assumption": "inventory_days", "low": 2e9, "base": 1e9, "high": 5e8,
                                         "swing": 1.5e9}], value_at_risk_usd=1e9), config.catalog


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{3,}", text))


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_the_table_fits_the_width_with_whole_words_and_names(outcome, width):
    result, catalog = outcome
    text = scenario_table(result, catalog, width=width)
    assert max(map(len, text.splitlines())) <= width
    wide = scenario_table(result, catalog, wide=True)
    # no word of the one-line rendering is cut: every word of the fitted text is one of its words
    assert _words(text) <= _words(wide)
    for name in ("Integrated circuits", "Power semiconductors (IGBT, SiC)", "New-energy vehicles"):
        assert name.split()[0] in text
    assert "integrated-circuits" not in text  # names, not ids
    assert "Sensitivity of the total value at risk" in text and "inventory_days" in text


def test_wide_puts_each_node_on_one_line_with_its_path(outcome):
    result, catalog = outcome
    lines = scenario_table(result, catalog, wide=True).splitlines()
    power = [line for line in lines if line.startswith("Power semiconductors")]
    assert len(power) == 1 and power[0].endswith("Power semiconductors (IGBT, SiC) <- Integrated circuits")
