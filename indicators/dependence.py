"""Import dependence, the EU strategic-dependency test, and single points of failure.

Pure functions on long tables, no I/O, vectorised over groups.

- :func:`import_dependence`: how much of apparent consumption is imported, and the
  self-sufficiency ratio, where production is known.
- :func:`strategic_dependency_test`: the European Commission's three-criteria test
  for a "foreign dependency" of one product (concentrated extra-bloc imports, which
  matter for total imports and cannot easily be replaced by the bloc's own output),
  with CEPII GeoDep's persistence rule.
- :func:`single_point_of_failure`: one partner above a given share.

Each has a ``*_findings`` function that turns the rows crossing the thresholds into
:class:`indicators.findings.IndicatorFinding` objects with English and Chinese text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indicators.concentration import DEFAULT_KEYS, concentration_table
from indicators.tables import check_keys, is_aggregate, normalised_codes, validated_values
from indicators.findings import (
    IndicatorFinding,
    Names,
    name_en,
    name_zh,
    number,
    percent,
)
from indicators.periods import format_period, lagged_values, period_ordinals

__all__ = [
    "DEPENDENCE_COLUMNS",
    "DependencyThresholds",
    "import_dependence",
    "strategic_dependency_test",
    "combine_criteria",
    "persistence_status",
    "criteria_met",
    "single_point_of_failure",
    "import_dependence_findings",
    "dependency_findings",
    "single_point_of_failure_findings",
]

#: Columns :func:`import_dependence` appends.
DEPENDENCE_COLUMNS: tuple[str, ...] = (
    "apparent_consumption",
    "import_dependence",
    "net_import_reliance",
    "self_sufficiency",
)


def _numeric_column(frame: pd.DataFrame, column: str, allow_missing: bool) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(f"frame is missing column {column!r} (has {', '.join(map(str, frame.columns))})")
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = values.isna() & raw.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"column {column!r}: {raw.iloc[pos]!r} at row {pos} is not a number")
    arr = values.to_numpy()
    if not allow_missing and np.isnan(arr).any():
        pos = int(np.flatnonzero(np.isnan(arr))[0])
        raise ValueError(f"column {column!r} has a missing entry at row {pos}")
    finite = ~np.isnan(arr)
    if np.any(np.isinf(arr)):
        pos = int(np.flatnonzero(np.isinf(arr))[0])
        raise ValueError(f"column {column!r} has a non-finite entry at row {pos}")
    if np.any(arr[finite] < 0):
        pos = int(np.flatnonzero(finite & (arr < 0))[0])
        raise ValueError(f"column {column!r} has a negative entry {float(arr[pos])!r} at row {pos}; must be >= 0")
    return arr


def import_dependence(
    frame: pd.DataFrame,
    production: str = "production",
    imports: str = "imports",
    exports: str = "exports",
) -> pd.DataFrame:
    """Import dependence, net import reliance and self-sufficiency per row.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per subject (e.g. economy, product, year) with domestic production,
        imports and exports of the product in one physical or value unit.
        ``production`` may be NaN (unknown); imports and exports must be known.
    production, imports, exports : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        A copy of ``frame`` with :data:`DEPENDENCE_COLUMNS` appended:

        - ``apparent_consumption``: :math:`C = P + M - X` (input unit);
        - ``import_dependence``: :math:`M / C`, share of consumption supplied by
          imports (can exceed 1 when re-exports come out of imports);
        - ``net_import_reliance``: :math:`(M - X) / C` (negative for a net exporter);
        - ``self_sufficiency``: :math:`P / C` (> 1 for a net exporter).

        All four are NaN where production is unknown, and the ratios are NaN where
        :math:`C \\le 0` (exports exceed production plus imports, e.g. out of
        stocks): a ratio to a non-positive consumption means nothing.

    Raises
    ------
    ValueError
        If a column is missing, or holds text, negative or infinite values, or
        imports/exports are missing; the message names the column and row.

    Notes
    -----
    .. math:: C = P + M - X, \\quad ID = \\frac{M}{C}, \\quad
              NIR = \\frac{M - X}{C}, \\quad SS = \\frac{P}{C}

    Apparent consumption and net import reliance as in the U.S. Geological Survey's
    *Mineral Commodity Summaries* (net import reliance = imports - exports +
    adjustments for stock changes, as a percentage of apparent consumption; stock
    changes are not modelled here) and the import-reliance term
    :math:`IR = (M - X) / (P + M - X)` of the EU criticality methodology (European
    Commission 2017 guidelines). Dimensionless ratios.
    """
    missing = [c for c in (production, imports, exports) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing column {missing[0]!r} (has {', '.join(map(str, frame.columns))})")
    p = _numeric_column(frame, production, allow_missing=True)
    m = _numeric_column(frame, imports, allow_missing=False)
    x = _numeric_column(frame, exports, allow_missing=False)
    c = p + m - x
    ok = c > 0  # False for NaN
    safe = np.where(ok, c, 1.0)
    out = frame.copy()
    out["apparent_consumption"] = c
    out["import_dependence"] = np.where(ok, m / safe, np.nan)
    out["net_import_reliance"] = np.where(ok, (m - x) / safe, np.nan)
    out["self_sufficiency"] = np.where(ok, p / safe, np.nan)
    return out


#: ISO 3166-1 alpha-3 codes of the 27 EU member states (since 1 February 2020): the
#: bloc of an ``EU27`` home economy, whose trade among them is intra-bloc.
EU27_MEMBERS: frozenset[str] = frozenset({
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
    "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"})

#: Status of one criterion of the strategic-dependency test.
MET, NOT_MET, UNKNOWN, NOT_APPLICABLE = "met", "not met", "unknown", "not applicable"
#: Status of a product-period (all criteria): dependent / not dependent / unknown.
DEPENDENT, NOT_DEPENDENT = "dependent", "not dependent"


def _status(lower: np.ndarray, upper: np.ndarray, threshold: float) -> np.ndarray:
    """Criterion ``value > threshold`` for a value known to lie in [lower, upper].

    met when ``lower > threshold``; not met when ``upper <= threshold`` or the value is
    undefined (NaN, e.g. no imports); unknown in between.
    """
    lower = np.asarray(lower, dtype="float64")
    upper = np.asarray(upper, dtype="float64")
    out = np.full(lower.shape, UNKNOWN, dtype=object)
    out[~(upper > threshold)] = NOT_MET  # NaN included
    out[lower > threshold] = MET
    return out


def combine_criteria(*criteria: np.ndarray) -> np.ndarray:
    """Per row: ``dependent`` when every criterion is met or not applicable, ``not dependent``
    when one is not met, else ``unknown``."""
    stacked = np.vstack([np.asarray(c, dtype=object) for c in criteria]) if criteria else np.zeros((1, 0), object)
    out = np.full(stacked.shape[1], UNKNOWN, dtype=object)
    out[np.all((stacked == MET) | (stacked == NOT_APPLICABLE), axis=0)] = DEPENDENT
    out[np.any(stacked == NOT_MET, axis=0)] = NOT_DEPENDENT
    return out


def persistence_status(dependent: np.ndarray, unknown: np.ndarray, min_periods: int) -> np.ndarray:
    """Persistence from counts of dependent and unknown periods in the window.

    met when ``dependent >= min_periods``; not met when even counting every unknown
    period as dependent stays below ``min_periods``; else unknown. Periods without data
    are passed as unknown by the caller when the data cannot tell (history too short),
    as not dependent when there was no trade.
    """
    dependent = np.asarray(dependent)
    unknown = np.asarray(unknown)
    out = np.full(dependent.shape, UNKNOWN, dtype=object)
    out[dependent + unknown < min_periods] = NOT_MET
    out[dependent >= min_periods] = MET
    return out


@dataclass(frozen=True)
class DependencyThresholds:
    """Thresholds of the strategic-dependency test (all strict ``>``).

    Attributes
    ----------
    hhi : float, default 0.4
        HHI (0-1) of extra-bloc imports by partner.
    extra_share : float, default 0.5
        Share of extra-bloc imports in total imports.
    import_export_ratio : float, default 1.0
        Extra-bloc imports / bloc exports.
    window : int, default 3
        Persistence window, in periods (years for annual data).
    min_periods : int, default 2
        Periods within the window in which all criteria must hold.

    Notes
    -----
    Criteria and values of European Commission SWD(2021) 352, *Strategic
    dependencies and capacities* (2021), methodology annex; persistence rule (2 of
    3 years) of CEPII's GeoDep database (Lefebvre, K. and Wibaux, P. (2024), "Import
    dependencies: where does the EU stand?", CEPII Policy Brief 47).
    """

    hhi: float = 0.4
    extra_share: float = 0.5
    import_export_ratio: float = 1.0
    window: int = 3
    min_periods: int = 2

    def __post_init__(self) -> None:
        for name in ("hhi", "extra_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"DependencyThresholds.{name} must be a number in [0, 1], got {value!r}")
        ratio = self.import_export_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not np.isfinite(ratio) or ratio < 0:
            raise ValueError(f"DependencyThresholds.import_export_ratio must be a finite number >= 0, got {ratio!r}")
        if not (isinstance(self.window, int) and self.window >= 1):
            raise ValueError(f"DependencyThresholds.window must be an integer >= 1, got {self.window!r}")
        if not (isinstance(self.min_periods, int) and 1 <= self.min_periods <= self.window):
            raise ValueError(
                f"DependencyThresholds.min_periods must be an integer in [1, window={self.window}], "
                f"got {self.min_periods!r}"
            )


def strategic_dependency_test(
    imports: pd.DataFrame,
    exports: pd.DataFrame,
    bloc: Collection[object] = (),
    keys: Sequence[str] = DEFAULT_KEYS,
    thresholds: DependencyThresholds = DependencyThresholds(),
    residual_partners: Collection[str] = (),
    period: str = "period",
    freq: str | None = None,
) -> pd.DataFrame:
    """The EU strategic-dependency test per product and period, with persistence.

    Parameters
    ----------
    imports : pandas.DataFrame
        The home economy's (or bloc's) imports by partner: ``keys + partner + value``
        (one unit per group, e.g. USD). Aggregate partners (World) are ignored;
        residual partners count in totals but not in the HHI (see
        ``concentration_table``).
    exports : pandas.DataFrame
        The home economy's exports *to outside the bloc*: ``keys + value``, one total
        per group (rows with equal keys are summed); no ``partner`` column, to rule
        out adding World and partner rows together. A group without an export row has
        exports 0 (trade statistics list only non-zero flows).
    bloc : collection, default ()
        Partner codes inside the bloc (e.g. the 27 EU member states when the reporter
        is the EU); their flows are intra-bloc. Empty for a single economy: all
        imports are then extra-bloc.
    keys : sequence of str
        Group keys, default ``("reporter", "product", "period")``.
    thresholds : DependencyThresholds
        Criteria thresholds and persistence window.
    residual_partners : collection of str
        Unnamed "others" partners.
    period : str
        The period key (for persistence); integer years, Periods or timestamps.
    freq : {"Y", "Q", "M"} or None
        Period grid, inferred by default.

    Returns
    -------
    pandas.DataFrame
        One row per group with imports, sorted by keys: ``keys``, ``total_imports``,
        ``extra_imports`` (residual partners included), ``exports``, ``hhi`` (of
        extra-bloc imports by partner, the residual as negligible suppliers: the lower
        bound), ``top_partner`` and ``top_share`` (of extra-bloc imports),
        ``extra_share`` (upper bound) and ``extra_share_lower``, ``unallocated_share``
        (residual share of extra-bloc imports), ``hhi_upper``, ``import_export_ratio``
        (upper bound) and ``import_export_ratio_lower``; the criteria as statuses
        ``c1_concentration``, ``c2_extra_share``, ``c3_imports_over_exports`` (each
        ``"met"``, ``"not met"``, ``"unknown"`` or ``"not applicable"``) and as booleans
        ``crit_concentration``, ``crit_extra_share``, ``crit_substitutability``
        (status ``"met"``); ``status`` (``"dependent"``: every criterion met or not
        applicable; ``"not dependent"``: one not met; else ``"unknown"``),
        ``dependent`` (status ``"dependent"``), ``periods_dependent`` and
        ``periods_unknown`` (periods in the window ending here, this one included),
        ``persistent`` (``periods_dependent >= min_periods``) and ``persistence``
        (met / not met / unknown, see :func:`persistence_status`).

    Raises
    ------
    ValueError
        If a column is missing or holds bad values (message names the column and
        row), ``exports`` has a ``partner`` column, or the period column cannot be
        placed on a grid.

    Notes
    -----
    For product :math:`k` (an HS6 subheading in the method) and period :math:`t` (a
    year in the method), with extra-bloc imports :math:`M^{ext}` by partner, total
    imports :math:`M` (World total) and exports :math:`X` (all in one value unit, e.g.
    USD; the ratios are dimensionless):

    .. math::

        C_1: HHI(M^{ext}) > 0.4, \\quad
        C_2: M^{ext} / M > 0.5, \\quad
        C_3: M^{ext} / X > 1

    with :math:`M^{ext} / X = +\\infty` when :math:`X = 0 < M^{ext}` (CEPII GeoDep
    imposes 9999, which decides the same way) and undefined (not met) when
    :math:`M^{ext} = 0`.

    *Partial partner coverage.* When the named partners cover only part of the World
    total, the remainder :math:`R` (a residual partner, share :math:`u = R / M^{ext}`)
    is unallocated. With named shares :math:`s_i` of :math:`M^{ext}` and the largest
    :math:`s_{top}`:

    .. math::

        \\sum_i s_i^2 \\;\\le\\; HHI \\;\\le\\; \\sum_i s_i^2 + 2 s_{top} u + u^2

    (lower: :math:`R` spread over many negligible suppliers; upper: :math:`R` all from
    the largest partner). With a bloc, :math:`R` may also be intra-bloc, so
    :math:`M^{ext} \\in [M^{ext}(1-u), M^{ext}]` and the HHI upper bound is also at
    least that of the named partners alone, :math:`\\sum_i s_i^2 / (1-u)^2`. A
    criterion on a value :math:`v \\in [v_{lo}, v_{hi}]` is *met* when
    :math:`v_{lo} >` threshold, *not met* when :math:`v_{hi} \\le` threshold, else
    *unknown*. Without a bloc (``bloc`` empty: a single economy) :math:`C_2` is *not
    applicable*: every import is extra-bloc and the share 1 says nothing.

    A product-period is dependent when every applicable criterion is met (not
    dependent when one is not met, unknown otherwise), and persistently so when it
    is dependent in at least ``min_periods`` of the ``window`` periods
    :math:`t-w+1 \\dots t` (a missing period counts as not dependent: no trade);
    persistence is unknown when the unknown periods could still decide it.

    Sources: European Commission SWD(2021) 352, *Strategic dependencies and
    capacities*, methodology annex (HS6 products; the three criteria and their
    thresholds; the 2021 analysis used one year of data); Lefebvre, K. and Wibaux, P.
    (2024), "Import dependencies: where does the EU stand?", CEPII Policy Brief 47,
    and the GeoDep database documentation (the criteria per country, HS6 product and
    year; persistence: all criteria hold in at least two years of a three-year
    window; exports = 0 case). GeoDep also requires world exports of the product to
    be concentrated (HHI > 0.4); that criterion needs world trade data and is not part
    of this function. The bounds on the HHI are algebra on the shares, not part of
    either method (both work on complete bilateral data, BACI or Comext).
    """
    keys = check_keys(keys)
    if "partner" in exports.columns:
        raise ValueError(
            "exports must hold one total per group (keys + value) and no 'partner' column; "
            "keep only the World rows (or sum the extra-bloc partners) first"
        )
    missing = [c for c in (*keys, "value") if c not in exports.columns]
    if missing:
        raise ValueError(f"exports is missing column {missing[0]!r} (needs {', '.join((*keys, 'value'))})")
    export_values = validated_values(exports)
    if isinstance(bloc, (str, bytes)):
        bloc = (bloc,)
    bloc_set = {str(b).strip().upper() for b in bloc}

    everything = concentration_table(imports, keys, residual_partners, include_zero_total=True)
    partner = imports["partner"]
    intra = normalised_codes(partner).isin(bloc_set).to_numpy() if bloc_set else np.zeros(len(imports), bool)
    extra_rows = imports.loc[~intra & ~is_aggregate(partner)]
    extra = concentration_table(extra_rows, keys, residual_partners, include_zero_total=True)

    out = everything[keys].copy()
    out["total_imports"] = everything["total"].to_numpy()
    ext = extra[keys + ["total", "hhi", "top_partner", "top_share"]].rename(columns={"total": "extra_imports"})
    out = out.merge(ext, on=keys, how="left", sort=False)
    out["extra_imports"] = out["extra_imports"].fillna(0.0)
    x = exports[keys].assign(value=export_values.to_numpy())
    x = x.groupby(keys, dropna=False, observed=True, sort=False)["value"].sum().rename("exports").reset_index()
    out = out.merge(x, on=keys, how="left", sort=False)
    out["exports"] = out["exports"].fillna(0.0)
    out = out[keys + ["total_imports", "extra_imports", "exports", "hhi", "top_partner", "top_share"]]

    m_ext = out["extra_imports"].to_numpy(dtype="float64")
    m_tot = out["total_imports"].to_numpy(dtype="float64")
    x_val = out["exports"].to_numpy(dtype="float64")
    hhi = out["hhi"].to_numpy(dtype="float64")
    top = np.nan_to_num(out["top_share"].to_numpy(dtype="float64"), nan=0.0)
    # the unallocated remainder (residual partners) of the extra-bloc imports: u = R / M_ext
    if "residual_share" in extra.columns:
        u = out[keys].merge(extra[keys + ["residual_share"]], on=keys, how="left", sort=False)["residual_share"]
        u = np.nan_to_num(u.to_numpy(dtype="float64"), nan=0.0)
    else:
        u = np.zeros(len(out))
    has_bloc = bool(bloc_set)
    with np.errstate(divide="ignore", invalid="ignore"):
        # C1 bounds: the residual as many negligible suppliers (lower) or all one partner, the
        # largest (upper); with a bloc the residual may also be intra-bloc: HHI of the named only
        hhi_upper = hhi + 2.0 * top * u + u * u
        if has_bloc:
            named_only = np.where(u < 1, hhi / np.where(u < 1, (1 - u) ** 2, 1.0), np.nan)
            hhi_upper = np.fmax(hhi_upper, named_only)
        hhi_upper = np.minimum(hhi_upper, 1.0)
        m_ext_lo = m_ext * (1 - u) if has_bloc else m_ext  # with a bloc the residual may be intra-bloc
        out["extra_share"] = np.where(m_tot > 0, m_ext / np.where(m_tot > 0, m_tot, 1.0), np.nan)
        out["extra_share_lower"] = np.where(m_tot > 0, m_ext_lo / np.where(m_tot > 0, m_tot, 1.0), np.nan)
        ratio = np.where(x_val > 0, m_ext / np.where(x_val > 0, x_val, 1.0), np.inf)
        ratio_lo = np.where(x_val > 0, m_ext_lo / np.where(x_val > 0, x_val, 1.0), np.where(m_ext_lo > 0, np.inf, 0.0))
    out["unallocated_share"] = np.where(m_ext > 0, u, np.nan)
    out["hhi_upper"] = hhi_upper
    out["import_export_ratio"] = np.where(m_ext > 0, ratio, np.nan)
    out["import_export_ratio_lower"] = np.where(m_ext > 0, ratio_lo, np.nan)
    c1 = _status(hhi, hhi_upper, thresholds.hhi)
    c2 = (_status(out["extra_share_lower"].to_numpy(dtype="float64"), out["extra_share"].to_numpy(dtype="float64"),
                  thresholds.extra_share) if has_bloc else np.full(len(out), NOT_APPLICABLE, dtype=object))
    c3 = _status(out["import_export_ratio_lower"].to_numpy(dtype="float64"),
                 out["import_export_ratio"].to_numpy(dtype="float64"), thresholds.import_export_ratio)
    out["c1_concentration"], out["c2_extra_share"], out["c3_imports_over_exports"] = c1, c2, c3
    out["crit_concentration"] = c1 == MET
    out["crit_extra_share"] = c2 == MET
    out["crit_substitutability"] = c3 == MET
    status = combine_criteria(c1, c2, c3)
    out["status"] = status
    dependent = status == DEPENDENT
    unknown = status == UNKNOWN
    out["dependent"] = dependent

    if period in keys:
        series_keys = [k for k in keys if k != period]
        ordinals, _ = period_ordinals(out[period], freq, name=period)
        count = dependent.astype("int64")
        open_count = unknown.astype("int64")
        flags = out[series_keys].assign(_dep=dependent.astype("float64"), _unk=unknown.astype("float64"))
        for lag in range(1, thresholds.window):
            earlier = lagged_values(flags, series_keys, ordinals, ["_dep", "_unk"], lag)
            count = count + np.nan_to_num(earlier["_dep"].to_numpy(), nan=0.0).astype("int64")
            open_count = open_count + np.nan_to_num(earlier["_unk"].to_numpy(), nan=0.0).astype("int64")
    else:
        count = dependent.astype("int64")
        open_count = unknown.astype("int64")
    out["periods_dependent"] = count
    out["periods_unknown"] = open_count
    out["persistent"] = count >= thresholds.min_periods
    out["persistence"] = persistence_status(count, open_count, thresholds.min_periods)
    # sort like concentration_table (keys order), stable
    return out.reset_index(drop=True)


def single_point_of_failure(table: pd.DataFrame, threshold: float = 0.65) -> pd.DataFrame:
    """Flag groups where one partner supplies more than ``threshold`` of the total.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`indicators.concentration.concentration_table` output (``top_partner``,
        ``top_share``).
    threshold : float, default 0.65
        Share in [0, 1]. Default: the EU Critical Raw Materials Act benchmark,
        Regulation (EU) 2024/1252, Art. 5(1): no more than 65 % of the Union's annual
        consumption of a strategic raw material from a single third country.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with a boolean ``single_point_of_failure`` column:
        :math:`s_{top} > threshold` (False where ``top_share`` is NaN).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a share in [0, 1], got {threshold!r}")
    if "top_share" not in table.columns:
        raise ValueError("table is missing column 'top_share' (use concentration_table's output)")
    out = table.copy()
    out["single_point_of_failure"] = table["top_share"].to_numpy(dtype="float64") > threshold
    return out


