"""``chainwatch detect``: disruption detection on a long CSV (contract in docs/cli.md).

Reads ``series_id,period,value``, skips (and reports on stderr) every series with bad
input, runs the two-stage engine (:class:`indicators.disruption_engine.DisruptionEngine`)
on the others and prints one record per flagged (series, period).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd

from indicators.disruption import DetectionResult
from indicators.disruption_engine import DisruptionEngine
from monitor.cli.series_input import SeriesFileError, SeriesInput, read_series_file
from monitor.collect.columnar import return_freed_memory

__all__ = ["DEFAULT_CHUNK_SIZE", "EXIT_OK", "EXIT_SOME_SKIPPED", "EXIT_UNUSABLE", "OUTPUT_COLUMNS", "flagged_records", "run_detect"]

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
        data = read_series_file(path)
    except SeriesFileError as error:
        print(f"chainwatch: {error}", file=err)
        return None
    for problem in data.problems:
        print(f"chainwatch: {problem.describe(path)}", file=err)
    if data.empty:
        print(f"chainwatch: {path}: no usable series", file=err)
        return None
    return data


#: Series judged at a time by ``detect`` (its peak memory grows with it; docs/cli.md).
DEFAULT_CHUNK_SIZE = 5_000


def run_detect(path: Path, replay: bool = False, fmt: str = "json", engine: DisruptionEngine | None = None,
               out: TextIO | None = None, err: TextIO | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Run the command; returns the exit code (0 ok, 1 some series skipped, 2 unusable).

    Series are judged ``chunk_size`` at a time and each chunk's findings are written
    as soon as it is done (the output is the same as judging all at once: every
    series is judged on its own, on the calendar of the whole file).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    return_freed_memory()  # the file's text must not stay under the engine's arrays
    data = load_series(Path(path), err)
    if data is None:
        return EXIT_UNUSABLE
    engine = engine or DisruptionEngine()
    writer = _FindingsWriter(out, fmt)
    if data.vintages is not None:  # real-time replay needs every vintage of a series at once
        writer.write(flagged_records(engine.replay(data.frame) if replay else engine.detect(data.frame)))
    else:
        with _progress(err, data.series_count) as advance:
            for matrix in data.matrices(chunk_size):
                results = engine.replay(matrix) if replay else engine.detect(matrix)
                writer.write(flagged_records(results))
                advance(len(matrix.ids))
    writer.close()
    # For people, on stderr: standard output stays the documented JSON/CSV.
    skipped = data.skipped
    rows = sum(p.series_id is None for p in data.problems)
    print(f"{data.series_count} series, {len(writer.series)} flagged ({writer.count} flagged period(s)), "
          f"{len(skipped)} skipped" + (f", {rows} row(s) without a series skipped" if rows else ""), file=err)
    return EXIT_SOME_SKIPPED if data.problems else EXIT_OK


class _FindingsWriter:
    """Writes the findings table chunk by chunk, byte for byte as one ``to_json``/``to_csv`` of it all."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out, self.fmt, self.count = out, fmt, 0
        self.series: set[str] = set()

    def write(self, table: pd.DataFrame) -> None:
        if self.fmt == "csv":
            self.out.write(table.to_csv(index=False, header=self.count == 0))
        elif len(table):
            body = table.to_json(orient="records", force_ascii=False, indent=2)
            self.out.write(("[\n" if self.count == 0 else ",\n") + body[2:-2])
        self.count += len(table)
        self.series.update(table["series_id"])
        self.out.flush()

    def close(self) -> None:
        if self.fmt != "csv":
            self.out.write("\n]\n" if self.count else "[]\n")


@contextmanager
def _progress(err: TextIO, total: int):
    """A progress bar on a terminal (rich); nothing when stderr is a file or a pipe."""
    if not (hasattr(err, "isatty") and err.isatty()):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("judging series"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=err), transient=True) as bar:
        task = bar.add_task("detect", total=total)
        yield lambda n: bar.advance(task, n)
