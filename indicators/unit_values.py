"""Value layer: export vs import unit values of the same product (low-end lock-in, 低端锁定).

Pure functions, no I/O, vectorised over groups. An economy that exports a product at
a much lower price per kilogram than it pays for its imports of the same product is,
within that product, selling the low-quality varieties and buying the high-quality
ones: the "low-end lock-in" the chain-policy literature warns about. Unit values
(value / quantity) make that visible wherever trade statistics report quantities.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from indicators.concentration import DEFAULT_KEYS
from indicators.tables import check_keys, is_aggregate, validated_values
from indicators.findings import IndicatorFinding, Names, name_en, name_zh, number
from indicators.periods import format_period, period_ordinals

__all__ = [
    "EXPORT_CODES",
    "IMPORT_CODES",
    "UNIT_VALUE_COLUMNS",
    "unit_value_table",
    "unit_value_findings",
]

#: ``flow`` codes counted as exports / imports (matched on ``str(flow).strip().upper()``):
#: UN Comtrade ``X``/``M`` and plain words. Re-exports/re-imports (``RX``/``RM``) are
#: left out: their unit values describe goods produced elsewhere.
EXPORT_CODES: frozenset[str] = frozenset({"X", "EXPORT", "EXPORTS"})
IMPORT_CODES: frozenset[str] = frozenset({"M", "IMPORT", "IMPORTS"})

#: Columns :func:`unit_value_table` adds after the keys.
UNIT_VALUE_COLUMNS: tuple[str, ...] = (
    "export_value",
    "export_quantity",
    "import_value",
    "import_quantity",
    "export_unit_value",
    "import_unit_value",
    "unit_value_ratio",
    "export_coverage",
    "import_coverage",
)


def unit_value_table(
    flows: pd.DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    quantity: str = "quantity",
    unit: str | None = None,
    export_codes: Collection[str] = EXPORT_CODES,
    import_codes: Collection[str] = IMPORT_CODES,
) -> pd.DataFrame:
    """Export and import unit values per group and their ratio.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long trade table with ``keys``, ``flow`` (export/import code), ``value``
        (e.g. USD, >= 0) and ``quantity`` (e.g. kg; NaN or 0 = not reported). Either
        partner totals (World rows) or partner rows, not both: if a ``partner`` column
        mixes aggregate (World) and single partners within a group, that is an error.
    keys : sequence of str
        Group keys, default ``("reporter", "product", "period")``.
    quantity : str, default ``"quantity"``
        Quantity column.
    unit : str, optional
        Column with the quantity unit (e.g. Comtrade ``qtyUnitAbbr``); when given it
        becomes a group key, so kilograms and items never share a unit value.
    export_codes, import_codes : collection of str
        ``flow`` codes of exports and imports; other flows are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per group with any export or import row, sorted by keys: ``keys``
        (plus ``unit``), then

        - ``export_value``, ``export_quantity``: sums over export rows *that report a
          quantity > 0*; the same for imports;
        - ``export_unit_value``, ``import_unit_value``: value / quantity (value unit
          per quantity unit, e.g. USD/kg); NaN without quantities;
        - ``unit_value_ratio``: export / import unit value (dimensionless); NaN if
          either is missing;
        - ``export_coverage``, ``import_coverage``: share of the flow's value whose rows
          report a quantity (how representative the unit value is; NaN with no value).

    Raises
    ------
    ValueError
        If a column is missing, ``value``/``quantity`` hold text or negative
        numbers, or a group mixes aggregate and single-partner rows; the message names
        the column and row or group.

    Notes
    -----
    For group :math:`g` and direction :math:`d \\in \\{X, M\\}`, over rows :math:`r`
    with quantity :math:`q_r > 0`:

    .. math:: UV^d_g = \\frac{\\sum_r v_r}{\\sum_r q_r}, \\qquad
              RUV_g = \\frac{UV^X_g}{UV^M_g}

    Rows without quantity are left out of *both* sums so that a partly reported
    quantity does not deflate or inflate the unit value; ``*_coverage`` shows how much
    value that leaves out. Unit values as a proxy for quality within a product:
    Abd-el-Rahman, K. (1991), *Weltwirtschaftliches Archiv* 127(1), 83-97; Greenaway,
    D., Hine, R. and Milner, C. (1995), "Vertical and horizontal intra-industry trade",
    *Economic Journal* 105(433), 1505-1518.
    """
    keys = check_keys(keys)
    needed = [*keys, "flow", "value", quantity] + ([unit] if unit else [])
    missing = [c for c in needed if c not in flows.columns]
    if missing:
        raise ValueError(f"flows is missing column {missing[0]!r} (needs {', '.join(needed)})")
    group_keys = keys + ([unit] if unit else [])
    values = validated_values(flows).to_numpy()
    raw_q = flows[quantity]
    qty = pd.to_numeric(raw_q, errors="coerce").astype("float64").to_numpy()
    bad = np.isnan(qty) & raw_q.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"column {quantity!r}: {raw_q.iloc[pos]!r} at row {pos} is not a number")
    if np.any(qty[~np.isnan(qty)] < 0):
        pos = int(np.flatnonzero(qty < 0)[0])
        raise ValueError(f"column {quantity!r} has a negative entry {float(qty[pos])!r} at row {pos}")
    flow = flows["flow"].astype(str).str.strip().str.upper()
    is_x = flow.isin({c.strip().upper() for c in export_codes}).to_numpy()
    is_m = flow.isin({c.strip().upper() for c in import_codes}).to_numpy()
    frame = flows.loc[is_x | is_m, group_keys].copy()
    sel = is_x | is_m
    if "partner" in flows.columns and sel.any():
        agg = pd.Series(is_aggregate(flows["partner"])[sel], index=frame.index)
        mix = agg.groupby([frame[k] for k in group_keys], dropna=False, observed=True).agg(["min", "max"])
        mixed = mix["min"] != mix["max"]
        if mixed.any():
            raise ValueError(
                f"group {mixed.index[int(np.flatnonzero(mixed.to_numpy())[0])]!r} has both World (aggregate) and "
                "single-partner rows; pass one or the other, or the value is counted twice"
            )
    v, q, x = values[sel], qty[sel], is_x[sel]
    has_q = np.isfinite(q) & (q > 0)
    frame["_xv"] = np.where(x & has_q, v, 0.0)
    frame["_xq"] = np.where(x & has_q, q, 0.0)
    frame["_xall"] = np.where(x, v, 0.0)
    frame["_mv"] = np.where(~x & has_q, v, 0.0)
    frame["_mq"] = np.where(~x & has_q, q, 0.0)
    frame["_mall"] = np.where(~x, v, 0.0)
    sums = frame.groupby(group_keys, dropna=False, sort=True, observed=True).sum().reset_index()
    out = sums[group_keys].copy()
    xv, xq, mv, mq = (sums[c].to_numpy() for c in ("_xv", "_xq", "_mv", "_mq"))
    xall, mall = sums["_xall"].to_numpy(), sums["_mall"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        uvx = np.where(xq > 0, xv / np.where(xq > 0, xq, 1.0), np.nan)
        uvm = np.where(mq > 0, mv / np.where(mq > 0, mq, 1.0), np.nan)
        ratio = np.where(uvm > 0, uvx / np.where(uvm > 0, uvm, 1.0), np.nan)
        out["export_value"], out["export_quantity"] = xv, xq
        out["import_value"], out["import_quantity"] = mv, mq
        out["export_unit_value"], out["import_unit_value"] = uvx, uvm
        out["unit_value_ratio"] = ratio
        out["export_coverage"] = np.where(xall > 0, xv / np.where(xall > 0, xall, 1.0), np.nan)
        out["import_coverage"] = np.where(mall > 0, mv / np.where(mall > 0, mall, 1.0), np.nan)
    return out


def unit_value_findings(
    table: pd.DataFrame,
    threshold: float = 0.85,
    min_coverage: float = 0.5,
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
    unit_label: str = "unit",
) -> list[IndicatorFinding]:
    """Findings (kind ``low_unit_value``) where exports sell far below import prices.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`unit_value_table` output.
    threshold : float, default 0.85
        Flag :math:`RUV < threshold`. 0.85 is the lower bound of the +/-15 % band
        within which unit values count as similar (horizontal trade); below it the
        exported varieties are of lower quality ("vertical" trade, low end):
        Abd-el-Rahman (1991); Greenaway, Hine & Milner (1995).
    min_coverage : float, default 0.5
        Both coverages must reach this share of value, else the unit values are not
        representative and no finding is made.
    names, keys, period, freq
        As elsewhere.
    unit_label : str
        Quantity unit for the sentence (e.g. ``"kg"``).

    Returns
    -------
    list of IndicatorFinding
        observed = ``unit_value_ratio``, threshold = ``threshold``.
    """
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    if not (isinstance(min_coverage, (int, float)) and 0 <= min_coverage <= 1):
        raise ValueError(f"min_coverage must lie in [0, 1], got {min_coverage!r}")
    keys = [k for k in keys if k in table.columns]
    has_period = period in keys
    if has_period and len(table):
        _, freq = period_ordinals(table[period], freq, name=period)
    ratio = table["unit_value_ratio"].to_numpy(dtype="float64")
    covered = (table["export_coverage"].to_numpy(dtype="float64") >= min_coverage) & (
        table["import_coverage"].to_numpy(dtype="float64") >= min_coverage)
    out = []
    for pos in np.flatnonzero((ratio < threshold) & covered):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        en = f"In {when}, " if when else ""
        zh = f"{when}，" if when else ""
        if "reporter" in keys and "product" in keys:
            rep_en, rep_zh = name_en(names, row["reporter"]), name_zh(names, row["reporter"])
            prod_en, prod_zh = name_en(names, row["product"]), name_zh(names, row["product"])
        else:
            rep_en = rep_zh = ", ".join(f"{k}={row[k]}" for k in keys if k != period)
            prod_en, prod_zh = "the product", "该产品"
        uvx, uvm = float(row["export_unit_value"]), float(row["import_unit_value"])
        out.append(IndicatorFinding(
            kind="low_unit_value",
            subject=tuple((k, str(row[k])) for k in keys if k != period), period=when,
            observed=float(ratio[pos]), threshold=float(threshold),
            explanation_en=(f"{en}{rep_en} exports {prod_en} at {number(uvx)} per {unit_label} but imports it "
                            f"at {number(uvm)}: export/import unit value {number(ratio[pos])} < {threshold:g}, "
                            "it sells the low end and buys the high end (low-end lock-in)."),
            explanation_zh=(f"{zh}{rep_zh}{prod_zh}出口单价{number(uvx)}/{unit_label}，进口单价{number(uvm)}："
                            f"出口/进口单价比{number(ratio[pos])} < {threshold:g}，出口低端、进口高端（低端锁定）。"),
            details=(("export_unit_value", uvx), ("import_unit_value", uvm),
                     ("export_coverage", float(row["export_coverage"])),
                     ("import_coverage", float(row["import_coverage"]))),
        ))
    return out
