"""Where trade flows came from: the reporter's own figures, or partner-reported (mirror) stand-ins.

Flows read with ``load_trade_flows(..., with_provenance=True)`` carry a ``provenance``
column (:data:`~monitor.collectors.base.MIRROR` or ``REPORTED``). A figure built partly
from mirror data is a different kind of evidence (the partner's valuation, another
customs' timing), so wherever flows are summarised for people — the report, the stored
concentration details behind the API, a finding's explanation — the mirror part is
shown. Pure functions on frames; no I/O.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from indicators.disruption import DetectionResult
from monitor.collectors.base import MIRROR


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
    share, partners = summary["mirror_share"], ", ".join(summary["mirror_partners"])
    return dataclasses.replace(
        result,
        explanation_en=f"{result.explanation_en} ({share:.0%} of this month's value is partner-reported "
                       f"mirror data: {partners})",
        explanation_zh=f"{result.explanation_zh}（本月 {share:.0%} 为伙伴国申报的镜像数据：{partners}）",
    )
