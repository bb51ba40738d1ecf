"""Unit-value spike: the price per unit of a traded product (value / quantity) jumps
far above its recent level, a shortage or price signal.

Pure computation, no I/O, vectorised over a long table with ``value`` and
``quantity`` (trade flows: ``reporter, partner, product[, flow], period, value,
quantity``; or any table with a ``series_id``). One verdict per series and period,
judged with the periods up to it only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from indicators.disruption import (
    MAD_TO_SIGMA,
    DetectionResult,
    _fmt,
    _month_start,
    _zh_month,
)

__all__ = ["METHOD_UNIT_VALUE_SPIKE", "UnitValueSpikeDetector"]

#: ``DetectionResult.method`` of :class:`UnitValueSpikeDetector`.
METHOD_UNIT_VALUE_SPIKE = "unit_value_spike"


class UnitValueSpikeDetector:
    """Flag a period whose unit value jumps away from its recent level.

    Parameters
    ----------
    threshold : float, default 3.5
        Flag when the robust z-score reaches it (``+threshold`` up, ``-threshold``
        down).
    window : int, default 24
        Earlier periods whose jumps give the robust location and scale.
    min_periods : int, default 12
        Earlier jumps needed in the window; fewer gives ``insufficient_history``.
    base : int, default 3
        Periods whose median unit value is the recent level.
    directions : tuple of str, default ("up",)
        ``"up"`` (price spikes, the shortage signal) and/or ``"down"``.

    Notes
    -----
    With unit value :math:`u_t = V_t / Q_t` (value per unit of quantity; periods with
    :math:`Q_t \\le 0` or a missing value have none) and :math:`\\ell_t = \\log u_t`:

    .. math::

        J_t = \\ell_t - \\operatorname{median}(\\ell_{t-1}, \\dots, \\ell_{t-b}), \\qquad
        z_t = \\frac{J_t - \\operatorname{median}_{W} J}{1.4826\\,\\mathrm{MAD}_{W} J}

    over the ``window`` previous jumps :math:`W`. A jump against the *median* of the
    last ``base`` periods is not fooled by one odd period in the base, and robust
    location and scale of the series' own jumps make the score comparable between a
    stable commodity and a volatile one. Flagged up when :math:`z_t \\ge \\tau`.
    ``expected`` is :math:`\\exp(\\text{median base} + \\text{median } J)` and the
    bounds are :math:`\\exp(\\cdot \\pm \\tau \\sigma)` (series unit: value per unit of
    quantity). Unit values of customs data also jump when the product mix or the
    quantity unit changes, so a flag is a prompt to look, not proof of a shortage.
    Sources: Iglewicz & Hoaglin (1993) for MAD z-scores; unit values as price proxies
    in trade statistics: UN Statistics Division, *International Merchandise Trade
    Statistics: Concepts and Definitions 2010*, ch. on unit value indices.
    """

    method = METHOD_UNIT_VALUE_SPIKE

    def __init__(self, threshold: float = 3.5, window: int = 24, min_periods: int = 12, base: int = 3,
                 directions: tuple[str, ...] = ("up",)) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
            math.isfinite(threshold) and threshold > 0
        ):
            raise ValueError(f"threshold must be a positive number, got {threshold!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 4:
            raise ValueError(f"window must be an integer >= 4, got {window!r}")
        if isinstance(min_periods, bool) or not isinstance(min_periods, int) or not 3 <= min_periods <= window:
            raise ValueError(f"min_periods must be an integer in [3, window={window}], got {min_periods!r}")
        if isinstance(base, bool) or not isinstance(base, int) or base < 1:
            raise ValueError(f"base must be an integer >= 1, got {base!r}")
        directions = tuple(directions)
        if not directions or any(d not in ("up", "down") for d in directions):
            raise ValueError(f"directions must be a non-empty subset of ('up', 'down'), got {directions!r}")
        self.threshold = float(threshold)
        self.window = window
        self.min_periods = min_periods
        self.base = base
        self.directions = directions

    def __repr__(self) -> str:
        return (f"UnitValueSpikeDetector(threshold={self.threshold}, window={self.window}, "
                f"min_periods={self.min_periods}, base={self.base}, directions={self.directions})")

    def detect(self, table: pd.DataFrame, at=None) -> list[DetectionResult]:
        """Judge the latest period of every series (or period ``at``)."""
        return self._run(table, at, every=False)

    def replay(self, table: pd.DataFrame) -> list[DetectionResult]:
        """Judge every period of every series with the periods up to it."""
        return self._run(table, None, every=True)

    def _run(self, table: pd.DataFrame, at, every: bool) -> list[DetectionResult]:
        frame = _unit_values(table)
        if frame.empty:
            return []
        at_month = None if at is None else _month_start(pd.Index([at]), "at")[0]
        out: list[DetectionResult] = []
        for sid, part in frame.groupby("series_id", sort=True):
            s = part.set_index("period")["log_uv"].sort_index()
            base = s.shift(1).rolling(self.base, min_periods=1).median()
            jump = s - base
            past = jump.shift(1).rolling(self.window, min_periods=self.min_periods)
            loc = past.median()
            # MAD of each window around that window's own median
            mad = jump.shift(1).rolling(self.window, min_periods=self.min_periods).apply(
                lambda a: np.median(np.abs(a - np.median(a))), raw=True)
            sigma = np.maximum(MAD_TO_SIGMA * mad, 1e-6)
            z = (jump - loc) / sigma
            n_prev = jump.shift(1).notna().rolling(self.window, min_periods=1).sum()
            targets = [at_month] if at_month is not None else (list(s.index) if every else list(s.index[-1:]))
            for period in targets:
                out.append(self._verdict(str(sid), period, s, base, loc, sigma, z, n_prev))
        return out

    def _verdict(self, sid, period, s, base, loc, sigma, z, n_prev) -> DetectionResult:
        nan = math.nan
        ym, zm = period.strftime("%Y-%m"), _zh_month(period)
        if period not in s.index or not np.isfinite(s.loc[period]):
            return DetectionResult(sid, self.method, period, "missing", None, nan, nan, nan, nan, nan,
                                   f"No unit value for {sid} in {ym} (value or quantity missing or zero).",
                                   f"{sid}在{zm}没有单位价值（金额或数量缺失或为零）。")
        observed = float(math.exp(s.loc[period]))
        zt = z.loc[period]
        if not np.isfinite(zt):
            n = int(n_prev.loc[period]) if np.isfinite(n_prev.loc[period]) else 0
            return DetectionResult(sid, self.method, period, "insufficient_history", None, observed, nan, nan, nan,
                                   nan, f"Only {n} earlier unit-value jumps for {sid} before {ym}; at least "
                                   f"{self.min_periods} are needed.",
                                   f"{sid}在{zm}之前仅有{n}个单位价值变动，至少需要{self.min_periods}个。")
        centre = float(base.loc[period] + loc.loc[period])
        half = self.threshold * float(sigma.loc[period])
        expected, lower, upper = math.exp(centre), math.exp(centre - half), math.exp(centre + half)
        zt = float(zt)
        up = zt >= self.threshold and "up" in self.directions
        down = zt <= -self.threshold and "down" in self.directions
        change = (observed / expected - 1.0) * 100.0
        if up or down:
            word_en, word_zh = ("above", "高") if up else ("below", "低")
            en = (f"Unit value of {sid} in {ym} is {_fmt(observed)}, {abs(change):.0f}% {word_en} its recent level "
                  f"{_fmt(expected)} (robust z = {zt:.1f}): a {'price spike or shortage' if up else 'price collapse'} "
                  "signal (or a change in product mix).")
            zh = (f"{zm}{sid}的单位价值为{_fmt(observed)}，比近期水平{_fmt(expected)}{word_zh}{abs(change):.0f}%"
                  f"（稳健z值 = {zt:.1f}）：{'价格飙升或短缺' if up else '价格暴跌'}信号（也可能是产品结构变化）。")
            return DetectionResult(sid, self.method, period, "flagged", "up" if up else "down", observed, expected,
                                   lower, upper, zt, en, zh)
        en = (f"Unit value of {sid} in {ym} is {_fmt(observed)}, within the usual range {_fmt(lower)} to "
              f"{_fmt(upper)} (robust z = {zt:.1f}).")
        zh = f"{zm}{sid}的单位价值为{_fmt(observed)}，在通常区间{_fmt(lower)}至{_fmt(upper)}之内（稳健z值 = {zt:.1f}）。"
        return DetectionResult(sid, self.method, period, "normal", None, observed, expected, lower, upper, zt, en, zh)


def _unit_values(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    for col in ("period", "value", "quantity"):
        if col not in table.columns:
            raise ValueError(f"table is missing column {col!r} (needs period, value, quantity and series_id "
                             "or reporter, partner, product)")
    if "series_id" in table.columns:
        sid = table["series_id"].astype(str)
    elif all(c in table.columns for c in ("reporter", "partner", "product")):
        parts = [table["reporter"].astype(str), table["partner"].astype(str), table["product"].astype(str)]
        if "flow" in table.columns:
            parts.append(table["flow"].astype(str))
        sid = parts[0].str.cat(parts[1:], sep="/")
    else:
        raise ValueError("table needs a series_id column or reporter, partner and product columns")
    if table.empty:
        return pd.DataFrame(columns=["series_id", "period", "log_uv"])
    value = pd.to_numeric(table["value"], errors="coerce")
    qty = pd.to_numeric(table["quantity"], errors="coerce")
    for name, num in (("value", value), ("quantity", qty)):
        bad = num.isna() & table[name].notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"column {name!r} has non-numeric entry {table[name].iloc[pos]!r} at row {pos}")
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.where((qty > 0) & (value > 0), value / qty, np.nan)
    frame = pd.DataFrame({
        "series_id": sid.to_numpy(),
        "period": _month_start(pd.Index(table["period"].astype(str)), "column 'period'"),
        "log_uv": np.log(uv),
    })
    dup = frame.duplicated(["series_id", "period"])
    if dup.any():
        row = frame[dup].iloc[0]
        raise ValueError(f"more than one row for {row['series_id']} in {row['period']:%Y-%m}")
    return frame
