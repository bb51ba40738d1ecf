"""Golden figures: world-supply shares from the real USGS MCS 2024 files against the published ones.

Reference: U.S. Geological Survey, Mineral Commodity Summaries 2024 (doi:10.3133/mcs2024) and
its data release (doi:10.5066/P144BA54), world production tables, 2023 estimated. The published
share is the release's own arithmetic (country / "World total (rounded)"); tolerance 1
percentage point. Fixtures: tests/fixtures/usgs/ (byte-exact; tests/fixtures/README.md).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from indicators.production import usgs_world_concentration, usgs_world_records
from monitor.collect.usgs import read_world_file, usgs_iso3

MCS2024 = Path(__file__).parents[1] / "fixtures" / "usgs" / "mcs2024_world"
CHAINWATCH = Path(sys.executable).with_name("chainwatch")

# (file, commodity stage, top producer, published share 2023e, reference text)
GOLDEN = [
    ("mcs2024-galli_world.csv", "primary", "CHN", 0.98, "China ≈ 98 % of primary gallium (MCS 2024, 2023e)"),
    ("mcs2024-cobal_world.csv", "mine", "COD", 0.74, "Congo (Kinshasa) ≈ 74 % of mined cobalt (MCS 2024, 2023e)"),
    ("mcs2024-nicke_world.csv", "mine", "IDN", 0.50, "Indonesia ≈ 50 % of mined nickel (MCS 2024, 2023e)"),
    ("mcs2024-raree_world.csv", "mine", "CHN", 0.69, "China ≈ 69 % of mined rare earths (MCS 2024, 2023e)"),
    ("mcs2024-graph_world.csv", "mine", "CHN", 0.77, "China ≈ 77 % of natural graphite (MCS 2024, 2023e)"),
    ("mcs2024-lithi_world.csv", "mine", "AUS", 0.475, "Australia ≈ 47–48 % of mined lithium, U.S. withheld "
                                                      "(MCS 2024, 2023e)"),
]


def _row(name: str, code: str):
    records = usgs_world_records(read_world_file(MCS2024 / name), code)
    records["partner"] = [usgs_iso3(p) or p for p in records["partner"]]
    table = usgs_world_concentration(records)
    return table[table["period"] == 2023].iloc[0]


@pytest.mark.parametrize(("name", "stage", "top", "published", "reference"), GOLDEN,
                         ids=[g[0].split("-")[1][:5] for g in GOLDEN])
def test_top_producer_share_matches_the_release(name, stage, top, published, reference):
    row = _row(name, name.split("-")[1][:5])
    assert row["top_partner"] == top, reference
    assert abs(row["top_share_published"] - published) <= 0.01, (reference, row["top_share_published"])
    # the conservative share (denominator max(World total, named sum)) stays within rounding of it
    assert row["top_share"] <= row["top_share_published"] + 1e-12
    assert row["top_share_published"] - row["top_share"] <= 0.015, reference


def test_lithium_names_the_withheld_us_production():
    row = _row("mcs2024-lithi_world.csv", "lithi")
    assert row["withheld"] == "USA" and row["world_total"] == 180000.0


def test_gallium_hhi_as_published_in_provenance_notes():
    assert _row("mcs2024-galli_world.csv", "galli")["hhi"] == pytest.approx(0.97, abs=0.01)


@pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_cli_concentration_reads_a_usgs_file_directly(tmp_path, fmt):
    result = subprocess.run([str(CHAINWATCH), "concentration", "--input", str(MCS2024 / "mcs2024-galli_world.csv"),
                             "--format", fmt], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert "USGS MCS world file (MCS2024, galli)" in result.stderr
    rows = (list(csv.DictReader(io.StringIO(result.stdout))) if fmt == "csv" else json.loads(result.stdout))
    by_year = {str(r["period"]): r for r in rows}
    assert sorted(by_year) == ["2022", "2023"]
    r = by_year["2023"]
    assert r["reporter"] == "WORLD" and r["product"] == "galli.primary" and r["top_partner"] == "CHN"
    assert float(r["top_share"]) == pytest.approx(600000 / 610000) and float(r["total"]) == 610000
    assert r["release"] == "MCS2024" and r["status"] == "ok"


@pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")
def test_cli_concentration_usgs_bom_upper_case_and_withheld(tmp_path):
    for name, product, withheld in [("MCS2024-bismu_world.csv", "bismu.refinery", ""),
                                    ("mcs2024-lithi_world.csv", "lithi.mine", "USA"),
                                    ("mcs2024-fluor_world.csv", "fluor.mine", "")]:
        result = subprocess.run([str(CHAINWATCH), "concentration", "--input", str(MCS2024 / name), "--format", "csv"],
                                capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
        assert result.returncode == 0, (name, result.stderr)
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert {r["product"] for r in rows} == {product}
        assert {r["withheld"] for r in rows} == {withheld}
