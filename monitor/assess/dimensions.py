"""The exposure dimensions of one node: import dependence, partner risk, logistics
pressure and value (unit-value gap).

Pure computation on data handed in (no database, no config files): the assessment
loads :class:`DimensionInputs` once per partition (``monitor/assess/inputs.py``) and
measures all its nodes with :func:`measure_partition_dimensions` (one call of each
batchable indicator for all of them; :func:`measure_dimensions` does one node, with
the same results) beside their concentration and disruption measurement. Each
dimension gives a 0-100 score (maps and sources in :mod:`indicators.dimension_scores`),
the numbers behind it (``details``, stored with the dimension's score) and a driver
sentence in English and Chinese. A dimension
without data has score None and says why in its details: it counts against the
node's data completeness and never as risk. A dimension switched off in
``settings.yaml`` (or logistics without a configured series) is not measured and not
expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from indicators.dependence import (
    CRITERIA,
    DEPENDENT,
    EU27_MEMBERS,
    MET,
    NOT_APPLICABLE,
    NOT_DEPENDENT,
    NOT_MET,
    UNKNOWN,
    DependencyThresholds,
    combine_criteria,
    persistence_status,
    strategic_dependency_test,
)
from indicators.dimension_scores import (
    import_dependence_score,
    logistics_pressure_score,
    net_import_ratio,
    partner_risk_score,
    relative_weighted_hhi,
    unit_value_gap_score,
)
from indicators.supply_risk import governance_weighted_concentration
from indicators.tables import on_distinct, partner_kinds
from indicators.trade_totals import monthly_totals
from indicators.unit_values import unit_value_table
from indicators.vocabulary import AGGREGATE_PARTNERS, DEFAULT_RESIDUAL, UNALLOCATED, UNSPECIFIED_AREAS
from monitor.assess.world_supply import measure_world_supply
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.models import AssessmentSettings, Node

__all__ = [
    "DIMENSIONS",
    "PartnerScore",
    "DimensionInputs",
    "DimensionMeasurement",
    "window_start",
    "measure_dependence",
    "measure_partner_risk",
    "measure_logistics",
    "measure_value",
    "measure_dimensions",
    "measure_partition_dimensions",
]

DIMENSIONS: tuple[str, ...] = ("dependence", "partner_risk", "logistics", "value", "world_supply")
"""Dimension names as stored (``risk_scores.dimension``), exported and reported."""

_Driver = tuple[float, str, str]


@dataclass(frozen=True)
class PartnerScore:
    """One partner's governance risk (0-10, 10 = riskiest) and where it came from."""

    risk: float
    period: date
    """Latest period among the indicators used."""
    indicators: tuple[tuple[str, float], ...]
    """(series id, raw value) of each indicator averaged."""


@dataclass
class DimensionInputs:
    """The stored data the exposure dimensions of one partition need (plain, picklable)."""

    exports_by_product: dict[str, pd.DataFrame] = field(default_factory=dict)
    """HS code -> the home economy's export flows of it over the window."""
    exports_collected: bool = False
    """Whether any export flow of the home economy is stored for the window (else exports are unknown, not 0)."""
    partner_scores: dict[str, PartnerScore] = field(default_factory=dict)
    """ISO alpha-3 partner -> governance risk, for the partners that have one."""
    logistics: dict[str, pd.Series] = field(default_factory=dict)
    """Pressure series id -> monthly values up to the assessment's month."""
    world_supply: dict[str, pd.DataFrame] = field(default_factory=dict)
    """World-supply series stem -> its stored annual observations by country (newest release)."""
    world_supply_missing: dict[str, str] = field(default_factory=dict)
    """World-supply series stem with nothing stored -> why (the source failed, or publishes nothing for it)."""


@dataclass
class DimensionMeasurement:
    """Scores, details and drivers of the measured exposure dimensions of one node."""

    dimensions: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, dict] = field(default_factory=dict)
    ranked_drivers: list[_Driver] = field(default_factory=list)
    """(score, English, Chinese)."""

    @property
    def inputs_expected(self) -> int:
        """One input per measured dimension."""
        return len(self.dimensions)

    @property
    def inputs_available(self) -> int:
        """Measured dimensions that have a score."""
        return sum(v is not None for v in self.dimensions.values())


def window_start(as_of: date, months: int) -> pd.Timestamp:
    """First month of the ``months``-month window ending at ``as_of`` (inclusive)."""
    return pd.Timestamp(as_of) - pd.DateOffset(months=months - 1)


