"""Supplier concentration of a flow or an output: shares, HHI, concentration ratios.

Pure functions on long tables (one row per reporter, partner, product, period, ...);
no I/O. Everything is vectorised over groups: the group and partner columns are
turned into integer codes once (``pandas.factorize``), one ``numpy`` sort orders the
(group, partner) pairs, and sums, maxima and ranks per group are ``reduceat`` /
``bincount`` passes, so a table with millions of rows costs one sort, not a Python
loop per group.

A group's result depends only on its own rows, to the last bit: whatever else is in
the table (how many groups, which path the size picks), the rows of a (group, partner)
pair, and in :func:`concentration_against_totals` of a (group, slice), are summed one
by one in their input order (``np.bincount``; not a pandas groupby sum, whose algorithm
depends on the whole table), a group's pairs are ordered by partner code (numbers
numerically, else as text, then type name) and summed pairwise (``np.add.reduceat``). So a group may be measured alone or in a batch of any
size with bit-identical output; only reordering a group's own rows can move the last bits.

The partner is whoever supplies: for trade data the exporting country seen from the
reporter; for production data the producing country with ``reporter="WORLD"``.

Partners that are not one supplier:

- *aggregates* (:data:`indicators.vocabulary.AGGREGATE_PARTNERS`, e.g. Comtrade's World) are totals of other
  rows and are dropped;
- *residuals* (``residual_partners``, e.g. USGS "Other countries" or the rest of the
  world left after the named partners, see :func:`residual_from_totals`) are many
  small, unnamed suppliers: they count in the total (so a named partner's share is of
  the true total) but not as a supplier (no square in the HHI, never the top
  partner), which makes the HHI a lower bound.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from indicators.findings import (
    IndicatorFinding,
    Names,
    name_en,
    name_zh,
    number,
    percent,
)
from indicators.periods import (
    PERIODS_PER_YEAR,
    format_period,
    lagged_values,
    period_ordinals,
)
from indicators.tables import (
    check_columns,
    check_keys,
    is_aggregate,
    normalised_codes,
    residual_set,
    validated_values,
)
from indicators.vocabulary import (  # re-exported: concentration's callers name them from here
    AGGREGATE_PARTNERS,
    DEFAULT_RESIDUAL,
    RESIDUAL_PARTNERS,
    UNALLOCATED,
    WORLD_PARTNERS,
)

__all__ = [
    "AGGREGATE_PARTNERS",
    "RESIDUAL_PARTNERS",
    "DEFAULT_KEYS",
    "CONCENTRATION_COLUMNS",
    "CHANGE_COLUMNS",
    "ConcentrationThresholds",
    "partner_shares",
    "concentration_table",
    "concentration_changes",
    "residual_from_totals",
    "concentration_bounds",
    "concentration_against_totals",
    "concentration_findings",
    "key_places",
    "UNALLOCATED",
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

#: Columns that :func:`concentration_changes` appends.
CHANGE_COLUMNS: tuple[str, ...] = (
    "hhi_change_prev",
    "hhi_change_yoy",
    "top_share_change_prev",
    "top_share_change_yoy",
)


def _partner_sort_key(partner: pd.Series) -> pd.Series:
    """Partner codes in a totally ordered form (numbers numerically, else as text)."""
    if is_numeric_dtype(partner) and not is_bool_dtype(partner):
        return partner.astype("float64")
    return partner.astype(str)


def _partner_ranks(uniques: pd.Series) -> np.ndarray:
    """Each distinct partner's place in a group's partner order.

    By code, then by type name for codes whose text is equal (1 and "1"): a fixed order
    of a group's partners whatever other groups hold (not first appearance in the table).
    """
    order = np.arange(len(uniques))
    if uniques.dtype == object:
        order = np.argsort(uniques.map(lambda p: type(p).__name__).to_numpy(str), kind="stable")
    order = order[np.argsort(_partner_sort_key(uniques).to_numpy()[order], kind="stable")]
    rank = np.empty(len(uniques), dtype="int64")
    rank[order] = np.arange(len(uniques), dtype="int64")
    return rank


def key_places(flows: pd.DataFrame, columns: list[str]) -> list[tuple[np.ndarray, int]]:
    """Per column, each row's place among the column's sorted distinct values (a missing
    value after them all, as ``groupby(dropna=False)`` sorts it) and the number of places
    (that last one included): the order in which the concentration table sorts its groups.

    A categorical column sorts by its categories' order, so its codes are those places
    already (with gaps for unused categories, which change no order): no hashing of the rows.
    """
    out = []
    for column in columns:
        values = flows[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes, n_places = values.cat.codes.to_numpy().astype("int64"), len(values.cat.categories)
        else:
            codes, uniques = pd.factorize(values, sort=True)
            codes, n_places = codes.astype("int64", copy=False), len(uniques)
        codes[codes < 0] = n_places
        out.append((codes, n_places + 1))
    return out


def _combined_codes(columns: list[tuple[np.ndarray, int]], n_rows: int) -> np.ndarray:
    """One int64 code per row whose order is the sorted order of the rows' tuples of
    :func:`key_places`."""
    code = np.zeros(n_rows, dtype="int64")
    span = 1
    for codes, radix in columns:
        if span * radix >= 2**62:
            # re-number the combined code densely (order-preserving) before it overflows
            code = np.unique(code, return_inverse=True)[1].astype("int64").reshape(-1)
            span = int(code.max()) + 1 if len(code) else 1
        code = code * radix + codes
        span *= radix
    return code


def _group_sums(grouped, values: np.ndarray) -> pd.Series:  # noqa: ANN001
    """Sum of ``values`` (one per row) per group of ``grouped`` (a pandas groupby), in its
    group order. Each group's rows are added one by one in row order (``np.bincount``):
    a pandas groupby sum picks its algorithm from the whole table (one group or many,
    sorted or not), so the same group's sum could differ in the last bit with other groups
    beside it; this one depends only on the group's own rows."""
    index = grouped.size().index
    ids = grouped.ngroup().to_numpy()
    return pd.Series(np.bincount(ids, weights=values, minlength=len(index)), index=index)


