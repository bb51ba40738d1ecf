"""A DataFrame as CSV text, byte for byte what ``DataFrame.to_csv(index=False)`` writes, in C++.

pandas formats each float cell in Python (``astype(str)``): 1.6 s of a 3.4 s
``concentration`` run on 1,000,000 rows. Here Arrow's cast to string formats the cells
and Arrow's string kernels join them into lines; only where Arrow's shortest round-trip
text is spelled differently from Python's is it respelled: an integral value gets its
``.0`` back (Arrow writes ``5``, Python ``5.0``), and a value that either writes with an
exponent (Arrow from about 1e10 with many digits, Python below 1e-4 and from 1e16) is
formatted by numpy, as pandas does. Missing values (NaN, None) are empty cells; a text
cell is quoted only when it holds a comma, a quote or a line feed, as Python's
``csv.QUOTE_MINIMAL`` with pandas's ``\n`` line end. Frames of one column (where csv
quotes a lone empty cell) and empty frames are left to pandas.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["frame_csv"]

# Python (and numpy) write an exponent below this size; Arrow not yet.
_POSITIONAL_LOW = 1e-4


def frame_csv(frame: pd.DataFrame) -> str:
    """``frame.to_csv(index=False)``, the same text, without a Python call per cell."""
    header = io.StringIO()
    pd.DataFrame(columns=frame.columns).to_csv(header, index=False)
    if len(frame.columns) < 2 or len(frame) == 0:  # csv quotes a lone empty cell: leave such frames to pandas
        return frame.to_csv(index=False)
    # Large strings: a 5,000,000-row table's text can pass the 2 GiB of 32-bit offsets.
    cells = [pc.cast(_column_text(frame[name]), pa.large_string()) for name in frame.columns]
    lines = pc.binary_join_element_wise(*cells, pa.scalar(",", pa.large_string()), null_handling="replace",
                                        null_replacement="")
    lines = pc.binary_join_element_wise(lines, pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string()))
    # Every line is valid, so the rows are the value buffer from the first offset to the last.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return header.getvalue() + lines.buffers()[2][int(offsets[0]):int(offsets[-1])].to_pybytes().decode("utf-8")


def _column_text(column: pd.Series) -> pa.Array:
    if pd.api.types.is_float_dtype(column.dtype):
        return _float_text(column.to_numpy(dtype="float64", na_value=np.nan))
    if pd.api.types.is_integer_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return pc.cast(pa.array(column.to_numpy()), pa.string())
    if pd.api.types.is_string_dtype(column.dtype):
        try:
            return _quoted(pa.array(column, type=pa.string(), from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column that is not all text
            pass
    # Anything else (booleans, dates, mixed objects): pandas's own text, per cell.
    missing = column.isna().to_numpy()
    return _quoted(pa.array(column.astype(str).to_numpy(dtype=object), type=pa.string(), mask=missing))


def _quoted(text: pa.Array) -> pa.Array:
    """Text cells as csv.QUOTE_MINIMAL writes them: quoted (quotes doubled) when they hold , " or LF
    (pandas's line end; a lone CR is not quoted)."""
    needs = pc.match_substring_regex(text, '[,"\n]')
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _float_text(values: np.ndarray) -> pa.Array:
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())  # NaN -> null -> empty cell
    integral = pc.match_substring_regex(text, r"^-?[0-9]+$")
    text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    # Where either writes an exponent, the two differ in where they switch to it: numpy
    # (pandas's formatter) spells those cells.
    size = np.abs(values)
    exponent = pc.fill_null(pc.match_substring(text, "e"), False).to_numpy(zero_copy_only=False)
    odd = np.flatnonzero(exponent | ((size < _POSITIONAL_LOW) & (size > 0)))
    if odd.size:
        cells = text.to_numpy(zero_copy_only=False).astype(object)
        cells[odd] = values[odd].astype(str)
        text = pa.array(cells, type=pa.string())
    return text
