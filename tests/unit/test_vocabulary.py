"""One vocabulary: every per-level table covers exactly the levels of indicators/vocabulary.py."""

from __future__ import annotations

import pytest

from alerts.templates import _WORDS
from indicators.vocabulary import AGGREGATE_PARTNERS, ALL_LEVELS, LEVELS, UNKNOWN, WORLD_PARTNERS, level_index
from monitor.cli.terminal import LEVEL_STYLES
from monitor.report.plots import LEVEL_COLOURS


@pytest.mark.parametrize("table", [LEVEL_COLOURS, LEVEL_STYLES, _WORDS["en"]["levels"], _WORDS["zh"]["levels"]],
                         ids=["report colours", "cli colours", "en names", "zh names"])
def test_every_level_table_covers_the_vocabulary(table):
    assert list(table) == list(ALL_LEVELS)


def test_level_index_orders_the_levels_and_names_a_stranger():
    assert [level_index(x) for x in LEVELS] == [0, 1, 2, 3, 4] and level_index(UNKNOWN) == -1
    with pytest.raises(ValueError, match="'purple'"):
        level_index("purple")


def test_the_world_is_an_aggregate_partner():
    assert WORLD_PARTNERS < AGGREGATE_PARTNERS and "_X" in AGGREGATE_PARTNERS - WORLD_PARTNERS
