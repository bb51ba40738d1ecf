"""The live profile feeds the exposure dimensions from real sources: the New York Fed GSCPI
(file source, negative values kept), World Bank WGI estimates for the partners, exports."""

from __future__ import annotations

import pytest

from monitor.collect.files import FileCollector
from monitor.config.loader import load_config
from tests.conftest import CONFIG_DIR
from tests.shared_data import GSCPI, needs_gscpi

LIVE = CONFIG_DIR / "live"


@needs_gscpi
def test_live_gscpi_source_reads_the_published_index_with_its_negative_values():
    config = load_config(LIVE, environ={"CHAINWATCH_GSCPI_CSV": str(GSCPI)})
    source = next(s for s in config.sources.sources if s.id == "gscpi")
    batch = FileCollector(source, config.catalog).collect()
    values = batch.observations.set_index("period")["value"]
    assert set(batch.observations["series_id"]) == {config.settings.assessment.dimensions.logistics.series}
    assert len(values) == 339 and batch.rejected == {}
    assert values[values.index.max()] == pytest.approx(0.68)            # 2026-03, the file's last month
    assert str(values.idxmax())[:7] == "2021-12" and values.max() == pytest.approx(4.49)
    assert (values < 0).sum() > 100                                       # below-average months are kept


def test_live_partner_scores_and_exports_are_collected():
    config = load_config(LIVE, environ={})
    partner = config.settings.assessment.dimensions.partner_risk
    worldbank = next(s for s in config.sources.sources if s.kind == "worldbank")
    collected = {f"wb.{i.indicator}.{{partner}}": i for i in worldbank.indicators}
    for pattern in partner.series:
        assert pattern in collected and collected[pattern].allow_negative, pattern
    comtrade = next(s for s in config.sources.sources if s.kind == "comtrade")
    assert "X" in comtrade.flows
