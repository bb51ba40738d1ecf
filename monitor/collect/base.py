"""The contract every collector keeps.

A collector fetches one source and returns a :class:`CollectedBatch`: plain pandas
tables in the common model. Storage writes a batch in one transaction, so a
collector never touches the database and a failed fetch leaves stored data intact.

Exception tree::

    CollectionError (RuntimeError)   one source could not be collected; message names
                                     the source and URL/file, never a secret
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from monitor.records import CollectedBatch


class CollectionError(RuntimeError):
    """A source could not be collected."""


@dataclass(frozen=True)
class CollectionWindow:
    """Which periods an incremental collector fetches.

    ``latest`` maps a key (a ``series_id``, or ``reporter/product/flow`` for trade
    flows) to the latest period already stored for it. A key is fetched from
    ``latest - lookback_months`` (revisions of recent months are caught), a key never
    stored from the source's configured start; ``since`` (``chainwatch collect
    --since``) overrides both.
    """

    since: date | None = None
    latest: Mapping[str, date] = field(default_factory=dict)
    lookback_months: int = 0

    def start_for(self, key: str, default: date) -> date:
        """First period to fetch for ``key``."""
        if self.since is not None:
            return self.since
        last = self.latest.get(key)
        if last is None:
            return default
        months = last.year * 12 + last.month - 1 - self.lookback_months
        start = date(months // 12, months % 12 + 1, 1)
        return max(start, default)

    def start_for_all(self, keys: list[str], default: date) -> date:
        """The earliest :meth:`start_for` of ``keys`` (one request serves them all)."""
        return min((self.start_for(k, default) for k in keys), default=default)


class Collector(Protocol):
    """Fetches one source."""

    source_id: str

    def collect(self) -> CollectedBatch:
        """Fetch and return everything this source currently offers (raises CollectionError)."""
        ...


class IncrementalCollector(Protocol):
    """A network collector: fetches only the periods a :class:`CollectionWindow` asks for."""

    source_id: str
    incremental: bool  # always True; lets the runner tell it from a plain Collector
    lookback_months: int

    def collect(self, window: CollectionWindow | None = None) -> CollectedBatch:
        """Fetch the window (None: everything from the configured start); raises CollectionError."""
        ...

    def close(self) -> None:
        """Release the HTTP connections."""
        ...
