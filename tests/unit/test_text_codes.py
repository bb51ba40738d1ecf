"""indicators.tables.text_codes: factorizing a code column as text, on its distinct values only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.tables import text_codes


@pytest.mark.parametrize("sort", [False, True])
def test_codes_are_those_of_the_text_and_missing_is_minus_one(sort):
    # 1 and "1" are one text; None is missing, not the text "None".
    column = pd.Series(["JPN", 1, "1", None, "CHN", "JPN", 2.5], dtype=object)
    codes, names = text_codes(column, sort=sort)
    expected_names = sorted(["JPN", "1", "CHN", "2.5"]) if sort else ["JPN", "1", "CHN", "2.5"]
    assert list(names) == expected_names
    assert [names[c] if c >= 0 else None for c in codes] == ["JPN", "1", "1", None, "CHN", "JPN", "2.5"]
    assert codes.dtype.kind == "i" and codes[3] == -1
    assert isinstance(names, np.ndarray)
