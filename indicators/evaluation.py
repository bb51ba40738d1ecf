"""Scoring walk-forward disruption flags against labelled disruption onsets.

Pure computation, no I/O. The rules are those of the evaluation set
(docs/detection.md, "Evaluation"):

* only downward flags count;
* a month is judged only after ``min_history`` (36) months of history;
* an event is caught when its series is flagged at least once in
  ``[onset, onset + window]`` (window = 2 months); delay = first such flag - onset;
* a false alarm is a flagged judged month outside every event window and every
  ``ignore`` window of its series, reported per 100 series-years of judged months;
* flags must come from a walk-forward replay (checked by the caller: this module
  only scores them).

Labels (``events``) are a table ``series_id, kind, start, end, cause``: ``kind=event``
rows are onsets (``start`` = onset month, ``end`` empty), ``kind=ignore`` rows are
windows ``start..end`` (inclusive) where a flag is neither a hit nor a false alarm and
which are left out of the series-years.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri  # not scipy.stats: ~0.5 s less CPU to import

from indicators.periods import month_start

__all__ = ["EVENT_WINDOW_MONTHS", "FALSE_ALARM_BUDGET", "EvaluationResult", "EventOutcome", "budget_critical_z",
           "evaluate_flags", "leave_one_series_out", "read_events", "threshold_sweep"]

EVENT_COLUMNS = ("series_id", "kind", "start", "end", "cause")

EVENT_WINDOW_MONTHS = 2
"""An onset counts as caught by a flag in ``[onset, onset + 2]`` months (docs/detection.md)."""

FALSE_ALARM_BUDGET = 6.0
"""False alarms per 100 series-years the quality target allows (issue #5)."""


def budget_critical_z(false_alarms_per_100_series_years: float = FALSE_ALARM_BUDGET) -> float:
    """The z a one-sided statistic must reach to stay within a false-alarm budget on Gaussian noise.

    A budget of :math:`r` false alarms per 100 series-years allows a share
    :math:`q = r / 1200` of judged months to be flagged; a statistic calibrated to the
    standard normal flags a share :math:`\\Phi(z^*)` of ordinary months at threshold
    :math:`z^*`, so :math:`z^* = \\Phi^{-1}(q)` (6 per 100 series-years: q = 0.5 %,
    z* = -2.576). Heavier tails than Gaussian need a stricter threshold, so an event
    whose every statistic stays above :math:`z^*` is out of reach of any rule on those
    statistics within the budget. Unitless (z).
    """
    if not 0 < false_alarms_per_100_series_years < 1200:
        raise ValueError(f"budget must lie in (0, 1200) false alarms per 100 series-years, "
                         f"got {false_alarms_per_100_series_years!r}")
    return float(ndtri(false_alarms_per_100_series_years / 1200.0))  # standard normal quantile


@dataclass(frozen=True)
class EventOutcome:
    """Hit or miss of one labelled onset.

    Attributes
    ----------
    series_id, cause : str
    onset : pandas.Timestamp
        Onset month.
    judged : bool
        False when the series is absent or no month of the window is judged (too
        little history); such events are left out of the recall.
    caught : bool
    delay : int or None
        Months from onset to the first downward flag in the window.
    first_flag : pandas.Timestamp or None
    """

    series_id: str
    onset: pd.Timestamp
    cause: str
    judged: bool
    caught: bool
    delay: int | None
    first_flag: pd.Timestamp | None


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of one set of flags.

    Attributes
    ----------
    events : list of EventOutcome
    per_series : pandas.DataFrame
        ``series_id, judged_months, series_years, flags, hits, false_alarms,
        ignored`` (flags = judged downward flags; ignored = those in ignore windows).
    false_alarm_periods : pandas.DataFrame
        ``series_id, period`` of every false alarm.
    """

    events: list[EventOutcome]
    per_series: pd.DataFrame
    false_alarm_periods: pd.DataFrame

    @property
    def n_events(self) -> int:
        """Judged events."""
        return sum(e.judged for e in self.events)

    @property
    def n_caught(self) -> int:
        """Caught events."""
        return sum(e.caught for e in self.events if e.judged)

    @property
    def recall(self) -> float:
        """Caught / judged events (NaN without events)."""
        return self.n_caught / self.n_events if self.n_events else math.nan

    @property
    def false_alarms(self) -> int:
        """Number of false-alarm months."""
        return int(self.per_series["false_alarms"].sum())

    @property
    def series_years(self) -> float:
        """Judged months outside ignore windows / 12."""
        return float(self.per_series["series_years"].sum())

    @property
    def false_alarms_per_100_series_years(self) -> float:
        """:math:`100 \\cdot FA / \\text{series-years}` (NaN without judged months)."""
        return 100.0 * self.false_alarms / self.series_years if self.series_years > 0 else math.nan

    @property
    def precision(self) -> float:
        """Flags inside event windows / (those + false alarms); NaN without such flags."""
        hits = int(self.per_series["hits"].sum())
        total = hits + self.false_alarms
        return hits / total if total else math.nan

    @property
    def mean_delay(self) -> float:
        """Mean delay (months) of caught events; NaN when none is caught."""
        delays = [e.delay for e in self.events if e.judged and e.caught]
        return float(np.mean(delays)) if delays else math.nan

    @property
    def median_delay(self) -> float:
        """Median delay (months) of caught events; NaN when none is caught."""
        delays = [e.delay for e in self.events if e.judged and e.caught]
        return float(np.median(delays)) if delays else math.nan

    def summary(self) -> dict:
        """Plain dict of the headline numbers (JSON-ready, NaN as None)."""
        def num(v):
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "events": self.n_events,
            "caught": self.n_caught,
            "recall": num(self.recall),
            "false_alarms": self.false_alarms,
            "series_years": round(self.series_years, 2),
            "false_alarms_per_100_series_years": num(self.false_alarms_per_100_series_years),
            "precision": num(self.precision),
            "mean_delay_months": num(self.mean_delay),
            "median_delay_months": num(self.median_delay),
            "events_not_judged": sum(not e.judged for e in self.events),
        }

    def event_table(self) -> pd.DataFrame:
        """One row per event: ``series_id, onset, cause, judged, caught, delay, first_flag``."""
        rows = [{
            "series_id": e.series_id, "onset": e.onset.strftime("%Y-%m"), "cause": e.cause, "judged": e.judged,
            "caught": e.caught, "delay": e.delay,
            "first_flag": e.first_flag.strftime("%Y-%m") if e.first_flag is not None else None,
        } for e in self.events]
        return pd.DataFrame(rows, columns=["series_id", "onset", "cause", "judged", "caught", "delay", "first_flag"])


def read_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a labels table and normalise its months.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``series_id, kind, start, end, cause`` (``end`` and ``cause`` may be
        empty); ``kind`` is ``event`` or ``ignore``; months as ``YYYY-MM`` or dates.

    Returns
    -------
    pandas.DataFrame
        Same rows with ``start``/``end`` as month-start Timestamps (``end`` = ``start``
        for events and for ignore rows without an end).

    Raises
    ------
    ValueError
        Naming the row (0-based position) and field of the first problem.
    """
    missing = [c for c in ("series_id", "kind", "start") if c not in frame.columns]
    if missing:
        raise ValueError(f"events table is missing column {missing[0]!r} (needs {', '.join(EVENT_COLUMNS)})")
    out = frame.copy()
    if "end" not in out.columns:
        out["end"] = None
    if "cause" not in out.columns:
        out["cause"] = ""
    out["cause"] = out["cause"].fillna("").astype(str)
    starts, ends = [], []
    for pos, row in enumerate(out.itertuples(index=False)):
        kind = row.kind
        if kind not in ("event", "ignore"):
            raise ValueError(f"events row {pos}: kind must be 'event' or 'ignore', got {kind!r}")
        if pd.isna(row.series_id) or not str(row.series_id).strip():
            raise ValueError(f"events row {pos}: series_id is empty")
        try:
            start = month_start(pd.Index([str(row.start)]), "start")[0]
        except ValueError as err:
            raise ValueError(f"events row {pos}: start {row.start!r} is not a month ({err})") from None
        end_raw = row.end
        if kind == "ignore" and not (end_raw is None or (isinstance(end_raw, float) and math.isnan(end_raw)) or end_raw == ""):
            try:
                end = month_start(pd.Index([str(end_raw)]), "end")[0]
            except ValueError as err:
                raise ValueError(f"events row {pos}: end {end_raw!r} is not a month ({err})") from None
            if end < start:
                raise ValueError(f"events row {pos}: end {end:%Y-%m} is before start {start:%Y-%m}")
        else:
            end = start
        starts.append(start)
        ends.append(end)
    out["series_id"] = out["series_id"].astype(str)
    out["start"] = pd.DatetimeIndex(starts) if starts else pd.DatetimeIndex([])
    out["end"] = pd.DatetimeIndex(ends) if ends else pd.DatetimeIndex([])
    return out.reset_index(drop=True)


def _month_number(ts) -> np.ndarray:
    idx = pd.DatetimeIndex(ts)
    return (idx.year * 12 + idx.month - 1).to_numpy(dtype=np.int64)


def evaluate_flags(
    flags: pd.DataFrame,
    observations: pd.DataFrame,
    events: pd.DataFrame,
    min_history: int = 36,
    window: int = EVENT_WINDOW_MONTHS,
) -> EvaluationResult:
    """Score walk-forward flags with the evaluation set's rules.

    Parameters
    ----------
    flags : pandas.DataFrame
        Columns ``series_id, period`` and ``direction`` (only ``"down"`` counts); one
        row per flagged (series, month). Extra columns are ignored.
    observations : pandas.DataFrame
        The replayed data, ``series_id, period`` (+ ``value``; rows with a missing
        value are not observations): sets which months are judged.
    events : pandas.DataFrame
        Labels as accepted by :func:`read_events`.
    min_history : int, default 36
        A month is judged when the series has at least this many observations
        before it.
    window : int, default 2
        Months after the onset still counted as catching it.

    Returns
    -------
    EvaluationResult

    Notes
    -----
    With :math:`J_s` the judged months of series *s*, :math:`I_s` its ignore windows,
    :math:`E_s` the union of its event windows :math:`[o, o + w]` and :math:`F_s` its
    downward flags in :math:`J_s`:

    .. math::

        \\text{recall} = \\frac{\\#\\{\\text{events with } F_s \\cap [o, o+w] \\ne
        \\emptyset\\}}{\\#\\{\\text{judged events}\\}}, \\qquad
        FA = \\sum_s |F_s \\setminus (E_s \\cup I_s)|

        \\text{FA rate} = 100 \\cdot FA \\Big/ \\sum_s \\frac{|J_s \\setminus I_s|}{12}
        \\ \\text{per 100 series-years}, \\qquad
        \\text{precision} = \\frac{\\sum_s |F_s \\cap E_s|}{\\sum_s |F_s \\cap E_s| + FA}

    An event is *judged* when its series is present and at least one month of its
    window is judged.
    """
    if isinstance(min_history, bool) or not isinstance(min_history, int) or min_history < 0:
        raise ValueError(f"min_history must be an integer >= 0, got {min_history!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"window must be an integer >= 0, got {window!r}")
    for name, frame, cols in (("flags", flags, ("series_id", "period", "direction")),
                              ("observations", observations, ("series_id", "period"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing column {missing[0]!r}")
    labels = read_events(events)
    obs = observations
    if "value" in obs.columns:
        obs = obs[pd.to_numeric(obs["value"], errors="coerce").notna()]
    obs_ids = obs["series_id"].astype(str).to_numpy()
    obs_months = _month_number(month_start(pd.Index(obs["period"]), "observations 'period'")) if len(obs) else np.array([], dtype=np.int64)
    down = flags[flags["direction"] == "down"]
    flag_ids = down["series_id"].astype(str).to_numpy()
    flag_months = _month_number(month_start(pd.Index(down["period"]), "flags 'period'")) if len(down) else np.array([], dtype=np.int64)

    per_series = []
    fa_rows = []
    outcomes: list[EventOutcome] = []
    series_ids = sorted(set(obs_ids))
    for sid in series_ids:
        months = np.unique(obs_months[obs_ids == sid])
        judged = months[min_history:] if len(months) > min_history else months[:0]
        lab = labels[labels["series_id"] == sid]
        ign = lab[lab["kind"] == "ignore"]
        ev = lab[lab["kind"] == "event"]
        in_ignore = np.zeros(len(judged), dtype=bool)
        for a, b in zip(_month_number(ign["start"]), _month_number(ign["end"])):
            in_ignore |= (judged >= a) & (judged <= b)
        onsets = _month_number(ev["start"])
        in_event = np.zeros(len(judged), dtype=bool)
        for o in onsets:
            in_event |= (judged >= o) & (judged <= o + window)
        flagged = np.isin(judged, flag_months[flag_ids == sid])
        fa = flagged & ~in_ignore & ~in_event
        per_series.append({
            "series_id": sid, "judged_months": len(judged),
            "series_years": float((~in_ignore).sum()) / 12.0, "flags": int(flagged.sum()),
            "hits": int((flagged & in_event).sum()), "false_alarms": int(fa.sum()),
            "ignored": int((flagged & in_ignore & ~in_event).sum()),
        })
        fa_rows += [{"series_id": sid, "period": _month_ts(m)} for m in judged[fa]]
        for o, cause in zip(onsets, ev["cause"]):
            win = (judged >= o) & (judged <= o + window)
            hit = judged[win & flagged]
            outcomes.append(EventOutcome(
                sid, _month_ts(o), str(cause), bool(win.any()), bool(len(hit)),
                int(hit[0] - o) if len(hit) else None, _month_ts(hit[0]) if len(hit) else None,
            ))
    for _, row in labels[(labels["kind"] == "event") & ~labels["series_id"].isin(series_ids)].iterrows():
        outcomes.append(EventOutcome(row["series_id"], row["start"], row["cause"], False, False, None, None))
    outcomes.sort(key=lambda e: (e.series_id, e.onset))
    table = pd.DataFrame(per_series, columns=["series_id", "judged_months", "series_years", "flags", "hits",
                                              "false_alarms", "ignored"])
    return EvaluationResult(outcomes, table, pd.DataFrame(fa_rows, columns=["series_id", "period"]))


def _month_ts(m: int) -> pd.Timestamp:
    return pd.Timestamp(year=int(m) // 12, month=int(m) % 12 + 1, day=1)


def threshold_sweep(
    scores: pd.DataFrame,
    observations: pd.DataFrame,
    events: pd.DataFrame,
    thresholds=(2.5, 3.0, 3.5, 4.0, 4.5),
    min_history: int = 36,
    window: int = EVENT_WINDOW_MONTHS,
) -> pd.DataFrame:
    """Recall and false-alarm rate of the rule ``score <= -threshold`` for several thresholds.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``series_id, period, score`` of every judged month from one walk-forward
        replay (negative = below expected; NaN = never flagged). For the two-stage
        engine a replay at the lowest threshold gives the exact flags of every higher
        one when only its flagged months carry their score (the score of a flagged
        month does not depend on the threshold; a month not flagged at the lowest
        threshold is flagged at none).
    observations, events, min_history, window
        As for :func:`evaluate_flags`.
    thresholds : sequence of float
        Thresholds to score (z units, > 0).

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold, caught, events, recall, false_alarms,
        false_alarms_per_100_series_years, precision``.

    Notes
    -----
    This is the calibration curve of the score: the false-alarm rate it implies on
    the judged history, per threshold. Choosing the threshold whose rate meets a
    false-alarm budget calibrates the detector empirically instead of trusting a
    Gaussian tail (monthly changes are heavier-tailed than that).
    """
    rows = []
    valid = scores[pd.to_numeric(scores["score"], errors="coerce").notna()]
    for threshold in thresholds:
        flagged = valid[valid["score"].astype(float) <= -float(threshold)]
        result = evaluate_flags(flagged.assign(direction="down"), observations, events, min_history, window)
        rows.append({
            "threshold": float(threshold), "caught": result.n_caught, "events": result.n_events,
            "recall": result.recall, "false_alarms": result.false_alarms,
            "false_alarms_per_100_series_years": result.false_alarms_per_100_series_years,
            "precision": result.precision,
        })
    return pd.DataFrame(rows)


def leave_one_series_out(
    scores: pd.DataFrame,
    observations: pd.DataFrame,
    events: pd.DataFrame,
    thresholds=(2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0, 4.5),
    max_false_alarm_rate: float = 6.0,
    min_history: int = 36,
    window: int = EVENT_WINDOW_MONTHS,
) -> pd.DataFrame:
    """Choose the threshold without a series, then score that series with it.

    Parameters
    ----------
    scores, observations, events, min_history, window
        As for :func:`threshold_sweep` (scores of every judged month from one
        walk-forward replay at the lowest threshold).
    thresholds : sequence of float
        Candidate thresholds.
    max_false_alarm_rate : float, default 6.0
        False-alarm budget per 100 series-years on the training series.

    Returns
    -------
    pandas.DataFrame
        One row per held-out series: ``series_id, threshold, train_recall,
        train_false_alarms_per_100_series_years, caught, events, false_alarms,
        series_years``, then a row ``series_id = "all (held out)"`` with the totals
        of the held-out scores (each event and each judged month counted once, with
        a threshold chosen without its series).

    Notes
    -----
    On the training series (all others), the threshold kept is the one with the
    highest recall among those whose false-alarm rate is within the budget (ties: the
    lower rate, then the higher threshold); when none is, the highest threshold.
    If the held-out totals stay close to the in-sample ones, the threshold is not
    fitted to particular events.
    """
    valid = scores[pd.to_numeric(scores["score"], errors="coerce").notna()]
    ids = sorted(set(observations["series_id"].astype(str)))
    rows = []
    for held_out in ids:
        train = [s for s in ids if s != held_out]
        best = None  # (recall, -fa_rate, threshold)
        for threshold in thresholds:
            r = _scored_at(valid, observations, events, threshold, train, min_history, window)
            recall = r.recall if r.n_events else 0.0
            rate = r.false_alarms_per_100_series_years
            key = (rate <= max_false_alarm_rate, recall, -rate, float(threshold))
            if best is None or key > best[0]:
                best = (key, float(threshold), recall, rate)
        _, chosen, train_recall, train_rate = best
        test = _scored_at(valid, observations, events, chosen, [held_out], min_history, window)
        rows.append({
            "series_id": held_out, "threshold": chosen, "train_recall": train_recall,
            "train_false_alarms_per_100_series_years": train_rate, "caught": test.n_caught,
            "events": test.n_events, "false_alarms": test.false_alarms, "series_years": test.series_years,
        })
    table = pd.DataFrame(rows, columns=["series_id", "threshold", "train_recall",
                                        "train_false_alarms_per_100_series_years", "caught", "events",
                                        "false_alarms", "series_years"])
    total = {"series_id": "all (held out)", "threshold": math.nan, "train_recall": math.nan,
             "train_false_alarms_per_100_series_years": math.nan, "caught": int(table["caught"].sum()),
             "events": int(table["events"].sum()), "false_alarms": int(table["false_alarms"].sum()),
             "series_years": float(table["series_years"].sum())}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def _scored_at(scores, observations, events, threshold, series_ids, min_history, window) -> EvaluationResult:
    keep = scores["series_id"].astype(str).isin(series_ids)
    flagged = scores[keep & (scores["score"].astype(float) <= -float(threshold))]
    obs = observations[observations["series_id"].astype(str).isin(series_ids)]
    labels = events[events["series_id"].astype(str).isin(series_ids)]
    return evaluate_flags(flagged.assign(direction="down"), obs, labels, min_history, window)