def _dense(span: int, n: int) -> bool:
    """Whether codes in ``range(span)`` are few enough, for ``n`` rows, to count per code
    (``np.bincount``, linear) rather than sort the rows (n log n)."""
    return span <= 4 * n + 1_000_000


def _dense_groups(gcode: np.ndarray, n_ranks: int) -> np.ndarray:
    """Group codes renumbered 0, 1, ... (order kept) where that is one linear pass, so that
    the (group, partner) codes stay few enough to be counted, not sorted; else renumbered
    by a sort only where group * partner codes would leave int64."""
    if len(gcode) and _dense(int(gcode.max()) + 1, len(gcode)):
        present = np.zeros(int(gcode.max()) + 1, dtype=bool)
        present[gcode] = True
        return (np.cumsum(present) - 1)[gcode]
    if len(gcode) and int(gcode.max()) >= (2**62) // max(n_ranks, 1):
        return np.unique(gcode, return_inverse=True)[1].astype("int64").reshape(-1)
    return gcode


@dataclass(frozen=True)
class _Coded:
    """Rows of a long table as integer codes: what :func:`_pairs` sums."""

    group: np.ndarray  # int64 per row, ordered as the rows' key tuples (_dense_groups)
    rank: np.ndarray  # int64 per row: the partner's place in the partner order (_partner_ranks)
    value: np.ndarray  # float64 per row
    residual_by_rank: np.ndarray  # bool per rank: the partner is a residual
    keys_of: Callable[[int], pd.Series]  # a row's key values, for a message


def _coded_flows(flows: pd.DataFrame, keys: list[str], residual_partners: Collection[str]) -> tuple[_Coded, np.ndarray]:
    """``flows`` as codes, and which rows count (partner not an aggregate)."""
    check_columns(flows, keys)
    residual = residual_set(residual_partners)
    values = validated_values(flows).to_numpy()
    partner = flows["partner"]
    if partner.isna().any():
        pos = int(np.flatnonzero(partner.isna().to_numpy())[0])
        raise ValueError(
            f"column 'partner' has {int(partner.isna().sum())} missing entries, first at row {pos}"
        )
    pcodes, puniques = pd.factorize(partner, sort=False)
    unique_series = pd.Series(puniques)
    residual_u = normalised_codes(unique_series).isin(residual).to_numpy() if residual else np.zeros(len(puniques), bool)
    rank_u = _partner_ranks(unique_series)
    residual_by_rank = np.empty(len(puniques), dtype=bool)
    residual_by_rank[rank_u] = residual_u
    gcode = _dense_groups(_combined_codes(key_places(flows, keys), len(flows)), len(puniques))
    return (_Coded(gcode, rank_u[pcodes], values, residual_by_rank, lambda row: flows[keys].iloc[row]),
            ~is_aggregate(unique_series)[pcodes])


@dataclass(frozen=True)
class _Pairs:
    """Rows summed per (group, partner), sorted by group then partner sort key."""

    pair_row: np.ndarray  # position in the coded rows of one row of the pair (for key/partner values)
    pair_value: np.ndarray  # summed value
    pair_residual: np.ndarray  # partner is a residual
    pair_gid: np.ndarray  # dense group id, non-decreasing
    group_start: np.ndarray  # first pair of each group
    group_code: np.ndarray  # the group's code in _Coded.group
    all_codes: np.ndarray | None  # codes of every group, including aggregate-only ones
    all_rows: np.ndarray | None  # a row position of each group in all_codes (all its rows have its keys)


def _pairs(coded: _Coded, keep: np.ndarray | None = None, with_all_groups: bool = False) -> _Pairs:
    """The coded rows summed per (group, partner); ``keep`` (a row mask) drops rows after
    ``with_all_groups`` has listed every group."""
    gcode, rank, values = coded.group, coded.rank, coded.value
    n_ranks = max(len(coded.residual_by_rank), 1)
    rows = None if keep is None or keep.all() else np.flatnonzero(keep)
    all_codes = all_rows = None
    if with_all_groups and rows is None:  # every group has a pair: listed from the pairs below
        all_codes = all_rows = np.zeros(0, dtype="int64")
    elif with_all_groups:
        if len(gcode) and _dense(int(gcode.max()) + 1, len(gcode)):
            first_row = np.full(int(gcode.max()) + 1, len(gcode), dtype="int64")
            # written last row first: a group's first row is its last write (later writes win)
            first_row[gcode[::-1]] = np.arange(len(gcode) - 1, -1, -1, dtype="int64")
            all_codes = np.flatnonzero(first_row < len(gcode))
            all_rows = first_row[all_codes]
        else:
            all_codes, all_rows = np.unique(gcode, return_index=True)
    if rows is not None:
        gcode, rank, values = gcode[rows], rank[rows], values[rows]
    if len(gcode) == 0:
        empty_i = np.zeros(0, dtype="int64")
        return _Pairs(empty_i, np.zeros(0), np.zeros(0, bool), empty_i, empty_i, empty_i, all_codes, all_rows)
    pair_code = gcode * n_ranks + rank
    span = int(pair_code.max()) + 1
    if _dense(span, len(pair_code)):
        # Few possible codes per row (the usual case: codes are dense ranks of the key
        # values): mark and number the pairs in one pass each instead of sorting the rows
        # (5,000,000 rows: 0.1 s instead of 1.2 s), then sum per pair. The only per-code
        # arrays are a mask and an int32 table of pair numbers: 100,000 groups x 200
        # partners are 20,000,000 codes, and faulting in fresh memory per code cost more
        # than the sums (a float64 sum and an int32 row per code before: 2.5 M rows'
        # half of a file, 125,000 -> 113,000 page faults; 2026-12-07).
        present = np.zeros(span, dtype=bool)
        present[pair_code] = True
        first = np.flatnonzero(present)
        narrow = "int32" if max(len(pair_code), len(first)) < 2**31 else "int64"
        number = np.empty(span, dtype=narrow)
        number[first] = np.arange(len(first), dtype=narrow)
        pair_id = number[pair_code]
        pair_value = np.bincount(pair_id, weights=values, minlength=len(first))
        row_of = np.empty(len(first), dtype=narrow)
        row_of[pair_id] = np.arange(len(pair_code), dtype=narrow)  # the last row of the pair (later writes win)
        pair_row = row_of.astype("int64") if rows is None else rows[row_of]
    else:
        # The sort only numbers the pairs; the sum runs in row order as above (not over the
        # sorted rows, whose order within a pair an unstable sort leaves to the other groups).
        order = np.argsort(pair_code)
        sorted_code = pair_code[order]
        new_pair = np.r_[True, sorted_code[1:] != sorted_code[:-1]]
        starts = np.flatnonzero(new_pair)
        pair_id = np.empty(len(order), dtype="int64")
        pair_id[order] = np.cumsum(new_pair) - 1
        pair_value = np.bincount(pair_id, weights=values, minlength=len(starts))
        first = sorted_code[starts]
        last_row = np.maximum.reduceat(order, starts)  # the last row of the pair, as above
        pair_row = last_row if rows is None else rows[last_row]
    pair_group_code = first // n_ranks
    pair_residual = coded.residual_by_rank[first - pair_group_code * n_ranks]  # a second division cost more
    group_start = np.flatnonzero(np.r_[True, pair_group_code[1:] != pair_group_code[:-1]])
    sizes = np.diff(np.r_[group_start, len(pair_group_code)])
    pair_gid = np.repeat(np.arange(len(group_start), dtype="int64"), sizes)  # faster than a cumsum
    with np.errstate(over="ignore"):
        totals = np.add.reduceat(pair_value, group_start)
    if not np.isfinite(totals).all():
        # Finite values near 1.8e308 can sum to inf, which made every share 0 and the HHI
        # 0 ("status ok"); no scaling keeps the total itself representable, so refuse.
        g = int(np.flatnonzero(~np.isfinite(totals))[0])
        first = coded.keys_of(int(pair_row[group_start[g]]))
        where = ", ".join(f"{k}={v.date() if isinstance(v, pd.Timestamp) else v}" for k, v in first.items())
        raise ValueError(f"column 'value': the values of group {where} sum beyond the largest float "
                         "(about 1.8e308); rescale the input (e.g. to thousands)")
    if with_all_groups and rows is None:
        all_codes, all_rows = pair_group_code[group_start], pair_row[group_start]
    return _Pairs(pair_row, pair_value, pair_residual, pair_gid, group_start,
                  pair_group_code[group_start], all_codes, all_rows)


