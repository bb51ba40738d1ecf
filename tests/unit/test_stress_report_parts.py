"""Pieces of the report's stress section: amounts in USD for people and the tornado plot."""

from __future__ import annotations

from monitor.report.plots import tornado_plot
from monitor.stress.usd import format_usd


def test_usd_amounts_read_as_people_write_them():
    assert [format_usd(v) for v in (49_850_000_000, 455_700_000, 12_040, 300, -2_500_000)] == [
        "$49.9bn", "$455.7M", "$12.0k", "$300", "$-2.5M"]


def test_tornado_plot_is_a_png_even_when_no_assumption_moves_the_result():
    rows = [{"assumption": "inventory_days", "low": 12.3e9, "base": 3.1e9, "high": 1.3e9, "swing": 11e9},
            {"assumption": "cut_share", "low": 0.5e9, "base": 3.1e9, "high": 3.1e9, "swing": 2.6e9}]
    flat = [{"assumption": "lead_months", "low": 0.0, "base": 0.0, "high": 0.0, "swing": 0.0}]
    for table in (rows, flat):
        assert tornado_plot(table, "cobalt").startswith(b"\x89PNG")
