"""Tables for people at a terminal (rich): fitted to its width, wrapped between words.

A table is rendered to text here and printed by the command, so every command keeps
returning strings (and tests read them). The width is the terminal's (``COLUMNS``
when set, else 120 when the output is not a terminal); ``wide`` renders every cell on
one line whatever the width (``--wide``, e.g. for ``grep``). Colour only when standard
output is a terminal and ``NO_COLOR`` is unset.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Sequence

from rich.console import Console
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


def render(*parts: object, wide: bool = False, width: int | None = None) -> str:
    """``parts`` (strings, rich Texts or Tables) as text, one after another, without trailing spaces."""
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    buffer = io.StringIO()
    console = Console(file=buffer, width=_WIDE if wide else (width or terminal_width()), force_terminal=colour,
                      no_color=not colour, markup=False, highlight=False, emoji=False, soft_wrap=wide)
    for part in parts:
        console.print(part)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())
