"""Real-time data: judge every month with the data vintage that was known then.

Pure computation, no I/O. Published statistics are revised (the Fed revises G.17
industrial production every month and once a year; trade data are revised for
months). A replay that judges month *t* on today's revised values uses information
the live service did not have at *t*. When the data carry a ``vintage`` (the
publication or retrieval date of each value), a replay judges each month *t* on the
**vintage in which t was first published**, as the live service did when *t* arrived:

* the first release of *t* is :math:`v^*(t) = \\min\\{v : (t, v) \\text{ observed}\\}`;
* the data used for *t* hold, for every month :math:`p \\le t`, the value of the
  latest vintage :math:`v \\le v^*(t)` that has *p* (a month no such vintage has is
  missing); later revisions, even of *t* itself, are never read.

This is the "real-time data set" design of Croushore & Stark (2001), *Journal of
Econometrics* 105, 111-130 (a matrix of vintages, one column per release date).
Without a ``vintage`` column every value is its own and only vintage, and a replay
is the plain walk-forward replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

__all__ = ["VINTAGE_COLUMN", "has_vintages", "latest_values", "replay_by_vintage", "vintage_snapshots"]

#: Optional column of a long ``series_id, period, value`` table: when the value was
#: published (a date or an ISO string; anything that sorts in time order).
VINTAGE_COLUMN = "vintage"
_KEY = ["series_id", "period"]


def has_vintages(frame) -> bool:
    """Whether ``frame`` is a long table with a ``vintage`` column."""
    return isinstance(frame, pd.DataFrame) and VINTAGE_COLUMN in frame.columns


def _checked(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in (*_KEY, "value", VINTAGE_COLUMN) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing column {missing[0]!r} (needs series_id, period, value, vintage)")
    if frame[VINTAGE_COLUMN].isna().any():
        pos = int(frame[VINTAGE_COLUMN].isna().to_numpy().nonzero()[0][0])
        raise ValueError(f"series {frame['series_id'].iloc[pos]!r}: empty vintage at row {pos}")
    dup = frame.duplicated([*_KEY, VINTAGE_COLUMN])
    if dup.any():
        pos = int(dup.to_numpy().nonzero()[0][0])
        raise ValueError(f"series {frame['series_id'].iloc[pos]!r} has more than one value for period "
                         f"{frame['period'].iloc[pos]} in vintage {frame[VINTAGE_COLUMN].iloc[pos]}")
    return frame


def latest_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``series_id, period, value`` at the latest vintage of each (series, period).

    What a live run sees: the newest published value of every month. A table
    without ``vintage`` is returned as it is.
    """
    if not has_vintages(frame):
        return frame
    frame = _checked(frame)
    latest = frame.sort_values([*_KEY, VINTAGE_COLUMN], kind="stable").drop_duplicates(_KEY, keep="last")
    return latest.drop(columns=[VINTAGE_COLUMN]).reset_index(drop=True)


def vintage_snapshots(frame: pd.DataFrame) -> Iterator[tuple[object, pd.DataFrame, pd.DataFrame]]:
    """Per vintage *v* (in time order): the data as known at *v* and the months first published in it.

    Yields
    ------
    (vintage, snapshot, cells)
        ``snapshot``: ``series_id, period, value`` with each (series, period) at its
        latest vintage :math:`\\le v`; ``cells``: ``series_id, period`` of the months
        whose first release is *v* (the months to judge on this snapshot). Vintages
        that first publish nothing are skipped.
    """
    frame = _checked(frame)
    ordered = frame.sort_values([VINTAGE_COLUMN, *_KEY], kind="stable").reset_index(drop=True)
    first = ordered.drop_duplicates(_KEY, keep="first")
    for vintage, cells in first.groupby(VINTAGE_COLUMN, sort=True):
        known = ordered[ordered[VINTAGE_COLUMN] <= vintage]
        snapshot = known.drop_duplicates(_KEY, keep="last")[[*_KEY, "value"]].reset_index(drop=True)
        yield vintage, snapshot, cells[_KEY].reset_index(drop=True)


def replay_by_vintage(frame: pd.DataFrame, judge: Callable[[pd.DataFrame, pd.DataFrame], list]) -> list:
    """Run ``judge(snapshot, cells)`` once per vintage and collect what it returns.

    ``judge`` gets the data as known at a vintage and the (series, period) cells first
    published in it, and returns one result per cell it judges; every cell is judged
    exactly once, on the vintage of its first release.
    """
    results: list = []
    for _, snapshot, cells in vintage_snapshots(frame):
        results.extend(judge(snapshot, cells))
    return results