def partner_shares(
    flows: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS, residual_partners: Collection[str] = ()
) -> pd.DataFrame:
    """Share of each partner in the total of its group.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with the ``keys`` columns plus ``partner`` (supplier code) and
        ``value`` (non-negative amount in any one unit per group: USD, kg, t, ...).
    keys : sequence of str, default ``("reporter", "product", "period")``
        Columns that define a group, e.g. ``("chain", "node", "period")`` or
        ``("reporter", "product")``.
    residual_partners : collection of str, default ()
        Partner codes that stand for many unnamed suppliers (e.g.
        :data:`RESIDUAL_PARTNERS`); they keep their row and share here.

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
    keys = check_keys(keys)
    pairs = _pairs(*_coded_flows(flows, keys, residual_partners))
    total = np.add.reduceat(pairs.pair_value, pairs.group_start) if len(pairs.pair_value) else np.zeros(0)
    positive = (total > 0)[pairs.pair_gid]
    rows = pairs.pair_row[positive]
    out = flows[keys].iloc[rows].reset_index(drop=True)
    out["partner"] = flows["partner"].iloc[rows].to_numpy()
    out["value"] = pairs.pair_value[positive]
    out["share"] = pairs.pair_value[positive] / total[pairs.pair_gid[positive]]
    return out


def _empty_table(keys: list[str], residual: bool) -> pd.DataFrame:
    dtypes = {col: "float64" for col in CONCENTRATION_COLUMNS}
    dtypes.update(n_partners="int64", top_partner=object)
    columns = {k: pd.Series(dtype=object) for k in keys}
    columns.update({col: pd.Series(dtype=dtypes[col]) for col in CONCENTRATION_COLUMNS})
    if residual:
        columns["residual_share"] = pd.Series(dtype="float64")
    return pd.DataFrame(columns)


def _top_k(values: np.ndarray, group_start: np.ndarray, gid: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k largest values per group and the first pair position holding each.

    ``values`` are >= 0 for candidates and -1 for pairs that may never be chosen.
    Pairs are sorted by partner within a group, so "first" breaks ties by partner.
    Each pass is two ``reduceat`` scans; no sort and no loop over groups.
    """
    work = values.astype("float64", copy=True)
    idx = np.arange(len(work))
    sentinel = len(work)
    out = []
    for _ in range(k):
        best = np.maximum.reduceat(work, group_start)
        hit = work == best[gid]
        first = np.minimum.reduceat(np.where(hit, idx, sentinel), group_start)
        out.append((best, first))
        work[first] = -np.inf  # remove exactly one occurrence, so equal values count again
    return out


