"""Partner-share collapse: the main supplier's share of a product falls far below its
trailing average (the signature of an export control, an embargo or a sanction).

Pure computation, no I/O, vectorised over the long trade-flow table
``reporter, partner, product, period, value`` (docs/architecture.md), one verdict per
(reporter, product[, flow]) and period, judged with the periods up to it and that
key's own rows only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indicators.disruption import DetectionResult
from indicators.explanations import zh_month
from indicators.periods import month_start
from indicators.tables import normalised_codes, on_distinct, text_codes
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

    One call judges any number of keys in one vectorised pass, and a key's verdicts come
    from its own rows only: its columns are its own partners (so the main partner is one
    of them), its partner sums add its own cells in a fixed order and its trailing means
    run over its own rows. Its results are therefore the same, bit for bit, whatever other
    keys share the table (the assessment judges a partition's nodes in one call). Ties
    for :math:`p^*` go to the first partner in sorted order. Rows with a missing value,
    reporter, product, flow or partner are left out; two World totals for one key and
    month are an error.

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
        table = _share_table(flows)
        if table is None:
            return []
        past = _trailing_means(table, self.window, self.min_periods)
        at_month = None if at is None else month_start(pd.Index([at]), "at")[0]
        at_row = None if at_month is None else np.asarray(table.periods == at_month)
        out: list[DetectionResult] = []
        for k, key in enumerate(table.keys):
            lo, hi = int(table.bounds[k]), int(table.bounds[k + 1])
            if at_row is not None:
                found = np.flatnonzero(at_row[lo:hi])
                if not found.size:
                    out.append(self._missing(key, at_month))
                    continue
                rows = [lo + int(found[0])]
            else:
                rows = range(lo, hi) if every else [hi - 1]
            for row in rows:
                out.append(self._judge(key, table.periods[row], row - lo, table.partners[k],
                                       table.shares[row], past[row]))
        return out

    def _missing(self, key: str, period: pd.Timestamp) -> DetectionResult:
        nan = math.nan
        return DetectionResult(key, self.method, period, "missing", None, nan, nan, nan, nan, nan,
                               f"No trade data for {key} in {period:%Y-%m}; the period is not judged.",
                               f"{key}在{zh_month(period)}没有贸易数据，不作判断。")

    def _judge(self, key: str, period: pd.Timestamp, n_before: int, partners: list[str],
               shares: np.ndarray, avg: np.ndarray) -> DetectionResult:
        """The verdict on ``key`` in ``period``, its ``n_before``-th row: ``shares`` and ``avg``
        (trailing means) per partner, in the order of ``partners`` (sorted)."""
        nan = math.nan
        ym = period.strftime("%Y-%m")
        avg = avg[:len(partners)]
        n = min(n_before, self.window)
        if np.isnan(avg).all():
            return DetectionResult(
                key, self.method, period, "insufficient_history", None, nan, nan, nan, nan, nan,
                f"Only {n} earlier period(s) of data for {key} before {ym}; at least {self.min_periods} are needed.",
                f"{key}在{zh_month(period)}之前仅有{n}期数据，至少需要{self.min_periods}期。")
        # the first largest in sorted partner order (pandas idxmax on the key's columns)
        best = int(np.nanargmax(avg))
        main = partners[best]
        expected = float(avg[best])
        observed = float(shares[best])
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


@dataclass(frozen=True)
class _ShareTable:
    """Every key's shares in long-row form: one row per (key, period with a positive total)."""

    keys: list[str]
    #: the rows of ``keys[k]`` are ``bounds[k]:bounds[k + 1]``, in period order
    bounds: np.ndarray
    #: month of each row
    periods: pd.DatetimeIndex
    #: each key's own partners (sorted); ``partners[k][j]`` is column ``j`` of its rows
    partners: list[list[str]]
    #: (rows, most partners of a key) shares 0-1; 0 = no row that period; NaN past the key's partners
    shares: np.ndarray


