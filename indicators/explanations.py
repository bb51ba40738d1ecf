"""The sentences and numbers of a detector's verdict, in English and Chinese.

Number, percentage and month formatting, and the explanation every single-series
detector gives (flagged, normal, too little history, missing month). Pure, no I/O.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["format_number", "format_percent", "zh_month", "explain_verdict"]


def format_number(x: float) -> str:
    """A number as explanations show it: thousands separated, 1 decimal, or 3 significant digits below 1."""
    if not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 10_000:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:.1f}"
    if ax == 0:
        return "0"
    return f"{x:.3g}"


def format_percent(p: float) -> str:
    """The size of a percentage change (sign dropped: the sentence says above or below)."""
    return f"{abs(p):.0f}%" if abs(p) >= 10 else f"{abs(p):.1f}%"


def zh_month(period: pd.Timestamp) -> str:
    """A month in Chinese, e.g. 2024年3月."""
    return f"{period.year}年{period.month}月"


def explain_verdict(status, period, observed, expected, lower, upper, z, n_obs=None, needed=None, reason=None):
    """One sentence in English and one in Chinese for a detector's verdict on one month.

    ``status`` is a :data:`indicators.disruption.STATUSES` value; ``n_obs``/``needed``
    (and ``reason="window"``) explain an ``insufficient_history`` verdict.
    """
    ym = period.strftime("%Y-%m")
    zh_m = zh_month(period)
    if status == "missing":
        return (
            f"No observation for {ym}; the month is not judged and no value is imputed.",
            f"{zh_m}没有观测值，不作判断，也不插补数值。",
        )
    if status == "insufficient_history":
        if reason == "window":
            return (
                f"Only {n_obs} observations in the window ending {ym}; at least {needed} are needed "
                "to judge this month.",
                f"截至{zh_m}的窗口内仅有{n_obs}个观测值，至少需要{needed}个才能判断。",
            )
        return (
            f"Only {n_obs} observations up to {ym}; at least {needed} are needed to judge this month.",
            f"截至{zh_m}仅有{n_obs}个观测值，至少需要{needed}个才能判断。",
        )
    zs = f"{z:.1f}"
    if status == "normal":
        return (
            f"Value {format_number(observed)} in {ym} is within the expected range {format_number(lower)} to "
            f"{format_number(upper)} (expected {format_number(expected)}, robust z = {zs}).",
            f"{zh_m}的数值{format_number(observed)}在预期区间{format_number(lower)}至{format_number(upper)}之内"
            f"（预期值{format_number(expected)}，稳健z值 = {zs}）。",
        )
    below = observed < expected
    if expected > 0 and observed >= 0:
        gap_en = format_percent((observed / expected - 1.0) * 100.0)
    else:
        gap_en = format_number(abs(observed - expected))
    word_en, word_zh = ("below", "低") if below else ("above", "高")
    return (
        f"Value {format_number(observed)} in {ym} is {gap_en} {word_en} the expected {format_number(expected)} "
        f"(robust z = {zs}).",
        f"{zh_m}的数值{format_number(observed)}比预期值{format_number(expected)}{word_zh}{gap_en}（稳健z值 = {zs}）。",
    )
