"""Validation and classification of the long tables the indicators read.

Group keys and required columns, numeric non-negative values (an error names the
column and the row), partner codes normalised for matching, and which partners are
aggregates (:data:`indicators.vocabulary.AGGREGATE_PARTNERS`), the World or residuals.
Shared by every indicator that reads a ``partner, value`` table; pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from indicators.vocabulary import AGGREGATE_PARTNERS, OVERLAPPING_AGGREGATES, WORLD_PARTNERS

__all__ = [
    "DATA_COLUMNS",
    "check_keys",
    "check_columns",
    "validated_values",
    "normalised_codes",
    "is_aggregate",
    "partner_kinds",
    "residual_set",
]

#: Columns every ``partner, value`` table has besides its group keys.
DATA_COLUMNS = ("partner", "value")


def check_keys(keys: Sequence[str]) -> list[str]:
    """``keys`` as a list of group-key columns; ValueError when empty, repeated or a data column."""
    if isinstance(keys, str):
        keys = (keys,)
    keys = list(keys)
    if not keys:
        raise ValueError("keys must name at least one column, e.g. ('reporter', 'product')")
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must not repeat a column: {keys!r}")
    clash = [k for k in keys if k in DATA_COLUMNS]
    if clash:
        raise ValueError(f"keys must not include {clash[0]!r}: it is a data column, not a group key")
    return keys


def check_columns(flows: pd.DataFrame, keys: list[str], argument: str = "flows") -> None:
    """TypeError unless ``flows`` is a DataFrame; ValueError naming the first missing key or data column."""
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"{argument} must be a pandas DataFrame, got {type(flows).__name__}")
    missing = [c for c in (*keys, *DATA_COLUMNS) if c not in flows.columns]
    if missing:
        raise ValueError(
            f"{argument} is missing column {missing[0]!r} (needs {', '.join((*keys, *DATA_COLUMNS))}; "
            f"has {', '.join(map(str, flows.columns))})"
        )


def validated_values(flows: pd.DataFrame, column: str = "value") -> pd.Series:
    """Return ``flows[column]`` as float64, or raise ValueError naming the column and row."""
    raw = flows[column]
    if is_bool_dtype(raw):
        raise ValueError(f"column {column!r} must be numeric, got booleans")
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = values.isna() & raw.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"column {column!r} has {int(bad.sum())} non-numeric entries, "
            f"first {raw.iloc[pos]!r} at row {pos}"
        )
    if values.isna().any():
        pos = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValueError(
            f"column {column!r} has {int(values.isna().sum())} missing entries (first at row "
            f"{pos}); drop or fill them before computing shares: a missing supplier "
            "value cannot be treated as zero"
        )
    arr = values.to_numpy()
    if not np.isfinite(arr).all():
        pos = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"column {column!r} has a non-finite entry {float(arr[pos])!r} at row {pos}")
    if (arr < 0).any():
        pos = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(
            f"column {column!r} has {int((arr < 0).sum())} negative entries, first "
            f"{float(arr[pos])!r} at row {pos}; flows and outputs must be >= 0"
        )
    return values


def normalised_codes(codes: pd.Series) -> pd.Series:
    """Codes as matched against the vocabulary: ``str(code).strip().upper()``."""
    return codes.astype(str).str.strip().str.upper()


def is_aggregate(partner: pd.Series) -> np.ndarray:
    """Boolean mask of partners listed in :data:`AGGREGATE_PARTNERS`."""
    if is_numeric_dtype(partner) and not is_bool_dtype(partner):
        # Numeric partner codes (Comtrade partnerCode): only 0, World, is an aggregate.
        return (partner.astype("float64") == 0).to_numpy()
    return normalised_codes(partner).isin(AGGREGATE_PARTNERS).to_numpy()


def on_distinct(column: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``test(column)`` as a boolean array, evaluated on the column's distinct values only.

    For the per-row text normalisation (``astype(str).str.strip().str.upper()``) of code
    columns: a node's frame has a handful of distinct codes and ~10^5 rows.
    """
    codes, uniques = column.factorize(use_na_sentinel=False)
    return np.asarray(test(pd.Series(uniques)), dtype=bool)[codes]


def text_codes(column: pd.Series, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(column.astype(str), sort=sort)``, with -1 for a missing value, converting
    only the column's distinct values to text (a partition has ~10^6 rows and a few hundred codes).

    Returns each row's code and the distinct texts (an object array).
    """
    codes, uniques = pd.factorize(column)
    text_code, text = pd.factorize(pd.Series(uniques, dtype=object).astype(str), sort=sort)
    return np.where(codes >= 0, text_code[np.maximum(codes, 0)], -1), np.asarray(text, dtype=object)


def partner_kinds(partner: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row: is the partner the World, is it an overlapping aggregate.

    Codes are normalised on the distinct partners only (a frame has a handful of
    partners and up to millions of rows), then spread back to the rows.
    """
    codes, uniques = partner.factorize(use_na_sentinel=False)
    # In Python, not pandas' string methods: called for every node's frame and judged month
    # (thousands of times per assessment), where pandas' per-call cost exceeded the work.
    normalised = [str(code).strip().upper() for code in uniques]
    is_world = np.fromiter((code in WORLD_PARTNERS for code in normalised), dtype=bool, count=len(normalised))
    is_overlapping = np.fromiter((code in OVERLAPPING_AGGREGATES for code in normalised), dtype=bool,
                                 count=len(normalised))
    return is_world[codes], is_overlapping[codes]


def residual_set(residual_partners: Collection[str]) -> frozenset[str]:
    """The normalised residual partner codes; an aggregate among them is a ValueError."""
    if isinstance(residual_partners, str):
        residual_partners = (residual_partners,)
    chosen = frozenset(str(p).strip().upper() for p in residual_partners)
    clash = sorted(chosen & AGGREGATE_PARTNERS)
    if clash:
        raise ValueError(
            f"residual_partners must not include the aggregate {clash[0]!r}: an aggregate is "
            "a total of other rows; use residual_from_totals to turn it into a residual"
        )
    return chosen
