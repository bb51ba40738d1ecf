"""The row type every benchmark returns, and the table the runner prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchRow:
    """One measured quantity."""

    benchmark: str
    case: str
    value: float
    unit: str
    target: str = ""
    note: str = ""


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table of ``rows``."""
    header = ("benchmark", "case", "value", "unit", "target", "note")
    cells = [header] + [
        (r.benchmark, r.case, f"{r.value:,.3f}" if abs(r.value) < 100 else f"{r.value:,.0f}", r.unit, r.target, r.note)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