def concentration_table(
    flows: pd.DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    residual_partners: Collection[str] = (),
    include_zero_total: bool = False,
) -> pd.DataFrame:
    """Concentration indicators per group: HHI, CR1, CR3, top partner, effective number.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with the ``keys`` columns plus ``partner`` and ``value`` (see
        :func:`partner_shares`).
    keys : sequence of str, default ``("reporter", "product", "period")``
        Columns that define a group.
    residual_partners : collection of str, default ()
        Partner codes that stand for many small unnamed suppliers (e.g.
        :data:`RESIDUAL_PARTNERS`: USGS "Other countries", the rest of the world
        from :func:`residual_from_totals`). Their value counts in ``total``, so shares
        are shares of the whole; they are not suppliers: no term in the HHI, not in
        ``n_partners``, never ``top_partner``. When given, a ``residual_share`` column
        is appended.
    include_zero_total : bool, default False
        Also return groups without a positive total (every partner 0, or only
        aggregate rows such as World): ``total`` 0, ``n_partners`` 0, the indicators
        NaN and ``top_partner`` missing. Nothing is divided by zero.

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
          give the same HHI (NaN when the HHI is 0, i.e. only residual supply);
        - ``residual_share`` (only with ``residual_partners``): share of the total
          from residual partners.

        Groups whose total is not positive do not appear unless
        ``include_zero_total``.

    Raises
    ------
    ValueError
        As :func:`partner_shares`, naming the offending column; also if
        ``residual_partners`` names an aggregate.

    Notes
    -----
    With shares :math:`s_i` of group :math:`g` sorted so that
    :math:`s_{(1)} \\ge s_{(2)} \\ge \\dots` (ties broken by partner code, ascending):

    .. math::

        HHI_g = \\sum_i s_i^2 \\in [1/n, 1], \\qquad
        HHI^{points}_g = 10^4 \\, HHI_g, \\qquad
        CR_k = \\sum_{j \\le k} s_{(j)}, \\qquad
        N^{eff}_g = 1 / HHI_g

    With a residual share :math:`r` (many suppliers each of negligible size) the named
    shares sum to :math:`1 - r` and :math:`\\sum_{named} s_i^2 \\le HHI \\le
    \\sum_{named} s_i^2 + r^2`; the table reports the lower bound, the usual
    treatment of "other countries" in production-concentration work.

    Sources: Herfindahl-Hirschman index as defined in U.S. DOJ & FTC, *Merger
    Guidelines* (2023), section 2.1 ("the sum of the squares of the market shares",
    in points with shares in percent); the 0-1 form is the one used for import
    concentration in European Commission SWD(2021) 352 *Strategic dependencies and
    capacities*. :math:`1/HHI` as "numbers equivalent": Adelman, M. A. (1969),
    *Review of Economics and Statistics* 51(1), 99-101.

    The computation is vectorised: integer codes for groups and partners
    (``pandas.factorize``), (group, partner) values summed per pair by ``bincount`` in
    row order (a sort numbers the pairs when their codes are too sparse to count), group
    totals by ``reduceat`` over the pairs in partner order, three max passes per group
    for the top partners, and ``bincount`` for the HHI; there is no Python-level loop
    over groups. A group's row depends only on that group's rows (and their order), not
    on the other groups in ``flows``: computing groups one at a time or all together
    gives bit-identical results.
    """
    keys = check_keys(keys)
    residual = bool(residual_set(residual_partners))
    pairs = _pairs(*_coded_flows(flows, keys, residual_partners), with_all_groups=include_zero_total)
    if len(pairs.pair_value) == 0 and not (include_zero_total and len(pairs.all_codes)):
        return _empty_table(keys, residual)
    columns, rows, _ = _indicators(pairs, include_zero_total, residual)
    return _table_frame(flows[keys], flows["partner"], columns, rows)