def _window(as_of: date, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last month of the window (both included)."""
    return window_start(as_of, months), pd.Timestamp(as_of)


def _in_window(frame: pd.DataFrame, as_of: date, months: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    start, end = _window(as_of, months)
    return frame[(frame["period"] >= start) & (frame["period"] <= end)]


def _missing(reason_en: str) -> tuple[None, dict, None]:
    return None, {"missing": reason_en}, None


def _node_exports(node: Node, inputs: DimensionInputs) -> pd.DataFrame | None:
    parts = [inputs.exports_by_product[c] for c in node.hs_codes if c in inputs.exports_by_product]
    return pd.concat(parts, ignore_index=True) if parts else None


_Result = tuple[float | None, dict, _Driver | None]


@dataclass
class _IndicatorCall:
    """A node's dimension waiting for one vectorised indicator call on its frames.

    The indicators take long tables with group keys, so a partition's nodes share
    one call (each node's frames carry its ``token`` as the group key): their fixed
    pandas cost, ~10 ms a call, was most of the time when paid once per node.
    ``finish`` turns the node's rows of the indicator's table into the result.
    """

    kind: str
    token: str
    frames: tuple[pd.DataFrame, ...]
    finish: Callable[[pd.DataFrame], _Result]
    residual_partners: tuple[str, ...] = ()
    risk: dict[str, float] = field(default_factory=dict)
    """Partner -> governance risk (partner risk only; the same dict for every node of a partition)."""
    bloc: tuple[str, ...] = ()
    """Partners inside the home economy's bloc (dependence only; the same for every node of a partition)."""


#: kind -> (the group-key column that holds the node's token, the indicator on the concatenated frames)
_INDICATORS: dict[str, tuple[str, Callable[..., pd.DataFrame]]] = {
    "dependence": ("product", lambda calls, imports, exports: strategic_dependency_test(
        imports, exports, bloc=calls[0].bloc, keys=("reporter", "product", "hs", "period"),
        residual_partners=(DEFAULT_RESIDUAL,), freq="Y")),
    "partner_risk": ("node", lambda calls, frame: governance_weighted_concentration(
        frame, calls[0].risk, keys=("node",),
        residual_partners=sorted({p for call in calls for p in call.residual_partners}))),
    "value": ("node", lambda calls, flows: unit_value_table(flows, keys=("node", "reporter", "product"))),
}


#: Dimensions whose indicator calls are batched. Not the unit-value table: its pandas
#: groupby sums can differ in the last bit between a one-group and a many-group call
#: (seen on the demo data), and results must not depend on which nodes share a partition.
_BATCHED = ("dependence", "partner_risk")


def _resolved(result: _Result | _IndicatorCall) -> _Result:
    return _run_batch([result])[0] if isinstance(result, _IndicatorCall) else result


def _run_batch(calls: list[_IndicatorCall]) -> list[_Result]:
    """One indicator call for ``calls`` (all of one kind, distinct tokens); each node's result, in order."""
    key, indicator = _INDICATORS[calls[0].kind]
    frames = [pd.concat([call.frames[i] for call in calls], ignore_index=True) if len(calls) > 1
              else calls[0].frames[i] for i in range(len(calls[0].frames))]
    table = indicator(calls, *frames)
    rows = {token: group.reset_index(drop=True) for token, group in table.groupby(key, sort=False)}
    return [call.finish(rows.get(call.token, table.iloc[0:0])) for call in calls]


def measure_dependence(imports: pd.DataFrame, exports: pd.DataFrame | None, exports_collected: bool,
                       as_of: date, months: int, anchors,
                       bloc: Sequence[str] | None = None) -> tuple[float | None, dict, _Driver | None]:
    """Import dependence of one node: net-import ratio of its HS codes over the window.

    ``imports``/``exports``: the node's flows (all HS codes, history up to ``as_of``;
    exports may be None when none is stored). Per HS code and month each flow is the
    World row where the source gives one, else the sum of the partner rows
    (:mod:`indicators.trade_totals`); ``imports_basis``/``exports_basis`` say which. Where
    the two flows are on different bases the partner sum is a lower bound, and
    ``net_import_ratio_is`` says which bound the ratio is. Missing when exports of the
    home economy are not collected at all (then a zero cannot be told from unknown) or
    the node has no trade in the window. The EU strategic-dependency test
    (:func:`indicators.dependence.strategic_dependency_test`, SWD(2021) 352) runs per HS6
    product on the last three 12-month years ending at ``as_of`` with CEPII GeoDep's
    persistence rule; ``bloc``: partners inside the home's bloc (None or empty: no bloc).
    """
    return _resolved(_dependence(_in_window(imports, as_of, months),
                                 None if exports is None else _in_window(exports, as_of, months),
                                 exports_collected, months, anchors, history=imports, export_history=exports,
                                 as_of=as_of, bloc=bloc))


_EU_YEARS = DependencyThresholds().window  # 12-month years the EU test looks at (persistence window)
PERSISTENCE_MIN = DependencyThresholds().min_periods


def home_bloc(setting: Sequence[str] | None, home: str | None) -> tuple[str, ...]:
    """The home economy's bloc: the configured partners, else the EU members for an ``EU27`` home, else none."""
    if setting is not None:
        return tuple(str(p).strip().upper() for p in setting)
    return tuple(sorted(EU27_MEMBERS)) if str(home or "").strip().upper() == "EU27" else ()


def _is_unspecified(partner: pd.Series) -> pd.Series:
    return partner.astype(str).str.strip().str.upper().isin(UNSPECIFIED_AREAS)


_EXPORT_CODES = frozenset({"X", "EXPORT", "EXPORTS"})


def _flow_totals(flows: pd.DataFrame | None) -> pd.DataFrame:
    """Per (product, period): ``total`` (the World row where given, else the partner sum),
    ``named`` (single partners only) and ``basis`` (``world_total`` | ``partner_sum``)."""
    columns = ["product", "period", "total", "named", "basis"]
    if flows is None or flows.empty:
        return pd.DataFrame(columns=columns)
    is_world, is_overlapping = partner_kinds(flows["partner"])
    unallocated = on_distinct(flows["partner"], _is_unspecified)
    value = flows["value"].to_numpy(dtype="float64")
    single = ~is_world & ~is_overlapping
    frame = flows[["product", "period"]].assign(
        _world=np.where(is_world, value, 0.0), _has_world=is_world, _partners=np.where(single, value, 0.0),
        named=np.where(single & ~unallocated, value, 0.0))
    g = frame.groupby(["product", "period"], sort=True).agg(
        _world=("_world", "sum"), _has_world=("_has_world", "any"), _partners=("_partners", "sum"),
        named=("named", "sum")).reset_index()
    g["total"] = np.where(g["_has_world"], g["_world"], g["_partners"])
    g["basis"] = np.where(g["_has_world"], "world_total", "partner_sum")
    return g[columns]


def _basis(cells: pd.DataFrame) -> str | None:
    kinds = set(cells["basis"]) if len(cells) else set()
    return None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"


def _bound(imports_basis: str | None, exports_basis: str | None) -> str:
    """What a ratio of the two flows is: ``exact`` on the same basis (or a flow without rows, i.e. 0),
    else the flow that is not a World total is a lower bound."""
    if imports_basis == exports_basis or imports_basis is None or exports_basis is None:
        return "exact"
    if imports_basis == "world_total":
        return "upper_bound"  # exports (the denominator's growing part) are a lower bound
    if exports_basis == "world_total":
        return "lower_bound"
    return "undetermined"


_BASIS_EN = {"world_total": "World totals", "partner_sum": "sums over the partners reported",
             "mixed": "World totals in some months and partner sums in others"}


def _year_of(periods: pd.Series, as_of: date) -> np.ndarray:
    """0 for the 12 months ending at ``as_of``, 1 for the 12 before, ..."""
    p = pd.DatetimeIndex(periods)
    back = (as_of.year * 12 + as_of.month) - (p.year * 12 + p.month)
    return np.asarray(back // 12)


def _dependence(recent: pd.DataFrame, exports: pd.DataFrame | None, exports_collected: bool, months: int,
                anchors, token: str = "node", *, history: pd.DataFrame | None = None,
                export_history: pd.DataFrame | None = None, as_of: date | None = None,
                bloc: Sequence[str] | None = None) -> _Result | _IndicatorCall:
    """:func:`measure_dependence` on flows already cut to the window (``history``: uncut, for the EU test)."""
    if not exports_collected:
        return _missing("no export flows of the home economy are stored for the window, so exports are unknown")
    imp, exp = _flow_totals(recent), _flow_totals(exports)
    m, x = float(imp["total"].sum()), float(exp["total"].sum())
    if m + x <= 0:
        return _missing(f"no imports or exports of the node's HS codes in the last {months} months")
    ratio = float(net_import_ratio(m, x))
    score = float(import_dependence_score(ratio, anchors))
    m_basis, x_basis = _basis(imp), _basis(exp)
    bound = _bound(m_basis, x_basis)
    details = {"window_months": months, "imports": m, "exports": x, "imports_basis": m_basis,
               "exports_basis": x_basis, "net_import_ratio": ratio, "net_import_ratio_is": bound,
               "import_export_ratio": None if x == 0 else m / x}
    if bound == "exact":
        basis_en = basis_zh = ""
    else:
        which = {"upper_bound": ("at most", "上限"), "lower_bound": ("at least", "下限"),
                 "undetermined": ("of unknown direction", "方向未知")}[bound]
        basis_en = (f"; imports are {_BASIS_EN.get(m_basis, 'none')}, exports {_BASIS_EN.get(x_basis, 'none')}: "
                    f"a partner sum is a lower bound, so the ratio is a bound ({which[0]} {ratio:+.2f})")
        basis_zh = f"；进出口口径不同（伙伴合计为下限），该比值为{which[1]}"

    years = _eu_years(history if history is not None else recent,
                      export_history if export_history is not None else exports, as_of, token)

    def finish(test: pd.DataFrame | None) -> _Result:
        eu = _eu_summary(test, years, bloc)
        details["eu_strategic_dependency"] = eu["status"]
        details["eu_test"] = eu
        if x > 0:
            times_en, times_zh = f"imports {m / x:.1f}× exports", f"进口额为出口额的 {m / x:.1f} 倍"
        else:
            times_en, times_zh = "imports and no exports", "只有进口、没有出口"
        return score, details, (
            score,
            f"import dependence: {times_en} of the same HS codes in the last {months} months "
            f"(net-import ratio {ratio:+.2f}){basis_en}{eu['driver_en']}",
            f"进口依赖：近{months}个月同类商品{times_zh}（净进口比 {ratio:+.2f}）{basis_zh}{eu['driver_zh']}",
        )

    if years is None or years["imports"].empty:
        return finish(None)
    return _IndicatorCall("dependence", token, (years["imports"], years["exports"]), finish,
                          residual_partners=(DEFAULT_RESIDUAL,), bloc=tuple(bloc or ()))


def _is_hs6(code: object) -> bool:
    text = str(code).strip()
    return len(text) == 6 and text.isdigit()


def _eu_years(history: pd.DataFrame, exports: pd.DataFrame | None, as_of: date | None, token: str) -> dict | None:
    """The EU test's inputs: per HS6 product and 12-month year, imports by partner (the
    unallocated remainder of the total as one residual partner) and total exports."""
    if as_of is None or history is None or history.empty:
        return None
    products = sorted({str(p) for p in history["product"].unique()} | (
        set() if exports is None or exports.empty else {str(p) for p in exports["product"].unique()}))
    hs6 = [p for p in products if _is_hs6(p)]
    first = pd.Timestamp(history["period"].min())
    observed = [k for k in range(_EU_YEARS)
                if first <= pd.Timestamp(as_of) - pd.DateOffset(months=12 * k + 11)]
    out = {"hs6": hs6, "not_hs6": [p for p in products if not _is_hs6(p)], "observed": observed,
           "as_of": as_of, "imports": pd.DataFrame(), "exports": pd.DataFrame(), "bases": {}}
    if not hs6:
        return out
    flows = history[on_distinct(history["product"], lambda p: p.astype(str).isin(hs6))]
    flows = flows[flows["period"] <= pd.Timestamp(as_of)]
    flows = flows.assign(_year=_year_of(flows["period"], as_of))
    flows = flows[flows["_year"] < _EU_YEARS]
    if flows.empty:
        return out
    reporter = str(flows["reporter"].iloc[0])
    totals = _flow_totals(flows)
    totals["_year"] = _year_of(totals["period"], as_of)
    totals["residual"] = (totals["total"] - totals["named"]).clip(lower=0.0)
    is_world, is_overlapping = partner_kinds(flows["partner"])
    single = flows[~is_world & ~is_overlapping
                   & ~on_distinct(flows["partner"], _is_unspecified)]
    named = single.groupby(["product", "_year", "partner"], as_index=False)["value"].sum()
    rest = totals.groupby(["product", "_year"], as_index=False)["residual"].sum().rename(
        columns={"residual": "value"}).assign(partner=DEFAULT_RESIDUAL)
    rows = pd.concat([named, rest[rest["value"] > 0]], ignore_index=True)
    year_label = as_of.year - rows["_year"].astype(int)
    out["imports"] = pd.DataFrame({"reporter": reporter, "product": token, "hs": rows["product"].astype(str),
                                   "period": year_label, "partner": rows["partner"].astype(str),
                                   "value": rows["value"].astype(float)})
    xt = _flow_totals(None if exports is None else
                      exports[on_distinct(exports["product"], lambda p: p.astype(str).isin(hs6))])
    if len(xt):
        xt["_year"] = _year_of(xt["period"], as_of)
        xt = xt[(xt["_year"] >= 0) & (xt["_year"] < _EU_YEARS)]
    xsum = xt.groupby(["product", "_year"], as_index=False)["total"].sum() if len(xt) else xt
    out["exports"] = pd.DataFrame({"reporter": reporter, "product": token,
                                   "hs": xsum["product"].astype(str) if len(xsum) else [],
                                   "period": (as_of.year - xsum["_year"].astype(int)) if len(xsum) else [],
                                   "value": xsum["total"].astype(float) if len(xsum) else []})
    for (product, year), cells in totals.groupby(["product", "_year"]):
        out["bases"][(str(product), as_of.year - int(year))] = [_basis(cells), None]
    for (product, year), cells in (xt.groupby(["product", "_year"]) if len(xt) else []):
        out["bases"].setdefault((str(product), as_of.year - int(year)), [None, None])[1] = _basis(cells)
    return out


_C3_LABEL = ("imports/exports > 1", "进口/出口 > 1")


def _eu_summary(test: pd.DataFrame | None, years: dict | None, bloc: Sequence[str] | None) -> dict:
    """Per HS6 product: the criteria of the latest year, the years dependent and persistence;
    the node's status and the driver clause (which names exactly the criteria met)."""
    summary = {"method": "EU SWD(2021) 352 criteria per HS6 product and 12-month year; persistence: "
                         f"{PERSISTENCE_MIN} of the last {_EU_YEARS} years (CEPII GeoDep)",
               "bloc": sorted(bloc) if bloc else None, "products": {}, "not_applicable": {},
               "dependent_products": [], "status": NOT_APPLICABLE, "driver_en": "", "driver_zh": ""}
    if years is None:
        summary["not_applicable"]["node"] = "no imports stored"
        return summary
    for code in years["not_hs6"]:
        summary["not_applicable"][code] = "the test is defined on HS6 subheadings; this code is not one"
    if not years["hs6"]:
        return summary
    as_of = years["as_of"]
    latest = as_of.year
    by_hs = {} if test is None or test.empty else {str(h): g.set_index("period") for h, g in test.groupby("hs")}
    statuses = []
    for hs in years["hs6"]:
        rows = by_hs.get(hs)
        per_year = {}
        for k in range(_EU_YEARS):
            label = latest - k
            if k not in years["observed"]:
                per_year[label] = (UNKNOWN, None)
                continue
            if rows is None or label not in rows.index:
                per_year[label] = (NOT_DEPENDENT, None)  # no imports that year
                continue
            row = rows.loc[label]
            c = {name: row[name] for name in ("c1_concentration", "c2_extra_share", "c3_imports_over_exports")}
            m_basis, x_basis = years["bases"].get((hs, label), [None, None])
            bound = _bound(m_basis, x_basis)
            # imports over exports on different bases: the computed ratio is only a bound
            if (bound == "upper_bound" and c["c3_imports_over_exports"] == MET) or (
                    bound == "lower_bound" and c["c3_imports_over_exports"] == NOT_MET) or (
                    bound == "undetermined" and c["c3_imports_over_exports"] != NOT_APPLICABLE):
                c["c3_imports_over_exports"] = UNKNOWN
            status = combine_criteria(*(np.array([v], dtype=object) for v in c.values()))[0]
            per_year[label] = (status, {**c, "row": row, "imports_basis": m_basis, "exports_basis": x_basis,
                                        "ratio_is": bound})
        dependent = sum(s == DEPENDENT for s, _ in per_year.values())
        unknown = sum(s == UNKNOWN for s, _ in per_year.values())
        persistence = persistence_status(np.array([dependent]), np.array([unknown]), PERSISTENCE_MIN)[0]
        status, info = per_year[latest]
        record = {"year": f"{(pd.Timestamp(as_of) - pd.DateOffset(months=11)):%Y-%m}..{as_of:%Y-%m}",
                  "status": status, "years_dependent": dependent, "years_unknown": unknown,
                  "persistence": persistence,
                  "years": {str(y): s for y, (s, _) in per_year.items()}}
        if info is not None:
            row = info["row"]
            record.update({
                "imports_basis": info["imports_basis"], "exports_basis": info["exports_basis"],
                "criteria": {"c1_concentration": info["c1_concentration"],
                             "c2_extra_share": info["c2_extra_share"],
                             "c3_imports_over_exports": info["c3_imports_over_exports"]},
                "criteria_met": [c for c in CRITERIA if info[c] == MET],
                "hhi_lower": _num(row["hhi"]), "hhi_upper": _num(row["hhi_upper"]),
                "unallocated_share": _num(row["unallocated_share"]), "top_partner": _str(row["top_partner"]),
                "extra_share": None if info["c2_extra_share"] == NOT_APPLICABLE else _num(row["extra_share"]),
                "import_export_ratio": _num(row["import_export_ratio"])})
        else:
            record["criteria_met"] = []
        summary["products"][hs] = record
        statuses.append(persistence)
    dependent_products = [hs for hs, r in summary["products"].items() if r["persistence"] == MET]
    summary["dependent_products"] = dependent_products
    summary["status"] = MET if dependent_products else UNKNOWN if UNKNOWN in statuses else NOT_MET
    if dependent_products:
        parts_en, parts_zh = [], []
        for hs in dependent_products:
            r = summary["products"][hs]
            met = [CRITERIA[c] for c in r["criteria_met"]]
            met_en = ", ".join(en for en, _ in met) or "none"
            met_zh = "、".join(zh for _, zh in met) or "无"
            na = r.get("criteria", {}).get("c2_extra_share") == NOT_APPLICABLE
            parts_en.append(f"{hs} (dependent in {r['years_dependent']} of the last {_EU_YEARS} years; "
                            f"latest year meets {met_en}" + ("; extra-bloc share not applicable: no bloc" if na else "")
                            + ")")
            parts_zh.append(f"{hs}（近{_EU_YEARS}年中{r['years_dependent']}年满足；最近一年满足{met_zh}"
                            + ("；无经济集团，区外进口占比不适用" if na else "") + "）")
        summary["driver_en"] = "; EU strategic-dependency test (SWD(2021) 352) met for " + ", ".join(parts_en)
        summary["driver_zh"] = "；符合欧盟战略依赖判定（SWD(2021) 352）的产品：" + "，".join(parts_zh)
    elif summary["status"] == UNKNOWN:
        undecided = [hs for hs, r in summary["products"].items() if r["persistence"] == UNKNOWN]
        summary["driver_en"] = (f"; EU strategic-dependency test undecided for {', '.join(undecided)} "
                                "(partial partner coverage, different bases or under three years of data)")
        summary["driver_zh"] = f"；欧盟战略依赖判定无法确定：{'、'.join(undecided)}（来源覆盖不全、口径不同或数据不足三年）"
    return summary


def _num(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else (f if f == math.inf else None)


def _str(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def measure_partner_risk(imports: pd.DataFrame, scores: dict[str, PartnerScore], as_of: date, months: int,
                         reference_score: float, min_coverage: float,
                         anchors) -> tuple[float | None, dict, _Driver | None]:
    """Partner risk of one node: governance-weighted concentration of its imports.

    Partners without a score count in the total but add nothing (a lower bound, see
    :func:`indicators.supply_risk.governance_weighted_concentration`); when they hold
    more than ``1 - min_coverage`` of the window's imports the dimension is missing.
    """
    return _resolved(_partner_risk(_in_window(imports, as_of, months), scores, months, reference_score,
                                   min_coverage, anchors))


def _partner_risk(recent: pd.DataFrame, scores: dict[str, PartnerScore], months: int, reference_score: float,
                  min_coverage: float, anchors, token: str = "node",
                  recent_total: float | None = None) -> _Result | _IndicatorCall:
    """:func:`measure_partner_risk` on flows already cut to the window (``recent_total``: their
    :func:`~indicators.trade_totals.monthly_totals` summed, where the caller has them)."""
    named = recent[~on_distinct(recent["partner"], lambda p: p.astype(str).str.upper().isin(AGGREGATE_PARTNERS))]
    by_partner = named.groupby("partner")["value"].sum()
    # The World total where the source gives one: what no named partner accounts for is
    # an unscored remainder (it lowers coverage), never left out of the denominator.
    if recent_total is None and len(recent):
        recent_total = float(monthly_totals(recent).sum())
    unallocated = max(recent_total - float(by_partner.sum()), 0.0) if len(recent) else 0.0
    if unallocated > 0:
        by_partner = pd.concat([by_partner, pd.Series({UNALLOCATED: unallocated})])
    total = float(by_partner.sum())
    if total <= 0:
        return _missing(f"no imports of the node's HS codes in the last {months} months")
    scored = by_partner[[p in scores for p in by_partner.index]]
    coverage = float(scored.sum() / total)
    unscored = sorted(by_partner.index.difference(scored.index), key=lambda p: -by_partner[p])
    if coverage < min_coverage:
        return None, {"missing": f"partner scores cover {coverage:.0%} of imports (< {min_coverage:.0%})",
                      "coverage": coverage, "partners_without_score": [str(p) for p in unscored[:10]]}, None

    def finish(table: pd.DataFrame) -> _Result:
        row = table.iloc[0]
        relative = float(relative_weighted_hhi(float(row["hhi_weighted"]), reference_score))
        score = float(partner_risk_score(relative, anchors))
        shares = by_partner / total
        weight = {p: shares[p] ** 2 * scores[p].risk for p in scored.index}
        worst = max(weight, key=lambda p: (weight[p], p))
        details = {"window_months": months, "relative_weighted_hhi": relative,
                   "hhi_weighted": float(row["hhi_weighted"]), "hhi": float(row["hhi"]), "coverage": coverage,
                   "reference_score": reference_score, "main_risk_partner": str(worst),
                   "main_risk_partner_share": float(shares[worst]), "main_risk_partner_score": scores[worst].risk,
                   "score_period": max(s.period for p, s in scores.items() if p in scored.index).isoformat()}
        return score, details, (
            score,
            f"partner risk: governance-weighted HHI {relative:.2f} against plain HHI {float(row['hhi']):.2f} "
            f"(largest contribution {country_name_en(worst)} {shares[worst]:.0%} of imports, governance risk "
            f"{scores[worst].risk:.1f}/10; scores cover {coverage:.0%})",
            f"来源国风险：治理加权 HHI {relative:.2f}（普通 HHI {float(row['hhi']):.2f}）；"
            f"主要风险来源 {country_name_zh(worst)} 占进口 {shares[worst]:.0%}，治理风险 {scores[worst].risk:.1f}/10"
            f"（评分覆盖 {coverage:.0%} 的进口）",
        )

    frame = pd.DataFrame({"node": token, "partner": by_partner.index.astype(str), "value": by_partner.to_numpy()})
    return _IndicatorCall("partner_risk", token, (frame,), finish,
                          residual_partners=tuple(str(p) for p in unscored),
                          risk={p: s.risk for p, s in scores.items()})


def measure_logistics(series_id: str, values: pd.Series | None, as_of: date, max_age_months: int,
                      anchors) -> tuple[float | None, dict, _Driver | None]:
    """Logistics pressure: the index's latest value, at most ``max_age_months`` before ``as_of``."""
    end = pd.Timestamp(as_of)
    usable = None if values is None else values[values.index <= end].dropna()
    if usable is None or usable.empty:
        return _missing(f"no value of {series_id} up to {end:%Y-%m}")
    period = usable.index.max()
    if period < end - pd.DateOffset(months=max_age_months):
        return None, {"missing": f"latest value of {series_id} is from {period:%Y-%m}, older than "
                                 f"{max_age_months} months", "series_id": series_id}, None
    value = float(usable.loc[period])
    score = float(logistics_pressure_score(value, anchors))
    details = {"series_id": series_id, "period": f"{period:%Y-%m}", "pressure_sd": value}
    return score, details, (
        score,
        f"logistics pressure: {series_id} at {value:+.2f} standard deviations from its average in {period:%Y-%m}",
        f"物流压力：{series_id} 在 {period:%Y-%m} 偏离均值 {value:+.2f} 个标准差",
    )


def measure_value(imports: pd.DataFrame, exports: pd.DataFrame | None, as_of: date, months: int,
                  min_coverage: float, anchors) -> tuple[float | None, dict, _Driver | None]:
    """Value: export/import unit-value ratio of the node's HS codes over the window.

    Per HS code :math:`RUV_k = UV^X_k / UV^M_k`
    (:func:`indicators.unit_values.unit_value_table`); per HS code, flow and month the
    World row where given, else the partner rows, never both (``_same_basis``); the
    bases are in ``details["bases"]``, and codes whose two flows differ in basis are
    named in details and driver; codes where
    either direction reports quantities for less than ``min_coverage`` of its value
    are left out. The node's ratio is the import-value-weighted geometric mean
    :math:`\\exp(\\sum_k w_k \\ln RUV_k / \\sum_k w_k)` (a ratio of prices averages in
    logs, so 0.5 and 2 cancel).
    """
    return _resolved(_value(_in_window(imports, as_of, months),
                            None if exports is None else _in_window(exports, as_of, months),
                            months, min_coverage, anchors))


def _value(recent: pd.DataFrame, exports: pd.DataFrame | None, months: int, min_coverage: float, anchors,
           token: str = "node") -> _Result | _IndicatorCall:
    """:func:`measure_value` on flows already cut to the window."""
    if exports is None:
        return _missing("no exports of the node's HS codes are stored")
    both = pd.concat([recent, exports], ignore_index=True)
    if both.empty:
        return _missing(f"no trade of the node's HS codes in the last {months} months")
    both, bases, different = _same_basis(both)

    def finish(table: pd.DataFrame) -> _Result:
        ratio = table["unit_value_ratio"].to_numpy(dtype="float64")
        usable = (np.isfinite(ratio) & (ratio > 0)
                  & (table["import_coverage"].to_numpy(dtype="float64") >= min_coverage)
                  & (table["export_coverage"].to_numpy(dtype="float64") >= min_coverage))
        if not usable.any():
            return None, {"missing": "no HS code of the node has import and export quantities (unit values unknown)",
                          "bases": bases, "products_on_different_bases": different}, None
        weights = table["import_value"].to_numpy(dtype="float64")[usable]
        logs = np.log(ratio[usable])
        node_ratio = (float(np.exp(np.average(logs, weights=weights))) if weights.sum() > 0
                      else float(np.exp(logs.mean())))
        score = float(unit_value_gap_score(node_ratio, anchors))
        details = {"window_months": months, "unit_value_ratio": node_ratio,
                   "products": {str(p): float(r) for p, r in zip(table["product"][usable], ratio[usable])},
                   "products_without_quantities": [str(p) for p in table["product"][~usable]],
                   "bases": bases, "products_on_different_bases": different}
        if math.isfinite(node_ratio) and node_ratio < 1:
            gap_en, gap_zh = (f"exports fetch {node_ratio:.0%} of the import unit value",
                              f"出口单价仅为进口单价的 {node_ratio:.0%}")
        else:
            gap_en, gap_zh = (f"exports fetch {node_ratio:.2f}× the import unit value",
                              f"出口单价为进口单价的 {node_ratio:.2f} 倍")
        used = [p for p in different if p in details["products"]]
        caveat_en = caveat_zh = ""
        if used:
            caveat_en = (f"; for {', '.join(used)} one flow is a World total and the other a sum over the "
                         "partners reported, so the unit values cover different partners")
            caveat_zh = f"；{'、'.join(used)}的进出口口径不同（一方为世界总额，另一方为伙伴合计）"
        return score, details, (
            score,
            f"value gap: {gap_en} of the same HS codes in the last {months} months "
            f"(export/import unit-value ratio {node_ratio:.2f}; below 0.85 = low end){caveat_en}",
            f"价值差距：近{months}个月同类商品{gap_zh}（出口/进口单价比 {node_ratio:.2f}，低于 0.85 为低端）{caveat_zh}",
        )

    return _IndicatorCall("value", token, (both.drop(columns=["partner"]).assign(node=token),), finish)


def _same_basis(flows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, str | None]], list[str]]:
    """Rows for unit values: per HS code, flow and month the World rows where the source
    gives one, else the partner rows (never both: that would count the value twice).

    Returns the rows, HS code -> {"imports": basis, "exports": basis} (``world_total``,
    ``partner_sum`` or ``mixed``; None without rows) and the codes whose two flows are on
    different bases: their unit values average over different partner coverage, which
    details and the driver say.
    """
    is_world, is_overlapping = partner_kinds(flows["partner"])
    exported = on_distinct(flows["flow"], lambda f: f.astype(str).str.strip().str.upper().isin(_EXPORT_CODES))
    frame = flows.assign(_world=is_world, _flow=np.where(exported, "X", "M"))
    frame = frame[~is_overlapping]
    has_world = frame.groupby(["product", "_flow", "period"])["_world"].transform("any").to_numpy()
    kept = frame[np.where(has_world, frame["_world"].to_numpy(), ~frame["_world"].to_numpy())]
    bases, different = {}, []
    for product, rows in kept.groupby("product", sort=True):
        per = {}
        for name, code in (("imports", "M"), ("exports", "X")):
            months = rows[rows["_flow"] == code].groupby("period")["_world"].any()
            per[name] = (None if months.empty else "world_total" if months.all()
                         else "partner_sum" if not months.any() else "mixed")
        bases[str(product)] = per
        if per["imports"] and per["exports"] and per["imports"] != per["exports"]:
            different.append(str(product))
    return kept.drop(columns=["_world", "_flow"]), bases, different


def measure_dimensions(chain_id: str, node: Node, imports: pd.DataFrame, inputs: DimensionInputs | None,
                       as_of: date | None, settings: AssessmentSettings, home: str = "") -> DimensionMeasurement:
    """Every enabled exposure dimension of one node.

    ``imports``: the node's import flows (``reporter, partner, product, flow, period,
    value, quantity``); ``inputs``: the partition's :class:`DimensionInputs`;
    ``as_of``: the assessment's month (None: nothing stored yet, every dimension missing).
    For many nodes, :func:`measure_partition_dimensions` gives the same results faster.
    """
    return measure_partition_dimensions(chain_id, [node], {node.id: imports}, inputs, as_of, settings,
                                        home)[node.id]


def measure_partition_dimensions(chain_id: str, nodes: Sequence[Node], imports: Mapping[str, pd.DataFrame],
                                 inputs: DimensionInputs | None, as_of: date | None,
                                 settings: AssessmentSettings, home: str = "",
                                 import_totals: Mapping[str, pd.Series] | None = None,
                                 ) -> dict[str, DimensionMeasurement]:
    """Every enabled exposure dimension of each of a partition's nodes (node id -> measurement).

    The same as :func:`measure_dimensions` node by node, but each indicator (the EU
    strategic-dependency test, the governance-weighted HHI, the unit-value table) runs
    once on all the nodes' groups rather than once per node. ``imports``: node id ->
    its import flows; ``import_totals``: node id -> ``monthly_totals`` of them, where the
    caller has computed them (the window's part is the same sums as the window's rows would
    give: each month's total is made of that month's rows only).
    """
    config = settings.dimensions
    months = settings.window_months
    inputs = inputs or DimensionInputs()
    results: dict[str, dict[str, _Result | _IndicatorCall]] = {}
    no_data = _missing("no trade data stored yet (a comtrade, comext, census or file trade source fills it: "
                       "docs/sources.md)")
    for index, node in enumerate(nodes):
        token = f"node-{index}"  # the node's group key in the batched indicator calls
        exports = _node_exports(node, inputs)
        frame = imports[node.id]
        if as_of is not None:  # every dimension looks at the same window: cut it once
            frame = _in_window(frame, as_of, months)
            exports = None if exports is None else _in_window(exports, as_of, months)
        measured: dict[str, _Result | _IndicatorCall] = {}
        if config.dependence.enabled:
            full = imports[node.id]
            bloc = home_bloc(config.dependence.bloc, str(full["reporter"].iloc[0]) if len(full) else None)
            measured["dependence"] = no_data if as_of is None else _dependence(
                frame, exports, inputs.exports_collected, months, config.dependence.anchors, token,
                history=full, export_history=_node_exports(node, inputs), as_of=as_of, bloc=bloc)
        if config.partner_risk.enabled:
            pr = config.partner_risk
            totals = None if import_totals is None else import_totals.get(node.id)
            measured["partner_risk"] = no_data if as_of is None else _partner_risk(
                frame, inputs.partner_scores, months, pr.reference_score, pr.min_coverage, pr.anchors, token,
                recent_total=None if totals is None else float(totals.loc[slice(*_window(as_of, months))].sum()))
        if config.logistics.enabled and config.logistics.series:
            sid = config.logistics.series.format(chain=chain_id, node=node.id)
            measured["logistics"] = no_data if as_of is None else measure_logistics(
                sid, inputs.logistics.get(sid), as_of, config.logistics.max_age_months, config.logistics.anchors)
        if config.value.enabled:
            measured["value"] = no_data if as_of is None else _value(
                frame, exports, months, config.value.min_coverage, config.value.anchors, token)
        if config.world_supply.enabled and node.world_supply:
            # World output does not wait for trade data: measured whatever the trade month.
            measured["world_supply"] = measure_world_supply(
                node, inputs.world_supply, home, as_of, config.world_supply.max_age_years,
                settings.min_partner_coverage, inputs.world_supply_missing)
        results[node.id] = measured
    for name in _BATCHED:
        pending = [(node_id, measured[name]) for node_id, measured in results.items()
                   if isinstance(measured.get(name), _IndicatorCall)]
        if pending:
            for (node_id, _), result in zip(pending, _run_batch([call for _, call in pending])):
                results[node_id][name] = result
    out = {}
    for node_id, measured in results.items():
        measurement = out[node_id] = DimensionMeasurement()
        for name, result in measured.items():
            score, details, driver = _resolved(result)
            measurement.dimensions[name] = score
            measurement.details[name] = details
            if driver is not None:
                measurement.ranked_drivers.append(driver)
        measurement.ranked_drivers.sort(key=lambda item: -item[0])
    return out
