"""Where trade flows came from: the reporter's own figures, or partner-reported (mirror) stand-ins.

Flows read with ``load_trade_flows(..., with_provenance=True)`` carry a ``provenance``
column (:data:`~monitor.records.MIRROR` or ``REPORTED``). A figure built partly
from mirror data is a different kind of evidence (the partner's valuation, another
customs' timing), so wherever flows are summarised for people — the report, the stored
concentration details behind the API, a finding's explanation — the mirror part is
shown. Likewise for estimates: flows carrying ``estimate_flags`` (Comtrade
``isReported: false``, Eurostat ``p``/``e``, a file's flag; docs/provenance.md) or
standing in as mirror rows are estimates, and :func:`estimate_summary` /
:func:`with_estimate_note` make their share visible. Pure functions on frames; no I/O.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from indicators.disruption import DetectionResult
from monitor.config.countries import country_name_en, country_name_zh
from monitor.records import ESTIMATE_FLAGS, ESTIMATE_KINDS, MIRROR, VALUE_ESTIMATE_KINDS, estimate_kinds


def mirror_rows(flows: pd.DataFrame) -> pd.DataFrame:
    """The mirror rows of ``flows`` (none when the frame has no ``provenance`` column)."""
    if "provenance" not in flows:
        return flows.iloc[0:0]
    return flows[flows["provenance"] == MIRROR]


def mirror_summary(flows: pd.DataFrame) -> dict:
    """``mirror_share`` (0-1 of the flows' value), ``mirror_periods`` (``YYYY-MM``) and ``mirror_partners``."""
    mirror = mirror_rows(flows)
    total = float(flows["value"].sum()) if len(flows) else 0.0
    return {
        "mirror_share": round(float(mirror["value"].sum()) / total, 4) if total > 0 else 0.0,
        "mirror_periods": sorted({f"{t.year}-{t.month:02d}" for t in pd.to_datetime(mirror["period"])}),
        "mirror_partners": sorted({str(p) for p in mirror["partner"]}),
    }


def with_mirror_note(result: DetectionResult, flows: pd.DataFrame) -> DetectionResult:
    """``result`` with its explanation noting the mirror share of its judged month, if any."""
    month = flows[pd.to_datetime(flows["period"]) == pd.Timestamp(result.period)] if len(flows) else flows
    summary = mirror_summary(month)
    if not summary["mirror_share"]:
        return result
    share, codes = summary["mirror_share"], summary["mirror_partners"]
    return dataclasses.replace(
        result,
        explanation_en=f"{result.explanation_en} ({share:.0%} of this month's value is partner-reported "
                       f"mirror data: {', '.join(map(country_name_en, codes))})",
        explanation_zh=f"{result.explanation_zh}（本月 {share:.0%} 为伙伴国申报的镜像数据：{'、'.join(map(country_name_zh, codes))}）",
    )


_KIND_ZH = {"not_reported": "非申报方数据", "estimated": "估计值", "provisional": "初步数据",
            "netwgt_estimated": "净重为估计", "qty_estimated": "数量为估计", "altqty_estimated": "替代数量为估计",
            "confidential": "含保密数据", "mirror": "镜像数据", "other": "其他标记"}


def _row_kinds(flows: pd.DataFrame) -> list[tuple[str, ...]]:
    """Each row's estimate kinds: its stored flags, plus ``mirror`` for a mirror row."""
    flags = flows[ESTIMATE_FLAGS] if ESTIMATE_FLAGS in flows else pd.Series([None] * len(flows), index=flows.index)
    mirror = (flows["provenance"] == MIRROR) if "provenance" in flows else pd.Series(False, index=flows.index)
    return [(*estimate_kinds(f), *(("mirror",) if m else ())) for f, m in zip(flags, mirror)]


def estimate_summary(flows: pd.DataFrame) -> dict:
    """How much of ``flows`` is an estimate rather than a reported figure.

    Returns ``estimated_share`` (0-1 of the flows' value whose *value* is an estimate,
    imputed, provisional, confidential-partial or mirrored: see
    :data:`~monitor.records.VALUE_ESTIMATE_KINDS`; weight/quantity-only flags
    do not count), ``estimated_periods`` (``YYYY-MM`` of those rows) and
    ``estimate_kinds`` (every kind met, quantity kinds included, in canonical order).
    Flows without ``estimate_flags`` or ``provenance`` columns count as reported.
    """
    if not len(flows):
        return {"estimated_share": 0.0, "estimated_periods": [], "estimate_kinds": []}
    kinds = _row_kinds(flows)
    estimated = [bool(VALUE_ESTIMATE_KINDS.intersection(k)) for k in kinds]
    values = flows["value"].astype(float)
    total = float(values.sum())
    rows = flows[estimated]
    met = {k for row in kinds for k in row}
    return {
        "estimated_share": round(float(values[estimated].sum()) / total, 4) if total > 0 else 0.0,
        "estimated_periods": sorted({f"{t.year}-{t.month:02d}" for t in pd.to_datetime(rows["period"])}),
        "estimate_kinds": [k for k in ESTIMATE_KINDS if k in met],
    }


def with_estimate_note(result: DetectionResult, flows: pd.DataFrame) -> DetectionResult:
    """``result`` with its explanation noting the estimated share of its judged month, if any.

    The English and Chinese explanations both gain the share and the kinds, e.g.
    "(40% of this month's value is estimated, not reported: provisional, not_reported)".
    """
    month = flows[pd.to_datetime(flows["period"]) == pd.Timestamp(result.period)] if len(flows) else flows
    summary = estimate_summary(month)
    if not summary["estimated_share"]:
        return result
    share = summary["estimated_share"]
    kinds = [k for k in summary["estimate_kinds"] if k in VALUE_ESTIMATE_KINDS]
    return dataclasses.replace(
        result,
        explanation_en=f"{result.explanation_en} ({share:.0%} of this month's value is estimated, not reported: "
                       f"{', '.join(kinds)})",
        explanation_zh=f"{result.explanation_zh}（本月 {share:.0%} 为估计而非申报数据："
                       f"{'、'.join(_KIND_ZH[k] for k in kinds)}）",
    )
