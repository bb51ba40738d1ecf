"""The shape of collected data, shared by collection and storage.

Column tuples of the common model (defined in :mod:`indicators.vocabulary`), the provenance and estimate-flag vocabulary, and
the batch a collector returns. Nothing here fetches or stores anything: it is the
lowest stage of ``monitor/`` (docs/architecture.md), so collectors and storage both
import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from indicators.events import Event
from indicators.vocabulary import OBSERVATION_COLUMNS, TRADE_FLOW_COLUMNS  # noqa: F401  (the common model, re-exported)

PROVENANCE_COLUMNS = ("provenance", "cif_fob_factor", "estimate_flags")
"""Optional trade-flow columns: ``provenance`` is :data:`REPORTED` (the reporter's own
figure; also when the column is absent) or :data:`MIRROR` (the partner's report of the
opposite flow, standing in for a period the reporter has not reported);
``cif_fob_factor`` the factor a mirror value was adjusted by (NaN: not adjusted);
``estimate_flags`` see :data:`ESTIMATE_FLAGS` (None: a reported figure)."""
REPORTED = "reported"
MIRROR = "mirror"
ESTIMATE_FLAGS = "estimate_flags"
"""Optional trade-flow column: the kinds of estimate the source flagged for the value,
comma-separated in :data:`ESTIMATE_KINDS` order (empty/None: a reported figure). See
docs/provenance.md and :func:`estimate_flags`."""
ESTIMATE_KINDS = ("not_reported", "estimated", "provisional", "netwgt_estimated", "qty_estimated",
                  "altqty_estimated", "confidential", "mirror", "other")
"""Every kind :data:`ESTIMATE_FLAGS` may hold, in their canonical order.

``not_reported``: Comtrade ``isReported: false`` (the figure is UN Statistics' estimate,
not the reporter's); ``estimated``: the value is an estimate (Comtrade
``legacyEstimationFlag`` other than 0, Eurostat status ``e``, a file's flag);
``provisional``: may still be revised (Eurostat ``p``); ``netwgt_estimated``,
``qty_estimated``, ``altqty_estimated``: Comtrade's net weight, quantity or alternative
quantity is estimated (the value itself is not); ``confidential``: Eurostat ``c``
(the value is partial); ``mirror``: the partner's figure standing in for the reporter's;
``other``: any further source flag (e.g. Eurostat ``b`` break in series, ``u`` low
reliability)."""
VALUE_ESTIMATE_KINDS = frozenset({"not_reported", "estimated", "provisional", "confidential", "mirror", "other"})
"""Kinds that make the *value* an estimate (the weight/quantity kinds leave it reported)."""


def estimate_flags(kinds) -> str | None:  # noqa: ANN001
    """The stored encoding of ``kinds`` (an iterable of :data:`ESTIMATE_KINDS`): sorted, comma-separated, or None.

    Unknown kinds raise :class:`ValueError`; duplicates collapse.
    """
    wanted = {k.strip() for k in kinds if k and k.strip()}
    unknown = sorted(wanted - set(ESTIMATE_KINDS))
    if unknown:
        raise ValueError(f"unknown estimate kind(s) {unknown} (known: {', '.join(ESTIMATE_KINDS)})")
    return ",".join(k for k in ESTIMATE_KINDS if k in wanted) or None


def estimate_kinds(flags: object) -> tuple[str, ...]:
    """The kinds encoded in a stored ``estimate_flags`` value (None/NaN/empty: none)."""
    if not isinstance(flags, str) or not flags:
        return ()
    return tuple(k for k in flags.split(",") if k)


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
    """The rows come from the demo simulator (stored with ``simulated`` marks)."""
    released: datetime | None = None
    """When the release the rows come from was published (timezone-aware), where the
    source says so: the newest vintage of a row is the one with the latest
    ``released`` (its retrieval time when unknown). See docs/provenance.md. A source
    holding several releases (USGS MCS world files) gives ``observations`` their own
    ``vintage`` and ``released_at`` (timezone-aware) columns instead."""
    events: list[Event] = field(default_factory=list)
    """Policy and supply events (an event source's batch; docs/events.md)."""
    rejected: dict[str, int] = field(default_factory=dict)
    """Rows the collector dropped, by reason (``negative``, ``unknown_country``...)."""
    requests: int = 0
    """HTTP requests the collection needed (0 for offline sources)."""


EVENTS_KEY = "events"
"""The :attr:`CollectionWindow.latest` key of an event source: its latest stored announcement day."""


def trade_key(reporter: str, product: str, flow: str) -> str:
    """The :attr:`CollectionWindow.latest` key of a reporter's flow of a product."""
    return f"{reporter}/{product}/{flow}"
