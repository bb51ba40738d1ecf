"""``chainwatch evaluate``: score the disruption engine on labelled disruptions.

Replays the two-stage engine walk-forward over ``--input`` (``series_id,period,value``)
and scores its downward flags against ``--events`` (``series_id,kind,start,end,cause``)
with the rules of :mod:`indicators.evaluation`; the naive month-over-month rules of
the evaluation set (z <= -3 and z <= -2) are scored on the same data for comparison.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from indicators.disruption_engine import DisruptionEngine
from indicators.evaluation import (
    EVENT_WINDOW_MONTHS,
    FALSE_ALARM_BUDGET,
    EvaluationResult,
    budget_critical_z,
    evaluate_flags,
    leave_one_series_out,
    read_events,
    threshold_sweep,
)
from indicators.naive_change import naive_change_flags
from indicators.real_time import has_vintages
from indicators.screening import SeriesMatrix
from monitor.cli.detect import (
    EXIT_OK,
    EXIT_SOME_SKIPPED,
    EXIT_UNUSABLE,
    load_series,
)
from monitor.cli.terminal import Layouts, new_table, render

__all__ = ["Evaluation", "EventsFileError", "evaluate_detectors", "read_events_csv", "run_evaluate"]


class EventsFileError(ValueError):
    """The events file is unusable; the message names the file and row."""


def read_events_csv(path: Path) -> pd.DataFrame:
    """Read and validate a labels file (CSV rows numbered with the header as row 1)."""
    path = Path(path)
    if not path.is_file():
        raise EventsFileError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise EventsFileError(f"{path}: empty file (expected series_id,kind,start,end,cause)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise EventsFileError(f"{path}: not a readable CSV: {err}") from None
    try:
        return read_events(frame)
    except ValueError as err:
        message = str(err)
        if message.startswith("events row "):
            pos, _, rest = message[len("events row "):].partition(":")
            if pos.isdigit():
                message = f"row {int(pos) + 2}:{rest}"
        raise EventsFileError(f"{path}: {message}") from None


SWEEP_THRESHOLDS = (2.5, 3.0, 3.5, 4.0, 4.5)


@dataclass(frozen=True)
class Evaluation:
    """What ``chainwatch evaluate`` reports.

    Attributes
    ----------
    scored : dict of str to EvaluationResult
        The engine at its threshold first, then the naive rules.
    sweep : pandas.DataFrame
        The engine's calibration curve (:func:`indicators.evaluation.threshold_sweep`).
    held_out : pandas.DataFrame
        Leave-one-series-out threshold check
        (:func:`indicators.evaluation.leave_one_series_out`).
    strongest : dict of (str, str) to float
        Per event (series id, onset ``YYYY-MM``): the engine's strongest flagged score
        in the event window at the lowest threshold replayed, i.e. the highest
        threshold that would have caught it (NaN: caught at none of them).
    evidence : dict of (str, str) to (float, float)
        Per judged event: the most negative z the screen and the confirmation model
        give in the event window, every window and month, whatever the verdict
        (:meth:`~indicators.disruption_engine.DisruptionEngine.evidence`; NaN: none).
        Not computed for series with vintages (it would read revised values).
    critical_z : float
        :func:`~indicators.evaluation.budget_critical_z` of the 6-per-100-series-years
        budget: an event whose evidence never reaches it is out of reach of any rule on
        these statistics within the budget.
    """

    scored: dict[str, EvaluationResult]
    sweep: pd.DataFrame
    held_out: pd.DataFrame
    strongest: dict[tuple[str, str], float] = field(default_factory=dict)
    evidence: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    critical_z: float = field(default_factory=budget_critical_z)


def evaluate_detectors(frame: pd.DataFrame, events: pd.DataFrame, engine: DisruptionEngine | None = None,
                       sweep: tuple[float, ...] = SWEEP_THRESHOLDS) -> Evaluation:
    """Replay the engine and the naive rules on ``frame`` and score them on ``events``.

    The engine is replayed once, at the lowest threshold of ``sweep`` and its own:
    its score does not depend on the threshold, so ``score <= -t`` gives the exact
    flags of every higher threshold *t* (see :func:`indicators.evaluation.threshold_sweep`);
    the leave-one-series-out check chooses among the ``sweep`` thresholds.
    """
    engine = engine or DisruptionEngine()
    lowest = min((*sweep, engine.threshold))
    probe = DisruptionEngine(**{**_engine_settings(engine), "threshold": lowest})
    results = probe.replay(frame)
    # A month not flagged at the lowest threshold is flagged at none (its evidence,
    # payback rule included, never reaches that threshold): no score for it.
    scores = pd.DataFrame(
        [{"series_id": r.series_id, "period": r.period, "score": r.score if r.status == "flagged" else math.nan}
         for r in results if r.status in ("flagged", "normal")],
        columns=["series_id", "period", "score"],
    )
    flags = scores[scores["score"] <= -engine.threshold].assign(direction="down")
    scored = {f"two-stage engine (threshold {engine.threshold:g})": evaluate_flags(flags, frame, events)}
    for threshold in (3.0, 2.0):
        naive = naive_change_flags(frame, threshold=threshold)
        scored[f"naive rule (z <= -{threshold:g})"] = evaluate_flags(naive, frame, events)
    main = next(iter(scored.values()))
    return Evaluation(scored, threshold_sweep(scores, frame, events, thresholds=sweep),
                      leave_one_series_out(scores, frame, events, thresholds=sweep),
                      _strongest_in_window(scores, main), _evidence_in_window(probe, frame, main))


def _evidence_in_window(engine: DisruptionEngine, frame: pd.DataFrame,
                        result: EvaluationResult) -> dict[tuple[str, str], tuple[float, float]]:
    """Each judged event's strongest screen and model z in ``[onset, onset + 2]`` (see ``Evaluation.evidence``)."""
    judged = [e for e in result.events if e.judged]
    if not judged or has_vintages(frame):
        return {}
    matrix = SeriesMatrix.from_long(frame)
    row_of = {sid: i for i, sid in enumerate(matrix.ids)}
    cells = [(e, row_of[e.series_id], matrix.column_of(e.onset + pd.DateOffset(months=k)))
             for e in judged if e.series_id in row_of for k in range(EVENT_WINDOW_MONTHS + 1)]
    cells = [(e, r, c) for e, r, c in cells if c >= 0]
    z = engine.evidence(matrix, [r for _, r, _ in cells], [c for _, _, c in cells])
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for (e, _, _), (screen, model) in zip(cells, z):
        key = (e.series_id, e.onset.strftime("%Y-%m"))
        old = out.get(key, (math.nan, math.nan))
        out[key] = (float(np.fmin(old[0], screen)), float(np.fmin(old[1], model)))
    return out


