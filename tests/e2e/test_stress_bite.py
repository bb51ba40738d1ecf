"""Stress tests that bite (issue 22), as a user runs them on the demo catalog.

``chainwatch assess --once`` in a temporary directory stores the demo data; then
``chainwatch stress`` must show a large, multi-month IC shortfall for a Taiwan Strait
disruption that reaches the NEV chain, a DR Congo cobalt stop that reaches cells,
traction batteries and vehicles with its path, a port disruption with a non-zero lead-time effect, a sensitivity table
for every result, and ``stress --all`` must store the whole suite.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
CONFIG = Path(__file__).resolve().parents[2] / "config"
SCENARIOS = CONFIG / "scenarios"

pytestmark = pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")


def _run(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}
    return subprocess.run([str(CHAINWATCH), *args, "--config", str(CONFIG)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    # stress tests read only the stored trade flows, so `collect` is enough (no assessment run)
    cwd = tmp_path_factory.mktemp("stress-bite")
    done = _run(cwd, "collect")
    assert done.returncode == 0, done.stderr
    return cwd


def _stress(cwd, name: str) -> dict:
    done = _run(cwd, "stress", "--scenario", str(SCENARIOS / f"{name}.yaml"), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _node(document: dict, chain: str, node: str) -> dict:
    return next(n for c in document["chains"] if c["id"] == chain for n in c["nodes"] if n["id"] == node)


def test_taiwan_strait_ics(collected):
    document = _stress(collected, "taiwan-strait-ics")
    ics = _node(document, "semiconductors", "integrated-circuits")
    short_months = [m for m in ics["monthly"] if m["shortfall"] > 0.05]
    assert ics["peak_shortfall"] > 0.25 and len(short_months) >= 3  # large and multi-month
    assert ics["value_at_risk_usd"] > 0 and ics["time_to_survive_months"] is not None
    assert ics["time_to_recover_months"] > 6  # recovery outlasts the 6-month stop
    power = _node(document, "new-energy-vehicles", "power-semiconductors")
    assert max(m["import_loss"] for m in power["monthly"]) > 0  # Taiwan's own power devices
    # and the ICs inside the modules that carry their gate drivers (share 0.3 of the node's output)
    assert max(m["upstream_loss"] for m in power["monthly"]) > 0.05
    vehicles = _node(document, "new-energy-vehicles", "electric-vehicles")
    # ICs are essential to every vehicle: its output at risk follows the IC shortfall in full
    assert max(m["upstream_loss"] for m in vehicles["monthly"]) == pytest.approx(ics["peak_shortfall"], abs=1e-3)
    assert vehicles["path"] == ["new-energy-vehicles/electric-vehicles", "semiconductors/integrated-circuits"]
    assert document["sensitivity"] and {"assumption", "low", "base", "high", "swing"} <= set(document["sensitivity"][0])


def test_dr_congo_cobalt_stop_reaches_batteries_with_its_path(collected):
    document = _stress(collected, "embargo-cobalt-cod")
    cobalt = _node(document, "critical-minerals", "cobalt")
    assert cobalt["peak_shortfall"] > 0.8  # no one replaces ~3/4 of world output
    precursors = _node(document, "batteries", "cathode-precursors")
    assert precursors["peak_shortfall"] > 0.2
    assert precursors["path"] == ["batteries/cathode-precursors", "critical-minerals/cobalt"]
    cathode = _node(document, "batteries", "cathode-materials")
    assert cathode["path"][-1] == "critical-minerals/cobalt" and len(cathode["path"]) == 3
    assert cathode["peak_shortfall"] > 0.05  # the NCM/NCA part's own stock runs out, not LFP's
    # the quotas keep cobalt short: cells and the NEV chain's traction batteries run short too
    cells = _node(document, "batteries", "cells-packs")
    packs = _node(document, "new-energy-vehicles", "traction-batteries")
    assert cells["peak_shortfall"] > 0.02 and packs["peak_shortfall"] > 0.02
    assert packs["path"] == ["new-energy-vehicles/traction-batteries", "batteries/cells-packs",
                             "batteries/cathode-materials", "batteries/cathode-precursors", "critical-minerals/cobalt"]
    vehicles = _node(document, "new-energy-vehicles", "electric-vehicles")
    assert vehicles["path"][1:] == packs["path"] and max(m["upstream_loss"] for m in vehicles["monthly"]) > 0
    assert document["sensitivity"]


def test_port_disruption_has_a_lead_time_effect(collected):
    document = _stress(collected, "port-disruption-30pct")
    effects = [n["lead_time_effect_months"] for c in document["chains"] for n in c["nodes"]]
    assert max(effects) > 0
    assert any(m["lead_time_loss"] > 0 for c in document["chains"] for n in c["nodes"] for m in n["monthly"])
    assert document["sensitivity"]


def test_stress_all_runs_and_stores_the_suite_quickly(collected):
    started = time.monotonic()
    done = _run(collected, "stress", "--all")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "stored as stress suite run" in done.stdout and "Sensitivity" in done.stdout
    with sqlite3.connect(collected / "chainwatch.db") as db:
        [(status, count)] = db.execute("SELECT status, (SELECT count(DISTINCT scenario) FROM stress_results) "
                                       "FROM stress_runs").fetchall()
    assert status == "succeeded" and count == len(list(SCENARIOS.glob("*.yaml"))) - 1  # Ga/Ge: other homes
    assert elapsed < 30  # the engine itself takes well under 10 s; the rest is start-up on a shared machine