def _share_table(flows: pd.DataFrame) -> _ShareTable | None:
    """The shares of every key (reporter/product[/flow]), each from its own rows only; None without any.

    A key's numbers do not depend on the other keys in ``flows``: its columns are its own
    partners, its partner totals are sums over those columns only (:func:`_partner_sums`)
    and its trailing means run over its own rows only (:func:`_trailing_means`). Rows
    with a missing value, reporter, product, flow or partner are left out.
    """
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"flows must be a pandas DataFrame, got {type(flows).__name__}")
    missing = [c for c in _REQUIRED if c not in flows.columns]
    if missing:
        raise ValueError(f"flows is missing column {missing[0]!r} (needs {', '.join(_REQUIRED)})")
    if flows.empty:
        return None
    values = pd.to_numeric(flows["value"], errors="coerce")
    bad = values.isna() & flows["value"].notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"column 'value' has non-numeric entry {flows['value'].iloc[pos]!r} at row {pos}")
    if (values < 0).any():
        pos = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise ValueError(f"column 'value' must not be negative (row {pos}: {values.iloc[pos]})")
    value = values.to_numpy(dtype="float64")
    key_code, keys = _key_codes([flows[c] for c in ("reporter", "product", "flow") if c in flows.columns])
    partner_code, partners = text_codes(flows["partner"], sort=True)
    month_code, months = pd.factorize(_months(flows["period"]), sort=True)
    use = ~np.isnan(value) & (key_code >= 0) & (partner_code >= 0)
    key_code, partner_code, month_code, value = key_code[use], partner_code[use], month_code[use], value[use]
    n_partners, n_months = len(partners), len(months)
    cell = (key_code * n_partners + partner_code) * n_months + month_code
    dup = pd.Index(cell).duplicated()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise ValueError(f"more than one value for {keys[key_code[pos]]} partner {partners[partner_code[pos]]} "
                         f"in {months[month_code[pos]]:%Y-%m}")
    is_total = on_distinct(pd.Series(partners, dtype=object),
                           lambda p: normalised_codes(p).isin(WORLD_PARTNERS))[partner_code]
    world = key_code[is_total] * n_months + month_code[is_total]
    dup_world = pd.Index(world).duplicated()
    if dup_world.any():
        k, m = divmod(int(world[np.flatnonzero(dup_world)[0]]), n_months)
        raise ValueError(f"more than one total (World) value for {keys[k]} in {months[m]:%Y-%m}")
    part = ~is_total
    if not part.any():
        return None

    # rows: (key, month) with a partner row; columns: the key's own partners, sorted
    key_month, row_of = np.unique(key_code[part] * n_months + month_code[part], return_inverse=True)
    key_partner, column_of_pair = np.unique(key_code[part] * n_partners + partner_code[part], return_inverse=True)
    pair_key = key_partner // n_partners
    first_pair = np.searchsorted(pair_key, pair_key)  # each key's first (key, partner) pair
    column = (np.arange(len(key_partner)) - first_pair)[column_of_pair]
    n_own = np.bincount(pair_key, minlength=len(keys))
    first_pair_of = np.concatenate([[0], np.cumsum(n_own)[:-1]])
    row_key = key_month // n_months
    width = int(n_own.max())
    wide = np.full((len(key_month), width), np.nan)
    wide[row_of, column] = value[part]
    own = np.arange(width) < n_own[row_key][:, None]

    # the World row where there is one, else the sum over the partners
    total = _partner_sums(wide, row_key, n_own)
    at_row = np.minimum(np.searchsorted(key_month, world), len(key_month) - 1)
    hit = key_month[at_row] == world
    total[at_row[hit]] = value[is_total][hit]
    # zero-trade periods (total 0) carry no share information
    keep = total > 0
    with np.errstate(invalid="ignore"):  # inf / inf (an infinite value): NaN, then share 0 below
        shares = np.minimum(wide[keep] / total[keep, None], 1.0)
    # a partner without a row in a period with data has share 0 (an export ban removes the row)
    shares[own[keep] & np.isnan(shares)] = 0.0
    row_key = row_key[keep]
    if not len(row_key):
        return None
    kept, bounds = np.unique(row_key, return_index=True)
    own_partners = partners[key_partner % n_partners]
    return _ShareTable(
        keys=[str(keys[k]) for k in kept],
        bounds=np.append(bounds, len(row_key)),
        periods=months[key_month[keep] % n_months],
        partners=[[str(p) for p in own_partners[first_pair_of[k]:first_pair_of[k] + n_own[k]]] for k in kept],
        shares=shares,
    )


