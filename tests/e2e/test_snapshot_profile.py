"""The shipped real-data snapshot profile (config/snapshot): offline, real, and right.

Runs ``chainwatch assess --once --config snapshot`` as a user would and checks every
critical-minerals node names the world's top producing country with the share the
shipped USGS release gives (within 1 percentage point), computed here from the same
files with pandas: the release's own arithmetic, top producer / World total.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from monitor.collect.usgs import usgs_iso3
from monitor.config.countries import country_name_en
from monitor.config.loader import load_config

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
SNAPSHOT = Path(__file__).resolve().parents[2] / "config" / "snapshot"
DRIVER = re.compile(r"world supply: (?P<country>.+?) (?P<share>\d+)% of world (?P<what>.+?) output in (?P<year>\d{4})")

pytestmark = pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")


ETO = Path(__file__).resolve().parents[1] / "fixtures" / "eto"


def _assess(work: Path, **env: str) -> dict:
    result = subprocess.run([str(CHAINWATCH), "assess", "--once", "--config", "snapshot", "--format", "json",
                             "--db", f"sqlite:///{work / 'snapshot.db'}"],
                            capture_output=True, text=True, timeout=300, cwd=work,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(work), **env}, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("snapshot")


@pytest.fixture(scope="module")
def document(work):
    return _assess(work)


@pytest.fixture(scope="module")
def with_chip_files(tmp_path_factory):
    """The snapshot with the CSET/ETO Chip Explorer files supplied (an extract, tests/fixtures/eto)."""
    return _assess(tmp_path_factory.mktemp("snapshot-eto"), CHAINWATCH_ETO_DIR=str(ETO))


def _published(stem: str, year: int) -> tuple[str, float]:
    """Top producer and its share of the World total in ``year``, from the newest shipped release."""
    code = stem.split(".")[1]
    for release in ("mcs2024_world", "mcs2023_world", "mcs2022_world"):
        files = sorted((SNAPSHOT / "data" / "usgs" / release).glob(f"*{code}_world.csv"))
        if not files:
            continue
        raw = pd.read_csv(files[0], dtype=str, encoding="utf-8-sig", keep_default_na=False)
        column = next((c for c in raw.columns if c.startswith("Prod_") and c.endswith(str(year))), None)
        if column is None:
            continue
        values = pd.to_numeric(raw[column].str.replace(",", ""), errors="coerce")
        world = values[raw["Country"].str.startswith("World total")].max()
        named = ~raw["Country"].str.match(r"^(World total|Other countries)")
        # the stage the node reads: the first Type of the file with a World total
        top = values[named].idxmax()
        return raw.loc[top, "Country"], float(values[top] / world)
    raise AssertionError(f"{stem} {year}: not in the shipped releases")


def test_the_snapshot_is_real_data_and_offline(document):
    assert document["simulated_data"] is False


def test_every_critical_minerals_node_names_the_top_producer_as_the_release_does(document):
    config = load_config("snapshot")
    chain = next(c for c in document["chains"] if c["id"] == "critical-minerals")
    nodes = {n.id: n for n in next(c for c in config.catalog.chains if c.id == "critical-minerals").nodes}
    checked = 0
    for node in chain["nodes"]:
        if not nodes[node["id"]].world_supply:
            continue
        found = [m for m in map(DRIVER.search, node["drivers"]) if m]
        assert found, f"{node['id']}: no world-supply driver in {node['drivers']}"
        stem = next(s.series for s in nodes[node["id"]].world_supply if s.name.en == found[0]["what"])
        country, share = _published(stem, int(found[0]["year"]))
        assert country_name_en(usgs_iso3(country)) == found[0]["country"], (node["id"], country, found[0]["country"])
        # the driver rounds to whole percent: within 1 point of the release, plus that rounding
        assert abs(int(found[0]["share"]) / 100 - share) <= 0.01 + 0.005, (node["id"], country, share)
        checked += 1
    assert checked >= 6


def test_what_real_data_cannot_show_is_said_not_guessed(document):
    # No trade source ships with the snapshot: import-side dimensions are unknown, and the
    # nodes are 'unknown' rather than safe or red.
    levels = {n["level"] for c in document["chains"] for n in c["nodes"]}
    assert levels <= {"unknown", "none", "blue", "yellow", "orange", "red"}
    assert not document["alerts"]
    minerals = next(c for c in document["chains"] if c["id"] == "critical-minerals")
    assert all(n["dimensions"].get("concentration") is None for n in minerals["nodes"])


def _semiconductor_nodes(document: dict) -> dict[str, dict]:
    return {n["id"]: n for n in next(c for c in document["chains"] if c["id"] == "semiconductors")["nodes"]}


def test_with_the_chip_files_the_semiconductor_nodes_show_stage_concentration(with_chip_files):
    nodes = _semiconductor_nodes(with_chip_files)
    # the worst stage of each node names its top country and share (the extract's figures)
    expected = {"fab-equipment": ("NLD", 100, "EUV scanner"), "silicon-wafers": ("JPN", 56, "silicon wafer"),
                "integrated-circuits": ("TWN", 47, "wafer fabrication")}
    for node_id, (country, share, what) in expected.items():
        found = [m for m in map(DRIVER.search, nodes[node_id]["drivers"]) if m]
        assert found and (found[0]["country"], int(found[0]["share"]), found[0]["what"], found[0]["year"]) == (
            country_name_en(country), share, what, "2019"), nodes[node_id]["drivers"]
        assert nodes[node_id]["dimensions"]["world_supply"] is not None
    # ETO publishes no country shares for photoresists, gases or wet chemicals: missing, not zero
    assert nodes["process-chemicals"]["dimensions"]["world_supply"] is None


def test_without_the_chip_files_the_semiconductor_nodes_say_how_to_get_them(document, work):
    nodes = _semiconductor_nodes(document)
    assert all(n["dimensions"].get("world_supply") is None for n in nodes.values())
    with sqlite3.connect(work / "snapshot.db") as db:
        details = dict(db.execute("SELECT node, details FROM risk_scores WHERE chain = 'semiconductors' "
                                  "AND dimension = 'world_supply'").fetchall())
    assert set(details) == set(nodes)
    for node_id, text in details.items():
        missing = json.loads(text)["missing"]
        assert "CHAINWATCH_ETO_DIR" in missing and "github.com/georgetown-cset/eto-supply-chain" in missing, \
            (node_id, missing)
