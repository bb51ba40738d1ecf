"""``frame_csv`` writes what ``DataFrame.to_csv(index=False)`` writes (the documented CSV
output of ``concentration``), byte for byte, though Arrow formats the cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cli.frame_csv import frame_csv

# Where Arrow's and Python's float spellings part: integral values, exponents on either
# side, the boundaries at 1e-4 and 1e16, signed zero, infinities, subnormals, NaN.
EDGE_FLOATS = [0.0, -0.0, 5.0, -7.0, 1104738.0, 0.1, 1e-4, 9.999999999999999e-05, 1e-05, 1.5e-7, 1e15,
               999999999999999.9, 1e16, 9999999999999998.0, 12573022109.339329, 1.2345678901234568e17, 5e-324,
               1.7976931348623157e308, np.inf, -np.inf, np.nan, 0.27627583801236444, 2762.758380123644]
EDGE_TEXT = ["R00", "NA", "", " padded ", "a,b", 'say "x"', "two\nlines", "cr\ronly", "ü", None]


def test_edge_values_are_written_as_pandas_writes_them():
    n = len(EDGE_FLOATS) * len(EDGE_TEXT)
    frame = pd.DataFrame({
        "reporter": pd.array((EDGE_TEXT * len(EDGE_FLOATS))[:n], dtype="str"),
        "value": np.resize(np.array(EDGE_FLOATS), n),
        "n_partners": np.arange(n, dtype="int64") - 3,
        "counts": pd.array([1, None] * (n // 2), dtype="Int64"),
        "flag": [True, False] * (n // 2),
        "status": "ok",
    })
    assert frame_csv(frame) == frame.to_csv(index=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40),
       st.lists(st.text(max_size=6), min_size=1, max_size=40))
def test_any_floats_and_text_are_written_as_pandas_writes_them(values, texts):
    n = max(len(values), len(texts))
    frame = pd.DataFrame({"text": np.resize(np.array(texts, dtype=object), n),
                          "value": np.resize(np.array(values, dtype="float64"), n)})
    assert frame_csv(frame) == frame.to_csv(index=False)


def test_one_column_and_empty_frames_match_too():
    assert frame_csv(pd.DataFrame({"x": ["", "a"]})) == pd.DataFrame({"x": ["", "a"]}).to_csv(index=False)
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype="str")})
    assert frame_csv(empty) == empty.to_csv(index=False)