def _partner_sums(wide: np.ndarray, row_key: np.ndarray, n_own: np.ndarray) -> np.ndarray:
    """Each row's sum over its key's own partners (a missing one counts 0), in USD.

    One fixed rule, whatever else is in the table: numpy's pairwise summation along the
    row's own partner cells (sorted partner order). So a key's totals depend on its own
    cells only, and not on pandas' choice of summation order (which, on a key's own
    table, goes left to right once it has a gap and 6 periods or more: the two differ at
    most in the last bits, and only from 8 partners on).
    """
    filled = np.where(np.isnan(wide), 0.0, wide)
    sums = np.empty(len(wide))
    n_row = n_own[row_key]
    for n in np.unique(n_row):
        rows = np.flatnonzero(n_row == n)
        sums[rows] = filled[rows, :n].sum(axis=1)  # C-contiguous (rows, n): pairwise along each row
    return sums


def _trailing_means(table: _ShareTable, window: int, min_periods: int) -> np.ndarray:
    """Per row and partner column: the mean share over the key's previous ``window`` rows.

    NaN with fewer than ``min_periods`` of them, and past the key's partners. Each (key,
    partner) is one column of a frame, lagged one row and padded with NaN after its key's
    last row, so pandas' rolling mean sees exactly that column's own values, as on the
    key's own table.
    """
    n_rows = np.diff(table.bounds)
    n_own = np.array([len(p) for p in table.partners])
    first_column = np.concatenate([[0], np.cumsum(n_own)[:-1]])
    row_key = np.repeat(np.arange(len(table.keys)), n_rows)
    position = np.arange(len(row_key)) - table.bounds[row_key]
    own = np.arange(table.shares.shape[1]) < n_own[row_key][:, None]
    row, col = np.nonzero(own)
    frame_column = first_column[row_key[row]] + col
    lagged = np.full((int(n_rows.max()), int(n_own.sum())), np.nan, order="F")
    shifted = position[row] + 1 < n_rows[row_key[row]]
    lagged[position[row][shifted] + 1, frame_column[shifted]] = table.shares[row[shifted], col[shifted]]
    means = pd.DataFrame(lagged).rolling(window, min_periods=min_periods).mean().to_numpy()
    past = np.full(table.shares.shape, np.nan)
    past[row, col] = means[position[row], frame_column]
    return past


def _key_codes(parts: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct keys ``part1/part2/...`` of the columns as text (-1: a part missing)."""
    codes, names = zip(*(text_codes(p, sort=True) for p in parts))
    present = np.all([c >= 0 for c in codes], axis=0)
    combined = np.zeros(int(present.sum()), dtype=np.int64)
    for c, n in zip(codes, names):
        combined = combined * len(n) + c[present]
    combos, combo_of = np.unique(combined, return_inverse=True)
    text = []
    for combo in combos.tolist():
        labels = []
        for n in reversed(names):
            combo, i = divmod(combo, len(n))
            labels.append(n[i])
        text.append("/".join(reversed(labels)))
    # distinct combinations can make one key (reporter "A/B", product "C" and "A", "B/C")
    key_of_combo, keys = pd.factorize(pd.Series(text, dtype=object), sort=True)
    key = np.full(len(present), -1, dtype=np.int64)
    key[present] = key_of_combo[combo_of]
    return key, np.asarray(keys, dtype=object)


def _months(period: pd.Series) -> pd.DatetimeIndex:
    """``month_start`` of the periods as text, parsed once per distinct period rather than per row."""
    codes, uniques = pd.factorize(period, use_na_sentinel=False)
    if pd.isna(uniques).any():  # the per-row path, for its error message counting the rows
        return month_start(pd.Index(period.astype(str)), "column 'period'")
    return month_start(pd.Index(pd.Series(uniques).astype(str)), "column 'period'")[codes]
