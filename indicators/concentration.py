"""Supplier concentration of a flow or an output: shares, HHI, concentration ratios.

Pure functions on long tables (one row per reporter, partner, product, period, ...);
no I/O. Everything is vectorised over groups with ``groupby``/``transform``/``bincount``,
so a table with millions of rows costs a few sorts, not a Python loop per group.

The partner is whoever supplies: for trade data the exporting country seen from the
reporter; for production data the producing country with ``reporter="WORLD"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

__all__ = [
    "AGGREGATE_PARTNERS",
    "DEFAULT_KEYS",
    "CONCENTRATION_COLUMNS",
    "partner_shares",
    "concentration_table",
]

#: Group keys used when the caller gives none: one group per reporter, product, period.
DEFAULT_KEYS: tuple[str, ...] = ("reporter", "product", "period")

#: Columns that ``concentration_table`` adds after the keys, in this order.
CONCENTRATION_COLUMNS: tuple[str, ...] = (
    "total",
    "n_partners",
    "hhi",
    "hhi_points",
    "cr1",
    "cr3",
    "top_partner",
    "top_share",
    "effective_n",
)

#: Partner codes that stand for an aggregate of partners, not one supplier. Rows with
#: these partners are dropped before shares are computed, so they count neither in the
#: numerator nor in the denominator (a "World" row would otherwise double the total).
#: Matching is on ``str(partner).strip().upper()``.
#:
#: - ``WORLD``, ``W00``, ``0``: UN Comtrade's World (partnerISO ``W00``, partnerCode 0);
#:   ``WLD``: World in WITS / World Bank codes; ``WORLD TOTAL``, ``TOTAL``.
#: - ``_X``: Comtrade "Areas, not elsewhere specified" (no identifiable supplier).
#: - ``EU27_2020``, ``EXT_EU27_2020``, ``INT_EU27_2020``: Eurostat Comext partner
#:   aggregates (they overlap member-state rows).
#:
#: USGS "Other countries" / "World total (rounded)" rows carry footnote digits
#: ("Other countries4") and are best removed when the file is read.
AGGREGATE_PARTNERS: frozenset[str] = frozenset(
    {
        "WORLD",
        "W00",
        "_X",
        "0",
        "WLD",
        "WORLD TOTAL",
        "TOTAL",
        "EU27_2020",
        "EXT_EU27_2020",
        "INT_EU27_2020",
    }
)

_REQUIRED = ("partner", "value")


def _check_keys(keys: Sequence[str]) -> list[str]:
    if isinstance(keys, str):
        keys = (keys,)
    keys = list(keys)
    if not keys:
        raise ValueError("keys must name at least one column, e.g. ('reporter', 'product')")
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must not repeat a column: {keys!r}")
    clash = [k for k in keys if k in _REQUIRED]
    if clash:
        raise ValueError(f"keys must not include {clash[0]!r}: it is a data column, not a group key")
    return keys


def _validated_values(flows: pd.DataFrame) -> pd.Series:
    """Return ``flows['value']`` as float64, or raise ValueError naming the column."""
    raw = flows["value"]
    if is_bool_dtype(raw):
        raise ValueError("column 'value' must be numeric, got booleans")
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = values.isna() & raw.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"column 'value' has {int(bad.sum())} non-numeric entries, "
            f"first {raw.iloc[pos]!r} at row {pos}"
        )
    if values.isna().any():
        pos = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValueError(
            f"column 'value' has {int(values.isna().sum())} missing entries (first at row "
            f"{pos}); drop or fill them before computing shares: a missing supplier "
            "value cannot be treated as zero"
        )
    arr = values.to_numpy()
    if not np.isfinite(arr).all():
        pos = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"column 'value' has a non-finite entry {arr[pos]!r} at row {pos}")
    if (arr < 0).any():
        pos = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(
            f"column 'value' has {int((arr < 0).sum())} negative entries, first "
            f"{arr[pos]!r} at row {pos}; flows and outputs must be >= 0"
        )
    return values


def _is_aggregate(partner: pd.Series) -> np.ndarray:
    """Boolean mask of partners listed in :data:`AGGREGATE_PARTNERS`."""
    if is_numeric_dtype(partner) and not is_bool_dtype(partner):
        # Numeric partner codes (Comtrade partnerCode): only 0, World, is an aggregate.
        return (partner.astype("float64") == 0).to_numpy()
    text = partner.astype(str)
    return text.str.strip().str.upper().isin(AGGREGATE_PARTNERS).to_numpy()


def _partner_sort_key(partner: pd.Series) -> pd.Series:
    """Partner codes in a totally ordered form (numbers numerically, else as text)."""
    if is_numeric_dtype(partner) and not is_bool_dtype(partner):
        return partner.astype("float64")
    return partner.astype(str)


def partner_shares(flows: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS) -> pd.DataFrame:
    """Share of each partner in the total of its group.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with the ``keys`` columns plus ``partner`` (supplier code) and
        ``value`` (non-negative amount in any one unit per group: USD, kg, t, ...).
    keys : sequence of str, default ``("reporter", "product", "period")``
        Columns that define a group, e.g. ``("chain", "node", "period")`` or
        ``("reporter", "product")``.

    Returns
    -------
    pandas.DataFrame
        Columns ``keys + ["partner", "value", "share"]``, one row per group and
        partner, sorted by keys then partner. Rows whose partner is in
        :data:`AGGREGATE_PARTNERS` are removed, values of repeated
        (group, partner) rows are summed, and groups whose total is not positive are
        dropped (a share of nothing is undefined). Partners with value 0 are kept
        with share 0.

    Raises
    ------
    ValueError
        If a column is missing, ``keys`` is malformed, ``partner`` has missing
        entries, or ``value`` has non-numeric, missing, infinite or negative entries;
        the message names the column.

    Notes
    -----
    For group :math:`g` and partner :math:`i` (aggregates excluded),

    .. math:: v_{g,i} = \\sum_{rows} value, \\qquad
              T_g = \\sum_i v_{g,i}, \\qquad s_{g,i} = v_{g,i} / T_g

    :math:`s` is dimensionless in [0, 1] and sums to 1 within a group; ``value`` keeps
    the input unit. Source: the market-share definition used for the HHI in U.S.
    DOJ/FTC Merger Guidelines (2023), section 2.1 and endnote on the HHI.
    """
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"flows must be a pandas DataFrame, got {type(flows).__name__}")
    keys = _check_keys(keys)
    missing = [c for c in (*keys, *_REQUIRED) if c not in flows.columns]
    if missing:
        raise ValueError(
            f"flows is missing column {missing[0]!r} (needs {', '.join((*keys, *_REQUIRED))}; "
            f"has {', '.join(map(str, flows.columns))})"
        )
    values = _validated_values(flows)
    partner = flows["partner"]
    if partner.isna().any():
        pos = int(np.flatnonzero(partner.isna().to_numpy())[0])
        raise ValueError(
            f"column 'partner' has {int(partner.isna().sum())} missing entries, first at row {pos}"
        )

    keep = ~_is_aggregate(partner)
    data = flows.loc[keep, keys + ["partner"]].assign(value=values[keep].to_numpy())
    summed = (
        data.groupby(keys + ["partner"], dropna=False, sort=True, observed=True)["value"]
        .sum()
        .reset_index()
    )
    total = summed.groupby(keys, dropna=False, sort=False, observed=True)["value"].transform("sum")
    positive = (total > 0).to_numpy()
    out = summed.loc[positive].reset_index(drop=True)
    out["share"] = out["value"].to_numpy() / total.to_numpy()[positive]
    return out


def _empty_table(keys: list[str]) -> pd.DataFrame:
    dtypes = {col: "float64" for col in CONCENTRATION_COLUMNS}
    dtypes.update(n_partners="int64", top_partner=object)
    columns = {k: pd.Series(dtype=object) for k in keys}
    columns.update({col: pd.Series(dtype=dtypes[col]) for col in CONCENTRATION_COLUMNS})
    return pd.DataFrame(columns)


def concentration_table(flows: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS) -> pd.DataFrame:
    """Concentration indicators per group: HHI, CR1, CR3, top partner, effective number.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with the ``keys`` columns plus ``partner`` and ``value`` (see
        :func:`partner_shares`).
    keys : sequence of str, default ``("reporter", "product", "period")``
        Columns that define a group.

    Returns
    -------
    pandas.DataFrame
        One row per group (sorted by keys) with columns ``keys`` then

        - ``total``: sum of partner values (input unit), aggregates excluded;
        - ``n_partners``: number of partners with value > 0;
        - ``hhi``: Herfindahl-Hirschman index on the 0-1 scale;
        - ``hhi_points``: the same on the 0-10,000 scale (shares in percent);
        - ``cr1``, ``cr3``: share of the largest one / three partners (0-1);
        - ``top_partner``: the largest partner; ties go to the smallest partner code;
        - ``top_share``: its share (equal to ``cr1``);
        - ``effective_n``: ``1 / hhi``, the number of equal-sized partners that would
          give the same HHI.

        Groups whose total is not positive do not appear.

    Raises
    ------
    ValueError
        As :func:`partner_shares`, naming the offending column.

    Notes
    -----
    With shares :math:`s_i` of group :math:`g` sorted so that
    :math:`s_{(1)} \\ge s_{(2)} \\ge \\dots` (ties broken by partner code, ascending):

    .. math::

        HHI_g = \\sum_i s_i^2 \\in [1/n, 1], \\qquad
        HHI^{points}_g = 10^4 \\, HHI_g, \\qquad
        CR_k = \\sum_{j \\le k} s_{(j)}, \\qquad
        N^{eff}_g = 1 / HHI_g

    Sources: Herfindahl-Hirschman index as defined in U.S. DOJ & FTC, *Merger
    Guidelines* (2023), section 2.1 ("the sum of the squares of the market shares",
    in points with shares in percent); the 0-1 form is the one used for import
    concentration in European Commission SWD(2021) 352 *Strategic dependencies and
    capacities*. :math:`1/HHI` as "numbers equivalent": Adelman, M. A. (1969),
    *Review of Economics and Statistics* 51(1), 99-101.

    The computation is vectorised: one sort by (group, value descending, partner
    ascending), a ``cumcount`` rank within each group and ``numpy.bincount`` sums per
    group id; there is no Python-level loop over groups.
    """
    keys = _check_keys(keys)
    shares = partner_shares(flows, keys)
    if shares.empty:
        return _empty_table(keys)

    gid = shares.groupby(keys, dropna=False, sort=True, observed=True).ngroup().to_numpy()
    ordered = shares.assign(_gid=gid, _pkey=_partner_sort_key(shares["partner"]))
    ordered = ordered.sort_values(
        ["_gid", "value", "_pkey"], ascending=[True, False, True], kind="mergesort"
    )
    rank = ordered.groupby("_gid", sort=False).cumcount().to_numpy()
    g = ordered["_gid"].to_numpy()
    s = ordered["share"].to_numpy()
    v = ordered["value"].to_numpy()
    n_groups = int(g.max()) + 1

    total = np.bincount(g, weights=v, minlength=n_groups)
    hhi = np.bincount(g, weights=s * s, minlength=n_groups)
    cr3 = np.bincount(g, weights=np.where(rank < 3, s, 0.0), minlength=n_groups)
    n_partners = np.bincount(g, weights=(v > 0).astype("float64"), minlength=n_groups).astype("int64")

    # Rows are sorted by group id, so the rank-0 rows come out in group-id order.
    top = ordered.loc[rank == 0]
    out = top[keys].reset_index(drop=True)
    top_share = top["share"].to_numpy()
    out["total"] = total
    out["n_partners"] = n_partners
    out["hhi"] = hhi
    out["hhi_points"] = hhi * 10_000.0
    out["cr1"] = top_share
    out["cr3"] = np.minimum(cr3, 1.0)
    out["top_partner"] = top["partner"].to_numpy()
    out["top_share"] = top_share
    out["effective_n"] = 1.0 / hhi
    return out