def _strongest_in_window(scores: pd.DataFrame, result: EvaluationResult) -> dict[tuple[str, str], float]:
    """Each event's most negative flagged score in ``[onset, onset + 2]`` (NaN: none), for misses' "how close"."""
    out = {}
    for e in result.events:
        own = scores[(scores["series_id"] == e.series_id) & (scores["period"] >= e.onset)
                     & (scores["period"] <= e.onset + pd.DateOffset(months=EVENT_WINDOW_MONTHS))]
        out[(e.series_id, e.onset.strftime("%Y-%m"))] = float(own["score"].min()) if own["score"].notna().any() \
            else math.nan
    return out


def _engine_settings(engine: DisruptionEngine) -> dict:
    screen = engine.screen_stage
    return dict(max_lag=engine.max_lag, min_history=engine.min_history, max_history=engine.max_history,
                onset_threshold=screen.onset_threshold, base_threshold=screen.base_threshold,
                directions=("down",), seasonal_years=screen.seasonal_years, window=screen.window,
                outlier_threshold=engine.outlier_threshold, new_year_variance=engine.new_year_variance,
                nonseasonal_model=engine.nonseasonal_model)


def _pct(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _right(*headers: str) -> list[tuple[str, dict]]:
    return [(header, {"justify": "right"}) for header in headers]


def _table(result: Evaluation, series_path: Path, events_path: Path, wide: bool = False,
           width: int | None = None) -> str:
    """The terminal report: fitted to the width (``--wide``: one line per row), ending in a one-line summary."""
    scored, sweep = result.scored, result.sweep
    main_name, main = next(iter(scored.items()))
    header = (f"Walk-forward evaluation on {series_path} against {events_path}: {len(main.per_series)} series, "
              f"{main.series_years:.1f} judged series-years (ignore windows excluded), {main.n_events} judged events")
    detectors = new_table(["detector", *_right("caught", "recall", "false alarms", "FA/100 series-years",
                                               "precision", "median delay")], wide=wide)
    for name, r in scored.items():
        detectors.add_row(name, f"{r.n_caught}/{r.n_events}", _pct(r.recall), str(r.false_alarms),
                          _num(r.false_alarms_per_100_series_years), _pct(r.precision), _num(r.median_delay, 1))
    lowest = min(result.sweep["threshold"]) if len(result.sweep) else math.nan
    events = new_table(["series", "onset", "caught", *_right("delay"), "first flag",
                        *_right("caught up to threshold", "strongest z screen / model"),
                        f"reachable (z <= {result.critical_z:.2f})", "cause"], wide=wide)
    # Narrower: the event and its cause in one column, the verdict, delay and first flag in another.
    stacked = new_table(["event", "caught", *_right("caught up to threshold", "strongest z screen / model"),
                         f"reachable (z <= {result.critical_z:.2f})"], wide=wide)
    for e in main.event_table().itertuples(index=False):
        caught = "yes" if e.caught else ("no" if e.judged else "not judged")
        delay = "" if pd.isna(e.delay) else str(int(e.delay))
        first_flag = e.first_flag if isinstance(e.first_flag, str) else ""
        reach = _reach(result.strongest.get((e.series_id, e.onset), math.nan), lowest) if e.judged else ""
        evidence = _evidence_cells(result, (e.series_id, e.onset))
        events.add_row(e.series_id, e.onset, caught, delay, first_flag, reach, *evidence, e.cause)
        verdict = caught + (f", delay {delay}" if delay else "") + (f", first flag {first_flag}" if first_flag else "")
        stacked.add_row(f"{e.series_id} {e.onset}: {e.cause}", verdict, reach, *evidence)
    note = (f"(strongest z: the most negative z the screen and the confirmation model give in the event window, "
            f"whatever the verdict; an event is reachable when one reaches {result.critical_z:.2f}, the normal "
            f"quantile of a {FALSE_ALARM_BUDGET:g}-per-100-series-years false-alarm budget, "
            f"{FALSE_ALARM_BUDGET / 12:g} % of months)")
    listed = ", ".join(f"{s} {p:%Y-%m}" for s, p in main.false_alarm_periods.itertuples(index=False)) or "none"
    calibration = new_table(_right("threshold", "caught", "recall", "false alarms", "FA/100 series-years",
                                   "precision"), wide=wide)
    for r in sweep.itertuples(index=False):
        calibration.add_row(f"{r.threshold:g}", f"{r.caught}/{r.events}", _pct(r.recall), str(r.false_alarms),
                            _num(r.false_alarms_per_100_series_years), _pct(r.precision))
    held_out = new_table(["held out", *_right("threshold", "caught", "false alarms", "series-years")], wide=wide)
    for r in result.held_out.itertuples(index=False):
        held_out.add_row(r.series_id, _num(r.threshold, 2), f"{r.caught}/{r.events}", str(r.false_alarms),
                         _num(r.series_years, 1))
    return render(header, "", detectors, "", f"Events ({main_name}):", Layouts(events, stacked), note, "",
                  f"False alarms ({main_name}): {listed}", "",
                  "Threshold calibration (two-stage engine, same replay; flag when score <= -threshold):", calibration,
                  "", "Leave-one-series-out check (threshold chosen on the other series: best recall within "
                  "6 false alarms per 100 series-years; then scored on the held-out series):", held_out, "",
                  _summary(result), wide=wide, width=width)


def _summary(result: Evaluation) -> str:
    """One line: the engine's catch and false alarms, and the held-out check's catch."""
    main = next(iter(result.scored.values()))
    line = (f"{len(main.per_series)} series, {main.n_events} judged events; engine: {main.n_caught}/{main.n_events} "
            f"caught, {main.false_alarms} false alarm(s), {_num(main.false_alarms_per_100_series_years)} "
            "per 100 series-years")
    total = result.held_out[result.held_out["series_id"] == "all (held out)"]
    if len(total):
        line += f"; held out: {total.iloc[0]['caught']}/{total.iloc[0]['events']} caught"
    return line


def _reachable(result: Evaluation, key: tuple[str, str]) -> bool | None:
    """Whether either statistic reached the budget's critical z in the event window (None: no evidence)."""
    screen, model = result.evidence.get(key, (math.nan, math.nan))
    strongest = float(np.fmin(screen, model))
    return None if math.isnan(strongest) else bool(strongest <= result.critical_z)


def _evidence_cells(result: Evaluation, key: tuple[str, str]) -> tuple[str, str]:
    if key not in result.evidence:
        return "", ""
    screen, model = result.evidence[key]
    reachable = _reachable(result, key)
    return f"{_num(screen)} / {_num(model)}", "n/a" if reachable is None else ("yes" if reachable else "no")


def _reach(score: float, lowest: float) -> str:
    """The highest threshold that catches an event with this strongest score, or that none down to ``lowest`` does."""
    return f"< {lowest:g} (none)" if math.isnan(score) else f"{-score:.2f}"


def _document(result: Evaluation, skipped: list[str]) -> dict:
    scored, sweep, held_out = result.scored, result.sweep, result.held_out
    _, main = next(iter(scored.items()))
    events = main.event_table().astype(object).where(lambda f: f.notna(), None).to_dict(orient="records")
    for event in events:
        score = result.strongest.get((event["series_id"], event["onset"]), math.nan)
        event["caught_up_to_threshold"] = None if math.isnan(score) else round(-score, 4)
        key = (event["series_id"], event["onset"])
        screen, model = result.evidence.get(key, (math.nan, math.nan))
        event["strongest_screen_z"] = None if math.isnan(screen) else round(screen, 4)
        event["strongest_model_z"] = None if math.isnan(model) else round(model, 4)
        event["reachable_within_budget"] = _reachable(result, key)
    return {
        "detectors": [{"name": name, **r.summary()} for name, r in scored.items()],
        "false_alarm_budget": {"per_100_series_years": FALSE_ALARM_BUDGET,
                               "critical_z": round(result.critical_z, 4)},
        "events": events,
        "false_alarms": [{"series_id": s, "period": f"{p:%Y-%m}"}
                         for s, p in main.false_alarm_periods.itertuples(index=False)],
        "per_series": main.per_series.to_dict(orient="records"),
        "threshold_sweep": sweep.astype(object).where(sweep.notna(), None).to_dict(orient="records"),
        "leave_one_series_out": held_out.astype(object).where(held_out.notna(), None).to_dict(orient="records"),
        "skipped_series": skipped,
    }


def run_evaluate(series_path: Path, events_path: Path, fmt: str = "table", engine: DisruptionEngine | None = None,
                 out: TextIO | None = None, err: TextIO | None = None, wide: bool = False) -> int:
    """Run the command; returns the exit code (0 ok, 1 some series skipped, 2 unusable input)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        events = read_events_csv(Path(events_path))
    except EventsFileError as error:
        print(f"chainwatch: {error}", file=err)
        return EXIT_UNUSABLE
    data = load_series(Path(series_path), err)
    if data is None:
        return EXIT_UNUSABLE
    result = evaluate_detectors(data.frame, events, engine)
    if fmt == "json":
        out.write(json.dumps(_document(result, data.skipped), ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(_table(result, Path(series_path), Path(events_path), wide=wide) + "\n")
    return EXIT_SOME_SKIPPED if data.problems else EXIT_OK