def _indicators(pairs: _Pairs, include_zero_total: bool, residual: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """The columns of :func:`concentration_table` after the keys (``top_partner`` as the
    coded row of the top partner's pair, -1 where there is none), the coded row whose key
    values each table row shows, and each table row's group code."""
    n_pairs = len(pairs.pair_value)
    v, gid, start = pairs.pair_value, pairs.pair_gid, pairs.group_start
    n_groups = len(start)
    named = ~pairs.pair_residual
    total = np.add.reduceat(v, start) if n_pairs else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = v / total[gid]
        hhi = np.bincount(gid, weights=np.where(named, share * share, 0.0), minlength=n_groups)
        n_partners = np.bincount(gid, weights=(named & (v > 0)).astype("float64"), minlength=n_groups)
        residual_total = np.bincount(gid, weights=np.where(named, 0.0, v), minlength=n_groups)
        if n_pairs:
            tops = _top_k(np.where(named, v, -1.0), start, gid, 3)
            top_value, top_pos = tops[0]
            top3 = sum(np.maximum(best, 0.0) for best, _ in tops)
        else:
            top_value = top3 = np.zeros(0)
            top_pos = np.zeros(0, dtype="int64")
        has_top = top_value > 0
        top_share = np.where(has_top, top_value, 0.0) / total
        cr3 = np.minimum(top3 / total, 1.0)
        residual_share = residual_total / total
        effective_n = np.where(hhi > 0, 1.0 / np.where(hhi > 0, hhi, 1.0), np.nan)
    top_row = np.where(has_top, pairs.pair_row[np.where(has_top, top_pos, 0)] if n_pairs else 0, -1)

    columns = {
        "total": total,
        "n_partners": n_partners.astype("int64"),
        "hhi": hhi,
        "hhi_points": hhi * 10_000.0,
        "cr1": top_share,
        "cr3": cr3,
        "top_partner": top_row,
        "top_share": top_share,
        "effective_n": effective_n,
    }
    if residual:
        columns["residual_share"] = residual_share

    positive = total > 0
    if include_zero_total:
        # every group that has any row, positive total or not, in key order; groups
        # without a positive total keep total 0, n_partners 0 and NaN indicators
        n_all = len(pairs.all_codes)
        where = np.searchsorted(pairs.all_codes, pairs.group_code)
        for name, col in list(columns.items()):
            if name in ("total", "n_partners"):
                filled = np.zeros(n_all, dtype=col.dtype)
                filled[where] = col
            elif name == "top_partner":
                filled = np.full(n_all, -1, dtype="int64")
                filled[where[positive]] = col[positive]
            else:
                filled = np.full(n_all, np.nan)
                filled[where[positive]] = col[positive]
            columns[name] = filled
        return columns, pairs.all_rows, pairs.all_codes
    columns = {name: col[positive] for name, col in columns.items()}
    return columns, pairs.pair_row[start][positive], pairs.group_code[positive]


def _table_frame(keys: pd.DataFrame, partner: pd.Series, columns: dict, rows: np.ndarray) -> pd.DataFrame:
    """The table from :func:`_indicators`: key values and top partners taken from the rows
    of ``keys`` and ``partner`` at those positions."""
    out = keys.iloc[rows].reset_index(drop=True)
    top_row = columns["top_partner"]
    top_partner = partner.iloc[np.maximum(top_row, 0)].to_numpy() if len(partner) else np.zeros(0, object)
    if (top_row < 0).any():
        # an object column, so a missing top partner is None whatever the other groups'
        # partners are (pandas would infer a text column and turn None into NaN)
        top_partner = pd.Series(top_partner, dtype=object, copy=True)
        top_partner[top_row < 0] = None
    columns["top_partner"] = top_partner
    for name, col in columns.items():
        out[name] = col
    return out


def concentration_changes(
    table: pd.DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
) -> pd.DataFrame:
    """Change of the HHI and of the top share vs the previous period and a year earlier.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`concentration_table` (needs ``keys``, ``hhi``, ``top_share``),
        one row per series and period.
    keys : sequence of str, default ``("reporter", "product", "period")``
        The table's keys; all but ``period`` identify a series.
    period : str, default ``"period"``
        The key holding the period: integer years, pandas Periods or timestamps.
    freq : {"Y", "Q", "M"} or None
        Period grid; None infers it (see :func:`indicators.periods.period_ordinals`).

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with :data:`CHANGE_COLUMNS` appended:

        - ``hhi_change_prev``: :math:`HHI_t - HHI_{t-1}` (HHI units, 0-1 scale);
        - ``hhi_change_yoy``: :math:`HHI_t - HHI_{t-y}` with :math:`y` periods per
          year (1, 4 or 12); for annual data the same as ``hhi_change_prev``;
        - ``top_share_change_prev``, ``top_share_change_yoy``: the same for
          ``top_share`` (share units; 0.05 = 5 percentage points). The top partner
          may differ between the two periods: this is the change of the leading
          supplier's weight, whoever it is.

        NaN where the comparison period has no row (a gap is not bridged) or a value
        is NaN (e.g. a zero-total group).

    Raises
    ------
    ValueError
        If a column is missing, ``period`` is not among ``keys``, the period column
        cannot be placed on a grid, or two rows of one series share a period.

    Notes
    -----
    .. math:: \\Delta^{prev} x_{s,t} = x_{s,t} - x_{s,t-1}, \\qquad
              \\Delta^{yoy} x_{s,t} = x_{s,t} - x_{s,t-y}

    Vectorised as two left joins of the table on itself (series keys, period
    position + lag).
    """
    keys = check_keys(keys)
    if period not in keys:
        raise ValueError(f"period {period!r} must be one of keys {keys!r}")
    missing = [c for c in (*keys, "hhi", "top_share") if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column {missing[0]!r} (use concentration_table's output)")
    series_keys = [k for k in keys if k != period]
    ordinals, freq = period_ordinals(table[period], freq, name=period)
    out = table.copy()
    cols = ["hhi", "top_share"]
    prev = lagged_values(table, series_keys, ordinals, cols, 1)
    yoy = lagged_values(table, series_keys, ordinals, cols, PERIODS_PER_YEAR[freq])
    hhi = table["hhi"].to_numpy(dtype="float64")
    top = table["top_share"].to_numpy(dtype="float64")
    out["hhi_change_prev"] = hhi - prev["hhi"].to_numpy(dtype="float64")
    out["hhi_change_yoy"] = hhi - yoy["hhi"].to_numpy(dtype="float64")
    out["top_share_change_prev"] = top - prev["top_share"].to_numpy(dtype="float64")
    out["top_share_change_yoy"] = top - yoy["top_share"].to_numpy(dtype="float64")
    return out


def residual_from_totals(
    flows: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS, residual: str = DEFAULT_RESIDUAL
) -> pd.DataFrame:
    """Replace each group's World (aggregate) row by the rest of the world.

    Trade extracts often carry the World total and only a few named partners (e.g.
    Comtrade with partners World and China). Dropping the World row would make China
    the only supplier (share 1); keeping it as a partner is double counting. This
    turns it into a residual row: World minus the named partners.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with ``keys``, ``partner``, ``value``; aggregate partners are those
        of :data:`AGGREGATE_PARTNERS`.
    keys : sequence of str
        Group keys.
    residual : str, default ``"REST OF WORLD"``
        Partner label of the residual row; pass it (or :data:`RESIDUAL_PARTNERS`) as
        ``residual_partners`` to :func:`concentration_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``keys + ["partner", "value"]``: the named-partner rows unchanged, and
        for every group with an aggregate row one row ``partner = residual``,
        ``value = max(W - sum(named), 0)``. Groups without an aggregate row keep
        their named rows only.

    Raises
    ------
    ValueError
        As :func:`partner_shares`; also if a group has more than one aggregate row
        (e.g. both ``WORLD`` and ``W00``), naming the group.

    Notes
    -----
    .. math:: R_g = \\max\\big(W_g - \\sum_{i\\,named} v_{g,i},\\ 0\\big)

    The residual is clipped at 0: published partner rows can add up to slightly more
    than the World row (confidential trade, revisions), and a negative supplier is
    meaningless. Input unit kept.
    """
    keys = check_keys(keys)
    check_columns(flows, keys)
    values = validated_values(flows)
    if flows["partner"].isna().any():
        pos = int(np.flatnonzero(flows["partner"].isna().to_numpy())[0])
        raise ValueError(f"column 'partner' has a missing entry at row {pos}")
    aggregate = is_aggregate(flows["partner"])
    frame = flows[keys + ["partner"]].assign(value=values.to_numpy())
    named = frame.loc[~aggregate].reset_index(drop=True)
    totals = frame.loc[aggregate]
    counts = totals.groupby(keys, dropna=False, observed=True).size()
    if (counts > 1).any():
        group = counts.index[int(np.flatnonzero((counts > 1).to_numpy())[0])]
        raise ValueError(f"group {group!r} has {int(counts.max())} aggregate (World) rows; keep exactly one")
    world = totals.groupby(keys, dropna=False, observed=True)["value"].sum()
    named_sum = _group_sums(named.groupby(keys, dropna=False, observed=True), named["value"].to_numpy(float))
    rest = (world - named_sum.reindex(world.index).fillna(0.0)).clip(lower=0.0)
    rest_rows = rest.rename("value").reset_index()
    rest_rows.insert(len(keys), "partner", residual)
    return pd.concat([named, rest_rows[keys + ["partner", "value"]]], ignore_index=True)


def concentration_bounds(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage and bounds of the top share and the HHI when part of the total is unallocated.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`concentration_table` output. With a ``residual_share`` column (the part
        of each group's total that no named partner accounts for: the World row minus
        the named partners, see :func:`residual_from_totals` and :data:`UNALLOCATED`,
        or USGS "Other countries"), the bounds widen by it; without one, the named
        partners are the whole total and the bounds are the values themselves.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with four columns appended:

        - ``partner_coverage``: named partners' share of the total, 0-1
          (:math:`1 - u`);
        - ``top_share_upper``: the largest share any one supplier can have (0-1);
          the lower bound is ``top_share``;
        - ``hhi_upper``: the largest HHI (0-1) consistent with the data; the lower
          bound is ``hhi``;
        - ``unallocated_share``: :math:`u`, equal to ``residual_share`` (0 without it).

    Notes
    -----
    With named shares :math:`s_i` of the true total (so :math:`\\sum_i s_i = 1 - u`)
    and an unallocated remainder :math:`u` that may belong to anyone (unnamed
    partners, or named ones whose rows are incomplete: confidential lines,
    partner not stated), every way of distributing :math:`u` gives

    .. math::

        s_{(1)} \\le CR_1 \\le \\min(s_{(1)} + u, 1), \\qquad
        \\sum_i s_i^2 \\le HHI \\le \\min\\Big(\\sum_i s_i^2 + 2 s_{(1)} u + u^2,\\ 1\\Big).

    The lower bounds hold because adding mass to any supplier never lowers a square
    or the maximum; the HHI upper bound because :math:`\\sum_i (s_i + a_i)^2 +
    \\sum_j b_j^2` is convex in the allocation :math:`(a, b)` with :math:`\\sum a +
    \\sum b = u`, so it is largest at a vertex: all of :math:`u` on one supplier,
    best the largest named one, :math:`(s_{(1)} + u)^2 - s_{(1)}^2 = 2 s_{(1)} u + u^2`.
    The same bounds are the "share of known trade" caveat of CEPII GeoDep and the
    coverage rule of European Commission SWD(2021) 352 made explicit. Dimensionless.
    """
    out = table.copy()
    top = out["top_share"].to_numpy(dtype="float64")
    hhi = out["hhi"].to_numpy(dtype="float64")
    if "residual_share" in out.columns:
        u = np.nan_to_num(out["residual_share"].to_numpy(dtype="float64"), nan=0.0)
    else:
        u = np.zeros(len(out))
    out["partner_coverage"] = np.where(np.isnan(top), np.nan, 1.0 - u)
    out["top_share_upper"] = np.minimum(top + u, 1.0)
    out["hhi_upper"] = np.minimum(hhi + 2.0 * top * u + u * u, 1.0)
    out["unallocated_share"] = np.where(np.isnan(top), np.nan, u)
    return out


def concentration_against_totals(
    flows: pd.DataFrame,
    keys: Sequence[str],
    slices: Sequence[str] = ("product", "period"),
    residual_partners: Collection[str] = (),
    include_zero_total: bool = False,
) -> pd.DataFrame:
    """Concentration of each group against its World totals, with coverage and bounds.

    A source that lists only some partners beside its World row (Comtrade extracts
    with partners World and USA, say) must not have its shares stated against the
    named partners' sum: the USA would be "100 %" of what is 1 % of China's imports.
    Here, per group and slice (e.g. HS code and month), the denominator is the World
    row where the source gives one, else the named partners' sum (the source is then
    taken to list every partner); the part of a World row no named partner accounts
    for is the :data:`UNALLOCATED` remainder: in the total, not a supplier.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with ``keys``, ``slices``, ``partner`` and ``value`` (one unit).
        World rows are those whose partner is in
        :data:`indicators.trade_totals.WORLD_PARTNERS` (more than one World row of a
        slice, e.g. from two sources, counts once: the largest). Other aggregates
        (:data:`AGGREGATE_PARTNERS`: EU groupings, Comtrade ``_X`` "areas n.e.s.") are
        inside the World row and are never a supplier, so they end up in the remainder.
    keys : sequence of str
        Group keys of the result (e.g. ``("chain", "node")``).
    slices : sequence of str, default ``("product", "period")``
        Columns inside a group at which a World row applies.
    residual_partners : collection of str, default ()
        Further partners that are many unnamed suppliers (e.g. USGS "Other
        countries", :data:`RESIDUAL_PARTNERS`): in the total and the remainder, not
        suppliers.
    include_zero_total : bool, default False
        As in :func:`concentration_table`.

    Returns
    -------
    pandas.DataFrame
        :func:`concentration_bounds` of :func:`concentration_table` (with
        ``residual_share``) per group, plus ``world_total_share``: the part of the
        group's total taken from World rows (0: no source gave a total, so coverage
        is complete by assumption; 1: every slice had a World row).

    Notes
    -----
    For slice :math:`j` with World row :math:`W_j` and named partners :math:`v_{j,i}`:

    .. math::

        T_j = \\max\\Big(W_j, \\sum_i v_{j,i}\\Big)\\ \\text{(or } \\sum_i v_{j,i}
        \\text{ without } W_j), \\qquad
        U_j = T_j - \\sum_i v_{j,i}, \\qquad
        u = \\sum_j U_j \\big/ \\sum_j T_j

    Shares are :math:`\\sum_j v_{j,i} / \\sum_j T_j` in the input unit's ratio
    (dimensionless); the bounds are those of :func:`concentration_bounds`.
    """
    keys = check_keys(keys)
    slice_cols = [c for c in slices if c not in keys]
    group = keys + slice_cols
    check_columns(flows, group)
    values = validated_values(flows).to_numpy()
    residual = residual_set([UNALLOCATED, *residual_set(residual_partners)])
    # The partners are classified on their distinct codes (a table has a few hundred
    # partners and up to millions of rows); a missing one is neither World nor aggregate.
    pcodes, puniques = pd.factorize(flows["partner"])
    unique_series = pd.Series(puniques)
    world_u = normalised_codes(unique_series).isin(WORLD_PARTNERS).to_numpy() if len(puniques) else np.zeros(0, bool)
    is_world = np.r_[world_u, False][pcodes]
    named = ~np.r_[world_u | is_aggregate(unique_series), False][pcodes]
    missing = pcodes < 0
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(f"column 'partner' has {int(missing.sum())} missing entries, first at row "
                         f"{int(np.count_nonzero(named[:first]))}")

    columns = key_places(flows, group)
    gcode = _dense_groups(_combined_codes(columns[:len(keys)], len(flows)), len(puniques) + 1)
    slice_code = _combined_codes(columns, len(flows)) if slice_cols else gcode
    world_rows = np.flatnonzero(is_world)
    world = (flows[group].iloc[world_rows].assign(value=values[world_rows])
             .groupby(group, dropna=False, observed=True)["value"].max())
    # the World slices in the groupby's (sorted) order, and the named rows' sum in each
    world_slices, world_first = np.unique(slice_code[world_rows], return_index=True)
    named_sum = np.zeros(len(world_slices))
    if len(world_slices):
        slot = np.searchsorted(world_slices, slice_code)
        slot[slot == len(world_slices)] = 0
        slot = np.where(named & (world_slices[slot] == slice_code), slot, -1)
        hit = slot >= 0
        with np.errstate(over="ignore"):  # a sum beyond the largest float is refused by _pairs
            named_sum = np.bincount(slot[hit], weights=values[hit], minlength=len(world_slices))
    named_sum = pd.Series(named_sum, index=world.index)
    gap = (world - named_sum).clip(lower=0.0)
    unallocated = gap.rename("value").reset_index()
    unallocated["partner"] = UNALLOCATED
    world_group = gcode[world_rows[world_first]]  # each World slice's group
    # The part of each slice's total that stood on a World row (the rest on partner sums).
    world_total = (named_sum.clip(upper=world) + gap).to_numpy()

    # The rows measured: the named ones in their order, then one unallocated row per
    # World slice. The partner column they make (and its type) decides the partners' order.
    every_row = bool(named.all())
    named_rows = np.arange(len(flows)) if every_row else np.flatnonzero(named)
    first_of = np.full(len(puniques), len(flows), dtype="int64")
    first_of[pcodes[named_rows[::-1]]] = named_rows[::-1]  # later writes win: each partner's first named row
    shown = first_of[first_of < len(flows)]
    partner_rows = _measured_rows(flows, group, shown, unallocated)["partner"]
    ucodes, uniques = pd.factorize(partner_rows)
    uniques = pd.Series(uniques)
    rank_u = _partner_ranks(uniques)
    residual_by_rank = np.empty(len(uniques), dtype=bool)
    residual_by_rank[rank_u] = normalised_codes(uniques).isin(residual).to_numpy()
    rank_of = np.zeros(len(puniques), dtype="int64")
    rank_of[pcodes[shown]] = rank_u[ucodes[:len(shown)]]
    n_named = len(named_rows)

    def measured(per_row: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """The named rows' entries of a per-row array, then the unallocated rows'."""
        if every_row and not len(extra):
            return per_row
        return np.concatenate([per_row if every_row else per_row[named_rows], extra])

    def keys_of(row: int) -> pd.Series:
        return flows[keys].iloc[named_rows[row]] if row < n_named else unallocated[keys].iloc[row - n_named]

    coded = _Coded(measured(gcode, world_group), measured(rank_of[pcodes], rank_u[ucodes[len(shown):]]),
                   measured(values, gap.to_numpy()), residual_by_rank, keys_of)
    pairs = _pairs(coded, with_all_groups=include_zero_total)
    if len(pairs.pair_value) == 0 and not (include_zero_total and len(pairs.all_codes)):
        table = _empty_table(keys, True)
    else:
        measures, shown_rows, table_groups = _indicators(pairs, include_zero_total, True)
        top = measures["top_partner"]
        # Only the rows shown are taken from flows (the keys of each group, the top
        # partners), and one named row if any: it is there for the column types.
        shown_at = np.r_[shown_rows, np.maximum(top, 0)]
        # a position in flows, or past its end for an unallocated row
        shown_at = np.where(shown_at < n_named, named_rows[np.minimum(shown_at, n_named - 1)] if n_named else 0,
                            shown_at - n_named + len(flows))
        needed, at = np.unique(np.r_[shown_at[shown_at < len(flows)], named_rows[:1]], return_inverse=True)
        shown_at[shown_at < len(flows)] = at[:np.count_nonzero(shown_at < len(flows))]
        shown_at[shown_at >= len(flows)] += len(needed) - len(flows)
        measured = _measured_rows(flows, group, needed, unallocated)
        measures["top_partner"] = np.where(top >= 0, shown_at[len(shown_rows):], -1)
        table = _table_frame(measured[keys], measured["partner"], measures, shown_at[:len(shown_rows)])
    table = concentration_bounds(table)
    if len(table):
        at = np.searchsorted(table_groups, world_group)
        at[at == len(table_groups)] = 0
        listed = table_groups[at] == world_group if len(table_groups) else np.zeros(len(world_group), bool)
        covered = np.bincount(at[listed], weights=world_total[listed], minlength=len(table))
        total = table["total"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            table["world_total_share"] = np.where(total > 0, np.minimum(covered / total, 1.0), np.nan)
    else:
        table["world_total_share"] = pd.Series(dtype="float64")
    return table


def _measured_rows(flows: pd.DataFrame, group: list[str], rows: np.ndarray, unallocated: pd.DataFrame) -> pd.DataFrame:
    """``flows``' rows at ``rows`` and the ``unallocated`` rows after them, as one frame of
    keys and partner: the column types are those that all named rows and all unallocated
    rows would have together (pandas decides them from the types and from which side is
    empty)."""
    return pd.concat([flows[[*group, "partner"]].iloc[rows], unallocated[[*group, "partner"]]], ignore_index=True)


@dataclass(frozen=True)
class ConcentrationThresholds:
    """When a concentration row becomes a finding.

    Attributes
    ----------
    hhi : float, default 0.4
        HHI (0-1) above which supply is concentrated: the first criterion of a
        foreign dependency in European Commission SWD(2021) 352 and CEPII GeoDep.
    rise : float, default 0.01
        Change of HHI (0-1; 0.01 = 100 points) above which a rise is flagged ...
    rise_level : float, default 0.18
        ... when the HHI itself is above this level. Both from U.S. DOJ & FTC Merger
        Guidelines (2023), Guideline 1: a market with HHI > 1,800 is highly
        concentrated, and a change > 100 points there is significant.
    """

    hhi: float = 0.4
    rise: float = 0.01
    rise_level: float = 0.18

    def __post_init__(self) -> None:
        for name in ("hhi", "rise", "rise_level"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"ConcentrationThresholds.{name} must be a number in [0, 1], got {value!r}")


def _subject(row: pd.Series, keys: Sequence[str], period: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, "" if pd.isna(row[k]) else str(row[k])) for k in keys if k != period)


def _what(row: pd.Series, keys: Sequence[str], period: str, names: Names | None) -> tuple[str, str, bool]:
    """(English, Chinese) phrase for the group, and whether it is world production."""
    if "reporter" in keys and "product" in keys:
        reporter, product = row["reporter"], row["product"]
        if str(reporter).strip().upper() == "WORLD":
            return f"world {name_en(names, product)}", f"全球{name_zh(names, product)}", True
        return (f"{name_en(names, reporter)}'s {name_en(names, product)} imports",
                f"{name_zh(names, reporter)}{name_zh(names, product)}进口", False)
    label = ", ".join(f"{k}={row[k]}" for k in keys if k != period)
    return label, label, False


def concentration_findings(
    table: pd.DataFrame,
    thresholds: ConcentrationThresholds = ConcentrationThresholds(),
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
    change: str = "hhi_change_yoy",
) -> list[IndicatorFinding]:
    """Findings for groups whose concentration crosses a threshold.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`concentration_table` output, optionally with :func:`concentration_changes`
        columns (then rises are judged too).
    thresholds : ConcentrationThresholds
        HHI level and rise thresholds.
    names : Names, optional
        Display names of codes, e.g. ``{"156": ("China", "中国")}``.
    keys, period, freq
        As in :func:`concentration_changes`; ``period`` may be absent from ``keys``
        (then findings have no period).
    change : str, default ``"hhi_change_yoy"``
        Which change column judges a rise (``hhi_change_prev`` for period-on-period).

    Returns
    -------
    list of IndicatorFinding
        In table order:

        - ``import_concentration`` (or ``production_concentration`` when the reporter is
          ``WORLD``): :math:`HHI > \\tau_{hhi}`; observed = HHI;
        - ``concentration_rising``: :math:`\\Delta HHI > \\tau_{rise}` and
          :math:`HHI > \\tau_{level}`; observed = the change.

    Notes
    -----
    A strict ``>`` as in SWD(2021) 352 ("HHI higher than 0.4"). When the table has a
    ``residual_share`` the HHI is a lower bound and the sentence says so. Rows with
    NaN HHI (zero-total groups) never produce findings.
    """
    keys = list(keys)
    has_period = period in keys and period in table.columns
    if has_period and len(table):
        _, freq = period_ordinals(table[period], freq, name=period)
    findings: list[IndicatorFinding] = []
    hhi = table["hhi"].to_numpy(dtype="float64")
    changes = table[change].to_numpy(dtype="float64") if change in table.columns else None
    flag_level = hhi > thresholds.hhi
    flag_rise = (changes > thresholds.rise) & (hhi > thresholds.rise_level) if changes is not None else np.zeros(len(table), bool)
    for pos in np.flatnonzero(flag_level | flag_rise):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        en_when = f"In {when}, " if when else ""
        zh_when = f"{when}，" if when else ""
        what_en, what_zh, world = _what(row, keys, period, names)
        top = row["top_partner"]
        top_en, top_zh = name_en(names, top), name_zh(names, top)
        share = float(row["top_share"])
        caveat_en = caveat_zh = ""
        residual = float(row["residual_share"]) if "residual_share" in table.columns else 0.0
        if residual > 0:
            caveat_en = f" The HHI is a lower bound: {percent(residual)} comes from unnamed partners."
            caveat_zh = f"（HHI为下限：{percent(residual)}来自未列明的来源。）"
        subject = _subject(row, keys, period)
        details = (("top_partner", "" if top is None else str(top)), ("top_share", share),
                   ("n_partners", int(row["n_partners"])), ("hhi", float(hhi[pos])))
        if flag_level[pos]:
            verb_en, verb_zh = ("produces", "生产") if world else ("supplies", "供应")
            n_named = int(row["n_partners"])
            if world:
                unit_en = "producing country" if n_named == 1 else "producing countries"
            else:
                unit_en = "partner" if n_named == 1 else "partners"
            if residual > 0:
                unit_en = f"named {unit_en}"
            unit_zh = "个生产国" if world else "个来源国"
            findings.append(IndicatorFinding(
                kind="production_concentration" if world else "import_concentration",
                subject=subject, period=when, observed=float(hhi[pos]), threshold=thresholds.hhi,
                explanation_en=(f"{en_when}{top_en} {verb_en} {percent(share)} of {what_en}; HHI "
                                f"{number(hhi[pos])} > {thresholds.hhi:g} ({int(row['n_partners'])} "
                                f"{unit_en}).{caveat_en}"),
                explanation_zh=(f"{zh_when}{top_zh}{verb_zh}了{what_zh}的{percent(share)}；HHI "
                                f"{number(hhi[pos])} > {thresholds.hhi:g}（{int(row['n_partners'])}"
                                f"{unit_zh}）。{caveat_zh}"),
                details=details,
            ))
        if flag_rise[pos]:
            against_en = "a year earlier" if change.endswith("yoy") else "the previous period"
            against_zh = "上年同期" if change.endswith("yoy") else "上一期"
            delta = float(changes[pos])
            findings.append(IndicatorFinding(
                kind="concentration_rising", subject=subject, period=when, observed=delta,
                threshold=thresholds.rise,
                explanation_en=(f"{en_when}the HHI of {what_en} rose by {number(delta)} to "
                                f"{number(hhi[pos])} against {against_en}: a rise above "
                                f"{thresholds.rise:g} ({thresholds.rise * 10_000:.0f} points) in a "
                                f"highly concentrated market (HHI > {thresholds.rise_level:g}); "
                                f"top partner {top_en} {percent(share)}."),
                explanation_zh=(f"{zh_when}{what_zh}的HHI较{against_zh}上升{number(delta)}至"
                                f"{number(hhi[pos])}：在高度集中的市场（HHI > {thresholds.rise_level:g}）"
                                f"中升幅超过{thresholds.rise:g}（{thresholds.rise * 10_000:.0f}点）；"
                                f"最大来源{top_zh}占{percent(share)}。"),
                details=details + ((change, delta),),
            ))
    return findings
