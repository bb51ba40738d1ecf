"""The regular report: content from a stored run, HTML rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app import build_app
from monitor.config.countries import country_name_en
from monitor.report.content import ReportError, build_report
from tests.conftest import CONFIG_DIR, SMALL_CHAINS, FrozenClock, config_copy

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def assessed_database(tmp_path_factory):
    """The demo data collected and assessed twice, 30 days apart, by the app: built once, copied per test."""
    path = tmp_path_factory.mktemp("assessed") / "cw.db"
    clock = FrozenClock()
    # Two chains (critical minerals with the demo's cobalt disruption, and batteries): what the
    # report shows per chain and node is the same code for every chain.
    config_dir = config_copy(path.parent / "config", chains=SMALL_CHAINS)
    app = build_app(config_dir, f"sqlite:///{path}", clock=clock)
    try:
        app.collect_all()
        app.assess()
        clock.now += timedelta(days=30)
        app.assess()
    finally:
        app.close()
    with closing(sqlite3.connect(path)) as connection:  # everything in the file itself, none in its WAL
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, clock.now, config_dir


@pytest.fixture
def assessed_app(assessed_database, tmp_path, clock):
    path, clock.now, config_dir = assessed_database
    shutil.copyfile(path, tmp_path / "cw.db")
    app = build_app(config_dir, f"sqlite:///{tmp_path / 'cw.db'}", clock=clock)
    yield app
    app.close()


def test_report_content(assessed_app):
    with assessed_app.sessions() as session:
        document, plots = build_report(assessed_app.config, session, simulated=True)
    assert document["run"]["id"] == 2 and document["previous_run"]["id"] == 1
    assert document["simulated_data"] is True
    assert len(document["chains"]) == len(assessed_app.config.catalog.chains)
    minerals = next(c for c in document["chains"] if c["id"] == "critical-minerals")
    assert minerals["owner"]["name"] and minerals["lead_department"]
    cobalt = next(n for n in minerals["nodes"] if n["id"] == "cobalt")
    assert cobalt["level"] == "red" and cobalt["score_change"] == 0.0
    assert cobalt["concentration"]["top_partners"][0]["partner"] == "COD"
    assert cobalt["concentration"]["trend"] in {"up", "down", "flat"}
    scores = [r["score"] for r in document["top_risks"]]
    assert scores == sorted(scores, reverse=True) and document["top_risks"][0]["node"] == "cobalt"
    assert document["changes"] == []  # same data twice: no level changed
    flagged = [s for s in plots["critical-minerals/cobalt"] if s.flagged]
    assert flagged and flagged[0].flagged[-1].strftime("%Y-%m") == document["run"]["as_of"]


def test_report_of_unknown_or_missing_run(tmp_path, clock):
    app = build_app(CONFIG_DIR, f"sqlite:///{tmp_path / 'empty.db'}", clock=clock)
    try:
        with app.sessions() as session:
            with pytest.raises(ReportError, match="no successful assessment run yet"):
                build_report(app.config, session)
            with pytest.raises(ReportError, match="no assessment run 42"):
                build_report(app.config, session, 42)
    finally:
        app.close()


def test_report_command_writes_self_contained_files(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}
    config_copy(tmp_path / "config", chains=SMALL_CHAINS)  # two chains: a shorter assessment, the same files
    subprocess.run([str(CHAINWATCH), "assess", "--once"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    result = subprocess.run([str(CHAINWATCH), "report", "--out", "out"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    document = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert "data:image/png;base64," in html and "src=\"http" not in html  # opens from disk, offline
    for chain in document["chains"]:
        assert chain["name"] in html
    assert "SIMULATED DEMO DATA" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_report_renders_in_headless_chromium(assessed_app, tmp_path):
    report = assessed_app.write_report(tmp_path / "report")
    screenshot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
         f"--screenshot={screenshot}", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, result.stderr[-2000:]
    console_errors = [line for line in result.stderr.splitlines()
                      if "CONSOLE" in line and ("ERROR" in line.upper() or "Uncaught" in line)]
    assert not console_errors, console_errors
    # Not blank: a white page compresses to almost nothing; also count distinct colours.
    from PIL import Image

    with Image.open(screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50


def test_report_shows_partner_reported_mirror_flows(assessed_app, tmp_path):
    """A month the home economy has not reported, filled from partner reports, is marked in the report."""
    import pandas as pd
    from sqlalchemy import delete

    from monitor.records import MIRROR, CollectedBatch
    from monitor.report.render import write_report
    from monitor.store.observations import store_batch
    from monitor.store.tables import TradeFlow

    with assessed_app.sessions() as session:
        document, _ = build_report(assessed_app.config, session, simulated=True)
    as_of = pd.Timestamp(document["run"]["as_of"])
    minerals = next(c for c in assessed_app.config.catalog.chains if c.id == "critical-minerals")
    codes = next(n for n in minerals.nodes if n.id == "cobalt").hs_codes
    with assessed_app.sessions.begin() as session:  # the reporter's own figures for the month are missing
        session.execute(delete(TradeFlow).where(TradeFlow.product.in_(codes), TradeFlow.period == as_of.date()))
    mirror = pd.DataFrame({"reporter": "CHN", "partner": "COD", "product": list(codes), "flow": "M",
                           "period": as_of, "value": 1.0e8, "quantity": float("nan"), "provenance": MIRROR,
                           "cif_fob_factor": 1.06})
    store_batch(assessed_app.sessions, CollectedBatch(source="comtrade", vintage="mirror-v1", trade_flows=mirror),
                assessed_app.clock())

    with assessed_app.sessions() as session:
        document, plots = build_report(assessed_app.config, session, simulated=True)
    chain = next(c for c in document["chains"] if c["id"] == "critical-minerals")
    concentration = next(n for n in chain["nodes"] if n["id"] == "cobalt")["concentration"]
    assert concentration["mirror_periods"] == [as_of.strftime("%Y-%m")]
    assert concentration["mirror_partners"] == ["COD"]
    assert 0 < concentration["mirror_share"] < 1
    untouched = next(n for n in chain["nodes"] if n["id"] == "nickel")["concentration"]
    assert untouched["mirror_share"] == 0.0 and untouched["mirror_periods"] == []
    html = write_report(document, plots, tmp_path / "out").read_text(encoding="utf-8")
    # the report names the country (#25); report.json keeps the code
    assert f"{100 * concentration['mirror_share']:.0f}% partner-reported (mirror: {country_name_en('COD')})" in html
    assert f"{country_name_en('COD')} " in html.split("mirror:")[0]  # the top-partners cell names countries too

    # the next assessment marks it too: the import finding of that month and the stored
    # concentration details (what GET /api/v1/findings and /chains/{id} show)
    from sqlalchemy import select

    from monitor.store.tables import Finding, RiskScore
    assessed_app.assess()
    with assessed_app.sessions() as session:
        finding = session.scalars(select(Finding).where(
            Finding.series_id == "imports.critical-minerals.cobalt", Finding.period == as_of.date())
            .order_by(Finding.id.desc())).first()
        details = session.scalars(select(RiskScore.details).where(
            RiskScore.chain == "critical-minerals", RiskScore.node == "cobalt",
            RiskScore.dimension == "concentration").order_by(RiskScore.id.desc())).first()
    assert "partner-reported mirror data: DR Congo" in finding.explanation_en
    assert details["mirror_periods"] == [as_of.strftime("%Y-%m")] and details["mirror_share"] > 0


def test_report_is_for_a_reader(assessed_app, tmp_path):
    """#25: names not codes, plots only for flagged or top-risk nodes, group-readable files."""
    import re
    import stat

    out = tmp_path / "reports" / "run-2"
    html = assessed_app.write_report(out).read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for name in ("report.html", "report.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name
    # Country names, not ISO codes, beside the shares (cobalt's top partner is COD).
    assert "Congo" in html and not re.search(r"<td>[A-Z]{3} \d+%", html)
    assert " · China · " in html and " · CHN · " not in html  # whose imports the report is about
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    nodes = sum(len(c["nodes"]) for c in document["chains"])
    plotted = html.count('<div class="plot">')
    assert 0 < plotted < nodes / 2
    assert 'class="unplotted"' in html
