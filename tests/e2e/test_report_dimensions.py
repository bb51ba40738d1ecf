"""The report shows every assessment dimension, missing data as missing, and Chinese text
with a CJK font when there is one (English plot labels, said so, when there is none)."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import pytest

from monitor.assess.assessment import run_assessment
from monitor.config.loader import load_config
from monitor.assess.dimensions import DIMENSIONS
from monitor.report import plots
from monitor.report.content import build_report
from monitor.report.render import write_report
from monitor.store.database import make_engine, session_factory
from tests.conftest import CONFIG_DIR, FrozenClock

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _config(language: str = "en", partner_series: list[str] | None = None):
    config = load_config(CONFIG_DIR, environ={})
    settings = config.settings
    assessment = settings.assessment
    if partner_series is not None:
        partner = assessment.dimensions.partner_risk.model_copy(update={"series": partner_series})
        assessment = assessment.model_copy(update={
            "dimensions": assessment.dimensions.model_copy(update={"partner_risk": partner})})
    report = settings.report.model_copy(update={"language": language})
    return config.model_copy(update={"settings": settings.model_copy(update={"assessment": assessment,
                                                                              "report": report})})


TWO_YEARS = {"start": "2024-01", "end": "2025-12"}


def _assessed(config, sessions, clock):
    """The report's document and series after assessing two years of stored demo data."""
    run_assessment(config, sessions, clock)
    with sessions() as session:
        return build_report(config, session, simulated=True)


@pytest.fixture(scope="module")
def chinese_report(demo_sqlite):
    """The Chinese report of the demo data, built once for the tests that render it."""
    engine = make_engine(demo_sqlite(**TWO_YEARS))
    try:
        return _assessed(_config("zh"), session_factory(engine), FrozenClock())
    finally:
        engine.dispose()


def _glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@SQLITE_ONLY
def test_report_lists_every_dimension_and_shows_missing_ones_as_missing(sessions, clock, tmp_path, store_demo):
    config = _config(partner_series=["absent.{partner}"])
    store_demo(**TWO_YEARS)
    document, series = _assessed(config, sessions, clock)
    declared = {(c.id, n.id) for c in config.catalog.chains for n in c.nodes if n.world_supply}
    for chain in document["chains"]:
        for node in chain["nodes"]:
            # world supply only where the node names world-supply stages
            expected = {"concentration", "disruption", *DIMENSIONS} - (
                set() if (chain["id"], node["id"]) in declared else {"world_supply"})
            assert set(node["dimensions"]) == expected
            assert node["dimensions"]["partner_risk"] is None
            assert "partner scores cover 0%" in node["dimensions_missing"]["partner_risk"]
            assert node["dimensions"]["dependence"] is not None and "dependence" not in node["dimensions_missing"]
    html = write_report(document, {}, tmp_path / "out").read_text(encoding="utf-8")  # no series plots: faster
    assert "Scores by dimension" in html and "Partner risk" in html and "Logistics pressure" in html
    assert html.count('class="missing"') == sum(len(c["nodes"]) for c in document["chains"])


@pytest.mark.skipif(plots.cjk_font_family() is None,
                    reason="no CJK font installed (Debian fonts-wqy-microhei or fonts-noto-cjk; .ci/run installs one)")
def test_chinese_plot_labels_use_the_cjk_font():
    chains = [{"id": "critical-minerals", "name": "Critical minerals", "name_zh": "关键矿产", "level": "red",
               "nodes": [{"id": "cobalt", "name": "Cobalt", "name_zh": "钴矿", "score": 100.0, "level": "red"}]}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = plots.level_heatmap(chains, zh=True)
    assert png.startswith(b"\x89PNG") and _glyph_warnings(caught) == []
    assert plots.chinese_labels(True) and not plots.chinese_labels(False)


def test_chinese_report_names_dimensions_and_degrades_clearly_without_a_cjk_font(chinese_report, tmp_path,
                                                                                   monkeypatch):
    document, series = chinese_report
    one_node = {"critical-minerals/cobalt": series["critical-minerals/cobalt"]}  # plots are slow; one node shows it
    html = write_report(document, one_node, tmp_path / "with").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert "各维度风险分" in html and "来源国风险" in html and "物流压力" in html
    assert "请安装中文字体" in html  # what to do if the viewer shows boxes
    monkeypatch.setattr(plots, "cjk_font_family", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = write_report(document, one_node, tmp_path / "without").read_text(encoding="utf-8")
    assert _glyph_warnings(caught) == []  # no empty boxes drawn
    assert "图中标签使用英文" in html and "plot labels are in English" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
@pytest.mark.skipif(plots.cjk_font_family() is None,
                    reason="no CJK font installed (Debian fonts-wqy-microhei or fonts-noto-cjk; .ci/run installs one)")
def test_chromium_draws_the_chinese_report_with_a_cjk_font(chinese_report, tmp_path):
    document, _ = chinese_report
    report = write_report(document, {}, tmp_path / "out")
    pdf = tmp_path / "report.pdf"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'profile'}",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert pdf.is_file(), result.stderr[-2000:]
    # The PDF names every font it embeds; Chinese text drawn with a CJK font (not as boxes) embeds one.
    embedded = set(re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([A-Za-z0-9-]+)", pdf.read_bytes()))
    cjk = {name.replace(" ", "").lower().encode() for name in plots.CJK_FONT_FAMILIES}
    assert any(name.split(b"-")[0].lower() in cjk for name in embedded), embedded
