"""Partner-share collapse: the main supplier's share of a product falls far below its
trailing average (the signature of an export control, an embargo or a sanction).

Pure computation, no I/O, vectorised over the long trade-flow table
``reporter, partner, product, period, value`` (docs/architecture.md), one verdict per
(reporter, product[, flow]) and period, judged with the periods up to it only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from indicators.disruption import DetectionResult
from indicators.explanations import zh_month
from indicators.periods import month_start
from indicators.tables import normalised_codes
from indicators.vocabulary import WORLD_PARTNERS

__all__ = ["METHOD_PARTNER_SHARE", "PartnerShareCollapseDetector"]

#: ``DetectionResult.method`` of :class:`PartnerShareCollapseDetector`.
METHOD_PARTNER_SHARE = "partner_share_collapse"

_REQUIRED = ("reporter", "partner", "product", "period", "value")


class PartnerShareCollapseDetector:
    """Flag a product whose main partner's share fell by more than ``drop_points``.

    Parameters
    ----------
    drop_points : float, default 20.0
        Flag when the main partner's share is at least this many percentage points
        below its trailing average.
    window : int, default 12
        Trailing periods (of that reporter and product, before the judged one) that
        give the average share and pick the main partner.
    min_periods : int, optional
        Periods with data needed in the window (default ``min(6, window)``); fewer
        gives ``insufficient_history``.
    min_share : float, default 0.2
        A partner is a *main* partner only with a trailing average share of at least
        this (0-1): a 5 % supplier cannot collapse by 20 points.

    Notes
    -----
    For reporter *r*, product *h* (and flow, when the table has one), period *t* and
    partner *p*, with :math:`V` the value (any currency, any unit: only ratios are
    used) and :math:`T_t` the total (the ``WORLD``/``0`` partner row when present,
    else :math:`\\sum_p V_{p,t}`):

    .. math::

        s_{p,t} = V_{p,t} / T_t, \\qquad
        \\bar s_{p,t} = \\frac{1}{|W_t|} \\sum_{u \\in W_t} s_{p,u}, \\qquad
        p^* = \\arg\\max_p \\bar s_{p,t}

        \\Delta_t = 100\\,(s_{p^*,t} - \\bar s_{p^*,t}) \\ \\text{points}

    where :math:`W_t` are the last ``window`` periods before *t* with data and a
    partner without a row in a period with data has share 0 (an export ban removes
    the row). Flagged down when :math:`\\Delta_t \\le -` ``drop_points`` and
    :math:`\\bar s_{p^*,t} \\ge` ``min_share``. ``score`` is :math:`\\Delta_t`
    (points, negative = fall), so
    ``indicators.scoring.disruption_score(score, threshold=drop_points)`` maps a fall
    of exactly ``drop_points`` to 60 (yellow) and twice that to 100.
    ``observed``/``expected`` are :math:`s_{p^*,t}` and :math:`\\bar s_{p^*,t}` (0-1),
    ``lower`` the flag boundary :math:`\\bar s - d/100`.

    The 20-point default is a judgement, not a published threshold: a main supplier's
    share of a product usually drifts a few points a year, so a fall of 20 points
    against its own trailing year is a change in the supply structure; it also takes
    a supplier at the 65 % single-country benchmark of the EU Critical Raw Materials
    Act (Regulation (EU) 2024/1252, Art. 5) below one half. Lower it for products
    whose shares are very stable.
    """

    method = METHOD_PARTNER_SHARE

    def __init__(self, drop_points: float = 20.0, window: int = 12, min_periods: int | None = None,
                 min_share: float = 0.2) -> None:
        if isinstance(drop_points, bool) or not isinstance(drop_points, (int, float)) or not 0 < drop_points < 100:
            raise ValueError(f"drop_points must lie strictly between 0 and 100, got {drop_points!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        if min_periods is None:
            min_periods = min(6, window)
        if isinstance(min_periods, bool) or not isinstance(min_periods, int) or not 1 <= min_periods <= window:
            raise ValueError(f"min_periods must be an integer in [1, window={window}], got {min_periods!r}")
        if isinstance(min_share, bool) or not isinstance(min_share, (int, float)) or not 0 < min_share <= 1:
            raise ValueError(f"min_share must lie in (0, 1], got {min_share!r}")
        self.drop_points = float(drop_points)
        self.window = window
        self.min_periods = min_periods
        self.min_share = float(min_share)
        self.threshold = self.drop_points

    def __repr__(self) -> str:
        return (f"PartnerShareCollapseDetector(drop_points={self.drop_points}, window={self.window}, "
                f"min_periods={self.min_periods}, min_share={self.min_share})")

    def detect(self, flows: pd.DataFrame, at=None) -> list[DetectionResult]:
        """Judge the latest period of every (reporter, product), or period ``at``."""
        return self._run(flows, at=at, every=False)

    def replay(self, flows: pd.DataFrame) -> list[DetectionResult]:
        """Judge every period of every (reporter, product) with the periods up to it."""
        return self._run(flows, at=None, every=True)

    # ------------------------------------------------------------------

    def _run(self, flows: pd.DataFrame, at, every: bool) -> list[DetectionResult]:
        _, shares, _ = _share_table(flows)
        if shares.empty:
            return []
        out: list[DetectionResult] = []
        at_month = None if at is None else month_start(pd.Index([at]), "at")[0]
        for key, block in shares.groupby(level=0, sort=True):
            # period x partner shares; a partner without a row in a period with data
            # has share 0 (an export ban removes the row)
            sh = block.droplevel(0).fillna(0.0)
            past = sh.shift(1).rolling(self.window, min_periods=self.min_periods).mean()
            periods = list(sh.index)
            if at_month is not None:
                targets = [at_month]
            elif every:
                targets = periods
            else:
                targets = periods[-1:]
            for period in targets:
                out.append(self._judge(key, period, sh, past))
        return out

    def _judge(self, key, period, sh, past) -> DetectionResult:
        nan = math.nan
        ym = period.strftime("%Y-%m")
        if period not in past.index:
            return DetectionResult(key, self.method, period, "missing", None, nan, nan, nan, nan, nan,
                                   f"No trade data for {key} in {ym}; the period is not judged.",
                                   f"{key}在{zh_month(period)}没有贸易数据，不作判断。")
        avg = past.loc[period]
        n = min(int(sh.index.get_loc(period)), self.window)
        if avg.isna().all():
            return DetectionResult(
                key, self.method, period, "insufficient_history", None, nan, nan, nan, nan, nan,
                f"Only {n} earlier period(s) of data for {key} before {ym}; at least {self.min_periods} are needed.",
                f"{key}在{zh_month(period)}之前仅有{n}期数据，至少需要{self.min_periods}期。")
        main = str(avg.idxmax())
        expected = float(avg[main])
        observed = float(sh.loc[period, main])
        delta = 100.0 * (observed - expected)
        lower = max(0.0, expected - self.drop_points / 100.0)
        if expected < self.min_share:
            en = (f"No main partner for {key} before {ym}: the largest trailing share is {main} with "
                  f"{expected:.0%} (below {self.min_share:.0%}); its share is now {observed:.0%}.")
            zh = (f"{key}在{zh_month(period)}之前没有主要伙伴：最大的平均份额为{main}的{expected:.0%}"
                  f"（低于{self.min_share:.0%}），本期为{observed:.0%}。")
            return DetectionResult(key, self.method, period, "normal", None, observed, expected, lower, 1.0,
                                   delta, en, zh)
        flagged = delta <= -self.drop_points
        if flagged:
            en = (f"{main}'s share of {key} fell to {observed:.0%} in {ym} from a trailing average of "
                  f"{expected:.0%} ({delta:+.0f} points, threshold -{self.drop_points:g}): the main supplier "
                  "is being replaced or cut off.")
            zh = (f"{zh_month(period)}{main}在{key}中的份额降至{observed:.0%}，此前平均为{expected:.0%}"
                  f"（{delta:+.0f}个百分点，阈值-{self.drop_points:g}）：主要供应来源正被替代或中断。")
        else:
            en = (f"{main}'s share of {key} is {observed:.0%} in {ym} against a trailing average of "
                  f"{expected:.0%} ({delta:+.0f} points; flagged from -{self.drop_points:g}).")
            zh = (f"{zh_month(period)}{main}在{key}中的份额为{observed:.0%}，此前平均为{expected:.0%}"
                  f"（{delta:+.0f}个百分点；下降{self.drop_points:g}个百分点起预警）。")
        return DetectionResult(key, self.method, period, "flagged" if flagged else "normal",
                               "down" if flagged else None, observed, expected, lower, 1.0, delta, en, zh)


def _share_table(flows: pd.DataFrame) -> tuple[list[str], pd.DataFrame, list[str]]:
    """Shares per (key, period) x partner; NaN rows for periods without data."""
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"flows must be a pandas DataFrame, got {type(flows).__name__}")
    missing = [c for c in _REQUIRED if c not in flows.columns]
    if missing:
        raise ValueError(f"flows is missing column {missing[0]!r} (needs {', '.join(_REQUIRED)})")
    if flows.empty:
        return [], pd.DataFrame(), []
    values = pd.to_numeric(flows["value"], errors="coerce")
    bad = values.isna() & flows["value"].notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"column 'value' has non-numeric entry {flows['value'].iloc[pos]!r} at row {pos}")
    if (values < 0).any():
        pos = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise ValueError(f"column 'value' must not be negative (row {pos}: {values.iloc[pos]})")
    parts = [flows["reporter"].astype(str), flows["product"].astype(str)]
    if "flow" in flows.columns:
        parts.append(flows["flow"].astype(str))
    key = parts[0].str.cat(parts[1:], sep="/")
    data = pd.DataFrame({
        "key": key.to_numpy(), "partner": flows["partner"].astype(str).to_numpy(),
        "period": _months(flows["period"]),
        "value": values.to_numpy(dtype="float64"),
    }).dropna(subset=["value"])
    dup = data.duplicated(["key", "partner", "period"])
    if dup.any():
        row = data[dup].iloc[0]
        raise ValueError(f"more than one value for {row['key']} partner {row['partner']} in {row['period']:%Y-%m}")
    is_total = normalised_codes(data["partner"]).isin(WORLD_PARTNERS)
    totals = data[is_total].set_index(["key", "period"])["value"]
    # (key, period, partner) is unique (checked above), so unstacking is the sum pivot_table
    # would take, without its fixed cost (most of this function's time on a node's rows).
    wide = data[~is_total].set_index(["key", "period", "partner"])["value"].unstack("partner").sort_index()
    partner_sum = wide.sum(axis=1, min_count=1)
    total = totals.reindex(wide.index).fillna(partner_sum)
    total = total.where(total > 0)
    divided = wide.div(total, axis=0)
    shares = pd.DataFrame(np.minimum(divided.to_numpy(), 1.0), index=divided.index, columns=divided.columns)
    # zero-trade periods (total 0) carry no share information
    shares = shares[total.notna()]
    return sorted(set(data["key"])), shares, list(wide.columns)


def _months(period: pd.Series) -> pd.DatetimeIndex:
    """``month_start`` of the periods as text, parsed once per distinct period rather than per row."""
    codes, uniques = pd.factorize(period, use_na_sentinel=False)
    if pd.isna(uniques).any():  # the per-row path, for its error message counting the rows
        return month_start(pd.Index(period.astype(str)), "column 'period'")
    return month_start(pd.Index(pd.Series(uniques).astype(str)), "column 'period'")[codes]
