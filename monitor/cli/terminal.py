"""Tables for people at a terminal (rich): fitted to its width, wrapped between words.

A table is rendered to text here and printed by the command, so every command keeps
returning strings (and tests read them). The width is the terminal's (``COLUMNS``
when set, else 120 when the output is not a terminal); ``wide`` renders every cell on
one line whatever the width (``--wide``, e.g. for ``grep``). Colour only when standard
output is a terminal and ``NO_COLOR`` is unset.

Column widths are chosen here, not by rich: rich narrows the widest columns below their
longest word when a table is too wide, and so cuts words. Here a column never gets less
than its longest word; a table whose longest words alone exceed the width is printed in
another, narrower layout (:class:`Layouts`), and failing all as one block of
``header  value`` lines per row.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: Colour of each early-warning level (the report's palette, as terminal colours).
LEVEL_STYLES = {"none": "", "blue": "blue", "yellow": "yellow", "orange": "dark_orange", "red": "bold red",
                "unknown": "dim"}
_WIDE = 100_000  # "no width limit": rich sizes an unexpanded table to its content


def terminal_width() -> int:
    """Columns available: the terminal's, ``COLUMNS``, or 120 when output goes to a pipe or file."""
    return shutil.get_terminal_size(fallback=(120, 24)).columns


def level_text(level: str) -> Text:
    """A level name in its colour."""
    return Text(level, style=LEVEL_STYLES.get(level, ""))


def new_table(columns: Sequence[str | tuple[str, dict]], wide: bool = False) -> Table:
    """A borderless table; a column is a header or ``(header, options)`` (e.g. ``{"justify": "right"}``).

    Without ``wide`` long cells wrap between words (rich folds only a word longer than
    its column); with it no cell wraps.
    """
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False)
    for column in columns:
        header, options = (column, {}) if isinstance(column, str) else (column[0], dict(column[1]))
        no_wrap = options.pop("no_wrap", False) or wide
        # fold: a word longer than its column is split rather than cut off with "…"
        table.add_column(header, no_wrap=no_wrap, overflow="fold", **options)
    return table


class Layouts:
    """One table in several layouts, most detailed first: of those that fit the width whole-word, the one
    taking the fewest lines is printed (the earlier on a tie)."""

    def __init__(self, *tables: Table) -> None:
        self.tables = tables


def fit_columns(table: Table, console: Console, width: int) -> bool:
    """Give every column of ``table`` a width so that the table fits ``width`` and no word is cut.

    Columns start at their longest line; while the table is too wide the widest column
    that can still wrap loses a character, never going below its longest word. False
    (and the table untouched) when the longest words alone do not fit.
    """
    columns = table.columns
    if not columns:
        return True
    _, right, _, left = table.padding
    padding = (left + right) * len(columns) - (0 if table.pad_edge else left + right)
    lows, highs, bodies = [], [], []
    for column in columns:
        sizes = [Measurement.get(console, console.options, cell) for cell in (column.header, *column.cells)]
        high = max(size.maximum for size in sizes)
        low = high if column.no_wrap else max(size.minimum for size in sizes)
        low = max(low, column.min_width or 0)
        lows.append(low)
        highs.append(max(high, low))
        bodies.append(max([low, *(size.maximum for size in sizes[1:])]))
    room = width - padding
    if sum(lows) > room:
        return False
    # Headers wrap first (to their cells' width), then the widest cells.
    widths = list(highs) if sum(highs) <= room else bodies
    while sum(widths) > room:
        widest = max((i for i in range(len(widths)) if widths[i] > lows[i]), key=lambda i: widths[i])
        widths[widest] -= 1
    for column, column_width in zip(columns, widths):
        column.width = column_width
    return True


def as_records(table: Table) -> Table:
    """``table`` as one block of ``header  value`` lines per row (the layout of last resort)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    headers = [column.header for column in table.columns]
    for index, row in enumerate(zip(*(list(column.cells) for column in table.columns))):
        if index:
            grid.add_row("", "")
        for header, cell in zip(headers, row):
            if cell != "":
                grid.add_row(header, cell)
    return grid


def _fitted(part: object, console: Console) -> object:
    """A table (or the first of its layouts) with widths that fit the console, else as records."""
    tables = part.tables if isinstance(part, Layouts) else (part,) if isinstance(part, Table) else None
    if tables is None or any(t.box is not None for t in tables):  # borders: not measured here
        return part
    fitting = [table for table in tables if fit_columns(table, console, console.width)]
    if not fitting:
        return as_records(tables[-1])
    return min(fitting, key=lambda table: _height(table, console)) if len(fitting) > 1 else fitting[0]


def _height(table: Table, console: Console) -> int:
    """Lines ``table`` takes on ``console``."""
    return len(console.render_lines(table, console.options, pad=False))


def render(*parts: object, wide: bool = False, width: int | None = None) -> str:
    """``parts`` (strings, rich Texts, Tables or :class:`Layouts`) as text, one after another,
    without trailing spaces."""
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    buffer = io.StringIO()
    console = Console(file=buffer, width=_WIDE if wide else (width or terminal_width()), force_terminal=colour,
                      no_color=not colour, markup=False, highlight=False, emoji=False, soft_wrap=wide)
    for part in parts:
        if wide:
            part = part.tables[0] if isinstance(part, Layouts) else part
        else:
            part = _fitted(part, console)
        console.print(part)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())