def _period_info(table: pd.DataFrame, keys: Sequence[str], period: str, freq: str | None):
    has_period = period in keys and period in table.columns
    if has_period and len(table):
        _, freq = period_ordinals(table[period], freq, name=period)
    return has_period, freq


def _prefix(when: str) -> tuple[str, str]:
    return (f"In {when}, " if when else "", f"{when}，" if when else "")


def _reporter_product(row: pd.Series, keys: Sequence[str], period: str, names: Names | None) -> tuple[str, str, str, str]:
    if "reporter" in keys and "product" in keys:
        return (name_en(names, row["reporter"]), name_zh(names, row["reporter"]),
                name_en(names, row["product"]), name_zh(names, row["product"]))
    label = ", ".join(f"{k}={row[k]}" for k in keys if k != period)
    return label, label, "the product", "该产品"


def _cmp(value, threshold) -> str:
    """'>' when the criterion ``value > threshold`` holds, else '≤' (so sentences never lie)."""
    try:
        return ">" if float(value) > float(threshold) else "≤"
    except (TypeError, ValueError):
        return "≤"


def single_point_of_failure_findings(
    table: pd.DataFrame,
    threshold: float = 0.65,
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
) -> list[IndicatorFinding]:
    """Findings (kind ``single_point_of_failure``) for rows with a partner above ``threshold``.

    ``table`` is ``concentration_table`` output; observed = ``top_share``. See
    :func:`single_point_of_failure` for the default threshold's source.
    """
    flagged = single_point_of_failure(table, threshold)
    keys = list(keys)
    has_period, freq = _period_info(table, keys, period, freq)
    out = []
    for pos in np.flatnonzero(flagged["single_point_of_failure"].to_numpy()):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        en, zh = _prefix(when)
        rep_en, rep_zh, prod_en, prod_zh = _reporter_product(row, keys, period, names)
        top = row["top_partner"]
        world = "reporter" in keys and str(row["reporter"]).strip().upper() == "WORLD"
        share = float(row["top_share"])
        if world:
            sentence_en = f"{name_en(names, top)} produces {percent(share)} of world {prod_en}"
            sentence_zh = f"{name_zh(names, top)}生产了全球{prod_zh}的{percent(share)}"
        else:
            sentence_en = f"{name_en(names, top)} supplies {percent(share)} of {rep_en}'s {prod_en} imports"
            sentence_zh = f"{name_zh(names, top)}供应了{rep_zh}{prod_zh}进口的{percent(share)}"
        out.append(IndicatorFinding(
            kind="single_point_of_failure",
            subject=tuple((k, str(row[k])) for k in keys if k != period), period=when,
            observed=share, threshold=float(threshold),
            explanation_en=f"{en}single point of failure: {sentence_en} (> {percent(threshold)}).",
            explanation_zh=f"{zh}单点依赖风险：{sentence_zh}（> {percent(threshold)}）。",
            details=(("top_partner", str(top)), ("top_share", share), ("hhi", float(row["hhi"]))),
        ))
    return out


