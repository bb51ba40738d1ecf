"""``chainwatch detect``: disruption detection on a long CSV (contract in docs/cli.md).

Reads ``series_id,period,value``, skips (and reports on stderr) every series with bad
input, runs the two-stage engine (:class:`indicators.disruption_engine.DisruptionEngine`)
on the others and prints one record per flagged (series, period).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from indicators.disruption import DetectionResult
from indicators.disruption_engine import DisruptionEngine
from monitor.cli.series_input import SeriesFileError, SeriesInput, read_series_csv

__all__ = ["EXIT_OK", "EXIT_SOME_SKIPPED", "EXIT_UNUSABLE", "OUTPUT_COLUMNS", "flagged_records", "run_detect"]

#: Output record of ``chainwatch detect`` (docs/cli.md).
OUTPUT_COLUMNS = ["series_id", "period", "method", "direction", "observed", "expected", "lower", "upper",
                  "score", "explanation"]
EXIT_OK = 0
#: Some series were skipped (reported on stderr); the output covers the others.
EXIT_SOME_SKIPPED = 1
#: Nothing usable: missing/empty file, missing columns, or every series bad.
EXIT_UNUSABLE = 2


def flagged_records(results: list[DetectionResult]) -> pd.DataFrame:
    """The output table (docs/cli.md) of the flagged verdicts."""
    records = [{
        "series_id": r.series_id, "period": r.period.strftime("%Y-%m"), "method": r.method,
        "direction": r.direction, "observed": r.observed, "expected": r.expected, "lower": r.lower,
        "upper": r.upper, "score": r.score, "explanation": r.explanation_en,
    } for r in results if r.status == "flagged"]
    return pd.DataFrame(records, columns=OUTPUT_COLUMNS)


def load_series(path: Path, err: TextIO) -> SeriesInput | None:
    """Read the file; print one line per skipped series; None when nothing is usable."""
    try:
        data = read_series_csv(path)
    except SeriesFileError as error:
        print(f"chainwatch: {error}", file=err)
        return None
    for problem in data.problems:
        print(f"chainwatch: {problem.describe(path)}", file=err)
    if data.frame.empty:
        print(f"chainwatch: {path}: no usable series", file=err)
        return None
    return data


def run_detect(path: Path, replay: bool = False, fmt: str = "json", engine: DisruptionEngine | None = None,
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 1 some series skipped, 2 unusable)."""
    out = out or sys.stdout
    err = err or sys.stderr
    data = load_series(Path(path), err)
    if data is None:
        return EXIT_UNUSABLE
    engine = engine or DisruptionEngine()
    results = engine.replay(data.frame) if replay else engine.detect(data.frame)
    table = flagged_records(results)
    if fmt == "csv":
        out.write(table.to_csv(index=False))
    else:
        out.write((table.to_json(orient="records", force_ascii=False, indent=2) if len(table) else "[]") + "\n")
    # For people, on stderr: standard output stays the documented JSON/CSV.
    judged = data.frame["series_id"].nunique()
    skipped = {p.series_id for p in data.problems if p.series_id is not None}
    rows = sum(p.series_id is None for p in data.problems)
    print(f"{judged} series, {table['series_id'].nunique()} flagged ({len(table)} flagged period(s)), "
          f"{len(skipped)} skipped" + (f", {rows} row(s) without a series skipped" if rows else ""), file=err)
    return EXIT_SOME_SKIPPED if data.problems else EXIT_OK
