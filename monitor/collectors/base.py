"""The contract every collector keeps.

A collector fetches one source and returns a :class:`CollectedBatch`: plain pandas
tables in the common model. Storage writes a batch in one transaction, so a
collector never touches the database and a failed fetch leaves stored data intact.

Exception tree::

    CollectionError (RuntimeError)   one source could not be collected; message names
                                     the source and URL/file, never a secret
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

OBSERVATION_COLUMNS = ("series_id", "period", "value")
"""``period`` is a month-start ``Timestamp``; ``value`` a float in the series' unit."""

TRADE_FLOW_COLUMNS = ("reporter", "partner", "product", "flow", "period", "value", "quantity")
"""``reporter``/``partner`` ISO alpha-3 (``WORLD`` for the world); ``product`` an HS code;
``flow`` ``M`` (imports) or ``X`` (exports); ``value`` in USD; ``quantity`` in kg or NaN."""


class CollectionError(RuntimeError):
    """A source could not be collected."""


@dataclass(frozen=True)
class SeriesInfo:
    """Metadata of one observation series."""

    series_id: str
    source: str
    unit: str
    description: str
    chain: str | None = None
    node: str | None = None


@dataclass
class CollectedBatch:
    """What one collection of one source returned."""

    source: str
    vintage: str
    series: list[SeriesInfo] = field(default_factory=list)
    observations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(OBSERVATION_COLUMNS))
    )
    trade_flows: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(TRADE_FLOW_COLUMNS))
    )
    simulated: bool = False


class Collector(Protocol):
    """Fetches one source."""

    source_id: str

    def collect(self) -> CollectedBatch:
        """Fetch and return everything this source currently offers (raises CollectionError)."""
        ...
