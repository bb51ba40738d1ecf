"""The report for a reader (#25): readable axis numbers, plots only where they add, no CJK
font lookup (and warning) for English reports."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from monitor.report import plots
from monitor.report.content import NodeSeries
from monitor.report.render import PLOTTED_TOP_RISKS, plotted_nodes


@pytest.mark.parametrize("value, shown", [
    (0, "0"), (950, "950"), (12_500, "12,500"), (3_400_000, "3.4 M"), (628_761_390, "629 M"),
    (1_250_000_000, "1.25 bn"), (-2_000_000, "-2 M"), (0.5, "0.5"),
])
def test_axis_numbers_have_separators_and_units_not_offsets(value, shown):
    assert plots.readable_number(value) == shown


def _series(flagged: bool) -> list[NodeSeries]:
    values = pd.Series([1.0, 2.0], index=pd.to_datetime(["2025-01-01", "2025-02-01"]))
    return [NodeSeries("s", "import value", values, [date(2025, 2, 1)] if flagged else [])]


def test_only_flagged_or_top_risk_nodes_are_plotted():
    top = [{"chain": "c", "node": f"top{i}"} for i in range(PLOTTED_TOP_RISKS + 2)]
    series = {f"c/top{i}": _series(False) for i in range(PLOTTED_TOP_RISKS + 2)}
    series |= {"c/flagged": _series(True), "c/quiet": _series(False), "c/empty": []}
    chosen = plotted_nodes({"top_risks": top}, series)
    assert chosen == {f"c/top{i}" for i in range(PLOTTED_TOP_RISKS)} | {"c/flagged"}


def test_english_plots_never_look_for_a_cjk_font(monkeypatch):
    def refuse():
        raise AssertionError("looked for a CJK font for an English plot")

    monkeypatch.setattr(plots, "cjk_font_family", refuse)
    assert plots.font_settings(False) == {"font.family": ["DejaVu Sans"]}
    series = _series(True)[0]
    assert plots.series_plot(series, "Cobalt — import value").startswith(b"\x89PNG")
    assert plots.level_heatmap([{"name": "Critical minerals", "name_zh": "关键矿产", "level": "red",
                                 "nodes": [{"name": "Cobalt ores", "name_zh": "钴", "level": "red", "score": 90.0}]}]
                               ).startswith(b"\x89PNG")