def import_dependence_findings(
    table: pd.DataFrame,
    threshold: float = 0.5,
    measure: str = "import_dependence",
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
) -> list[IndicatorFinding]:
    """Findings (kind ``import_dependence``) where ``measure`` > ``threshold``.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`import_dependence` output with the ``keys`` columns.
    threshold : float, default 0.5
        More than half of apparent consumption imported; the same 50 % level the EU
        test uses for the weight of extra-EU imports (SWD(2021) 352). Configurable.
    measure : {"import_dependence", "net_import_reliance"}
        Gross (:math:`M/C`) or net (:math:`(M-X)/C`) reliance.
    """
    if measure not in ("import_dependence", "net_import_reliance"):
        raise ValueError(f"measure must be 'import_dependence' or 'net_import_reliance', got {measure!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    keys = [k for k in keys if k in table.columns]
    has_period, freq = _period_info(table, keys, period, freq)
    values = table[measure].to_numpy(dtype="float64")
    out = []
    for pos in np.flatnonzero(values > threshold):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        en, zh = _prefix(when)
        rep_en, rep_zh, prod_en, prod_zh = _reporter_product(row, keys, period, names)
        label_en = "imports cover" if measure == "import_dependence" else "net imports cover"
        label_zh = "进口满足" if measure == "import_dependence" else "净进口满足"
        out.append(IndicatorFinding(
            kind="import_dependence",
            subject=tuple((k, str(row[k])) for k in keys if k != period), period=when,
            observed=float(values[pos]), threshold=float(threshold),
            explanation_en=(f"{en}{label_en} {percent(values[pos])} of {rep_en}'s apparent consumption of "
                            f"{prod_en} (> {percent(threshold)}); self-sufficiency "
                            f"{percent(row['self_sufficiency'])}."),
            explanation_zh=(f"{zh}{label_zh}{rep_zh}{prod_zh}表观消费量的{percent(values[pos])}"
                            f"（> {percent(threshold)}）；自给率{percent(row['self_sufficiency'])}。"),
            details=(("measure", measure), ("apparent_consumption", float(row["apparent_consumption"])),
                     ("self_sufficiency", float(row["self_sufficiency"]))),
        ))
    return out


#: Criterion key -> (English label, Chinese label) as drivers and findings name them.
CRITERIA: dict[str, tuple[str, str]] = {
    "c1_concentration": ("import HHI > 0.4", "进口HHI > 0.4"),
    "c2_extra_share": ("extra-bloc share of imports > 50%", "区外进口占比 > 50%"),
    "c3_imports_over_exports": ("imports/exports > 1", "进口/出口 > 1"),
}


def criteria_met(row: Mapping[str, object], thresholds: DependencyThresholds = DependencyThresholds()
                 ) -> list[tuple[str, str, str]]:
    """The criteria a row of :func:`strategic_dependency_test` meets: (column, English, Chinese).

    Exactly those with status ``met``, in criterion order; labels carry the thresholds.
    """
    labels = {
        "c1_concentration": (f"import HHI > {thresholds.hhi:g}", f"进口HHI > {thresholds.hhi:g}"),
        "c2_extra_share": (f"extra-bloc share of imports > {percent(thresholds.extra_share)}",
                           f"区外进口占比 > {percent(thresholds.extra_share)}"),
        "c3_imports_over_exports": (f"imports/exports > {thresholds.import_export_ratio:g}",
                                    f"进口/出口 > {thresholds.import_export_ratio:g}"),
    }
    return [(c, *labels[c]) for c in CRITERIA if row.get(c) == MET]


def _held_phrase(row: pd.Series) -> tuple[str, str]:
    """'all three' only when three criteria apply; otherwise names the one not applicable."""
    if row.get("c2_extra_share") == NOT_APPLICABLE:
        return ("both applicable criteria (the extra-bloc share is not applicable: no bloc)",
                "两项适用标准（无经济集团，区外进口占比不适用）")
    return "all three", "三项标准"


def dependency_findings(
    table: pd.DataFrame,
    thresholds: DependencyThresholds = DependencyThresholds(),
    names: Names | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    period: str = "period",
    freq: str | None = None,
    require_persistence: bool = True,
) -> list[IndicatorFinding]:
    """Findings (kind ``strategic_dependency``) from :func:`strategic_dependency_test`.

    One finding per row that is ``persistent`` (or, with
    ``require_persistence=False``, ``dependent`` this period); observed = the HHI of
    extra-bloc imports, threshold = ``thresholds.hhi``; the other criteria are in the
    sentence and in ``details``.
    """
    keys = list(keys)
    has_period, freq = _period_info(table, keys, period, freq)
    column = "persistent" if require_persistence else "dependent"
    out = []
    for pos in np.flatnonzero(table[column].to_numpy(dtype=bool)):
        row = table.iloc[pos]
        when = format_period(row[period], freq) if has_period else ""
        en, zh = _prefix(when)
        rep_en, rep_zh, prod_en, prod_zh = _reporter_product(row, keys, period, names)
        top = row["top_partner"]
        ratio = float(row["import_export_ratio"])
        held = int(row["periods_dependent"])
        now_en = "" if row["dependent"] else " (not in the latest period)"
        now_zh = "" if row["dependent"] else "（最新一期未满足）"
        c1, c2 = _cmp(row["hhi"], thresholds.hhi), _cmp(row["extra_share"], thresholds.extra_share)
        c3 = _cmp(ratio, thresholds.import_export_ratio)
        held_en, held_zh = _held_phrase(row)
        hhi_en = hhi_zh = f"{number(row['hhi'])} {c1} {thresholds.hhi:g}"
        if row.get("c1_concentration") == UNKNOWN:
            hhi_en = (f"{number(row['hhi'])}-{number(row['hhi_upper'])} (unknown against {thresholds.hhi:g}: "
                      f"{percent(row['unallocated_share'])} of imports without a partner)")
            hhi_zh = (f"{number(row['hhi'])}-{number(row['hhi_upper'])}（相对{thresholds.hhi:g}未知："
                      f"{percent(row['unallocated_share'])}的进口未分配来源）")
        if row.get("c2_extra_share") == NOT_APPLICABLE:
            share_en, share_zh = "extra-bloc share not applicable (no bloc)", "区外进口占比不适用（无经济集团）"
        else:
            share_en = f"extra-bloc share {percent(row['extra_share'])} {c2} {percent(thresholds.extra_share)}"
            share_zh = f"区外进口占比{percent(row['extra_share'])} {c2} {percent(thresholds.extra_share)}"
        out.append(IndicatorFinding(
            kind="strategic_dependency",
            subject=tuple((k, str(row[k])) for k in keys if k != period), period=when,
            observed=float(row["hhi"]), threshold=thresholds.hhi,
            explanation_en=(f"{en}{rep_en} is strategically dependent on imports of {prod_en}: "
                            f"HHI of imports {hhi_en} (top "
                            f"{name_en(names, top)} {percent(row['top_share'])}), {share_en}, "
                            f"imports/exports {number(ratio)} {c3} {thresholds.import_export_ratio:g}; "
                            f"{held_en} held in {held} of the last {thresholds.window} periods{now_en}."),
            explanation_zh=(f"{zh}{rep_zh}对{prod_zh}进口存在战略依赖：进口HHI {hhi_zh}"
                            f"（最大来源{name_zh(names, top)}占{percent(row['top_share'])}），{share_zh}，"
                            f"进口/出口 {number(ratio)} {c3} {thresholds.import_export_ratio:g}；"
                            f"近{thresholds.window}期中有{held}期{held_zh}同时满足{now_zh}。"),
            details=(("top_partner", str(top)), ("top_share", float(row["top_share"])),
                     ("extra_share", float(row["extra_share"])), ("import_export_ratio", ratio),
                     ("periods_dependent", held), ("dependent", bool(row["dependent"]))),
        ))
    return out
