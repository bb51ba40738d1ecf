"""``chainwatch events load|add|map`` and ``chainwatch evaluate-events`` run as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FR = [FIXTURES / "federal_register" / f"documents_bis_2023-10_page{n}.json" for n in (1, 2)]

pytestmark = pytest.mark.skipif(not CHAINWATCH.exists(), reason=f"console script not installed at {CHAINWATCH}")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHAINWATCH), *args, "--config", str(REPO / "config"),
                           "--db", f"sqlite:///{tmp_path / 'cw.db'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)


def test_loaded_events_warn_on_their_nodes_and_unmatched_ones_are_listed(tmp_path):
    fr_args = [a for page in FR for a in ("--federal-register-json", str(page))]
    loaded = run(tmp_path, "events", "load", "--file", str(FIXTURES / "events" / "curated_events.csv"), *fr_args)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "events: 7 new, 0 updated, 0 linked to an event they repeat or amend"
    added = run(tmp_path, "events", "add", "--id", "a1", "--title", "Strike at a lithium hydroxide plant",
                "--issuer", "AUS", "--kind", "outage", "--announced", "2023-10-20")
    assert added.returncode == 0, added.stderr

    mapped = run(tmp_path, "events", "map", "--as-of", "2023-10-25", "--format", "json")
    assert mapped.returncode == 0, mapped.stderr
    doc = json.loads(mapped.stdout)
    nodes = {(w["event_id"], w["node"]) for w in doc["warnings"]}
    assert {("federal_register:2023-23049", "fab-equipment"), ("federal_register:2023-23055", "integrated-circuits"),
            ("events-file:cn-2023-ga-ge", "gallium-germanium"), ("analyst:a1", "lithium-compounds")} <= nodes
    sme = next(w for w in doc["warnings"] if w["event_id"] == "federal_register:2023-23049")
    assert sme["days_until_effective"] == 23 and sme["link"].startswith("https://www.federalregister.gov/")
    assert {u["event_id"] for u in doc["unmatched"]} == {"federal_register:2023-23048"}  # antimony: announced after the day

    table = run(tmp_path, "events", "map", "--as-of", "2023-10-25")
    assert "in force in 23 days (2023-11-17)" in table.stdout and "matched no node" in table.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,issuer,kind,announced\na,t,CHN,licensing,3 July 2023\n", encoding="utf-8")
    result = run(tmp_path, "events", "load", "--file", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"chainwatch: {bad}: row 2: field 'announced' is '3 July 2023', not an ISO date (YYYY-MM-DD)"]
    added = run(tmp_path, "events", "add", "--id", "x", "--title", "t", "--issuer", "China", "--kind", "licensing",
                "--announced", "2023-07-03")
    assert added.returncode == 2 and "field 'issuer' has 'CHINA'" in added.stderr and "Traceback" not in added.stderr


def test_evaluate_events_reports_recall_false_matches_and_lead_time(tmp_path):
    result = run(tmp_path, "evaluate-events", "--input", str(REPO / "benchmarks" / "events" /
                                                          "preregistered_events.csv"), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["recall"] >= 0.8 and doc["false_matches_per_100_events"] is not None
    assert doc["median_lead_days"] > 0
