"""The words chainwatch's packages share: early-warning levels, the columns of the
common tables and the partner codes that are not one supplier.

One definition each, imported by ``indicators/``, ``alerts/`` and ``monitor/``.
This module imports nothing at all (not even the standard library), so ``alerts/``
may import it without pulling in pandas or any statistics: it is the one module of
``indicators/`` that ``alerts/`` may import (``tests/test_package_boundaries.py``,
docs/architecture.md).
"""

__all__ = [
    "LEVELS",
    "UNKNOWN",
    "ALL_LEVELS",
    "LEVEL_NAMES_ZH",
    "level_index",
    "OBSERVATION_COLUMNS",
    "TRADE_FLOW_COLUMNS",
    "FLOWS",
    "WORLD_PARTNERS",
    "UNSPECIFIED_AREAS",
    "OVERLAPPING_AGGREGATES",
    "AGGREGATE_PARTNERS",
    "RESIDUAL_PARTNERS",
    "DEFAULT_RESIDUAL",
    "UNALLOCATED",
]

# ---------------------------------------------------------------------------
# early-warning levels

#: Early-warning levels in increasing order of severity; :func:`level_index` is the position.
LEVELS = ("none", "blue", "yellow", "orange", "red")

#: The level of a subject with too little data to judge: neither safe ("none") nor at
#: risk. Outside the severity ladder: :func:`level_index` gives -1, so it reaches no
#: threshold and raises no alert.
UNKNOWN = "unknown"

#: Every level a subject can have, :data:`LEVELS` then :data:`UNKNOWN` (the keys of
#: any per-level table: colours, marks, names).
ALL_LEVELS = (*LEVELS, UNKNOWN)

#: The levels' names in Chinese texts (蓝/黄/橙/红 as the seed's four-level warnings say them).
LEVEL_NAMES_ZH = {"none": "无", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色", "unknown": "未知"}


def level_index(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS` (0 = none ... 4 = red; -1 for :data:`UNKNOWN`).

    Raises ValueError naming the level when it is neither one of :data:`LEVELS` nor
    :data:`UNKNOWN`.
    """
    if level == UNKNOWN:
        return -1
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}") from None


# ---------------------------------------------------------------------------
# table columns

#: Columns of an observation table: ``period`` a month start, ``value`` a float in the series' unit.
OBSERVATION_COLUMNS = ("series_id", "period", "value")

#: Columns of a trade-flow table: ``reporter``/``partner`` ISO alpha-3 (``WORLD`` for
#: the world); ``product`` an HS code; ``flow`` ``M`` (imports) or ``X`` (exports);
#: ``value`` in USD; ``quantity`` in kg or NaN.
TRADE_FLOW_COLUMNS = ("reporter", "partner", "product", "flow", "period", "value", "quantity")

#: Trade flows: imports and exports (re-exports and re-imports are not collected).
FLOWS = ("M", "X")

# ---------------------------------------------------------------------------
# partner codes that are not one supplier (matched on ``str(partner).strip().upper()``)

#: "All partners": UN Comtrade's World (partnerISO ``W00``, partnerCode ``0``), ``WLD``
#: (WITS / World Bank), Comext ``WORLD``, ``WORLD TOTAL``, ``TOTAL``, ``ALL``.
WORLD_PARTNERS = frozenset({"WORLD", "W00", "0", "WLD", "WORLD TOTAL", "TOTAL", "ALL"})

#: Trade without an identifiable partner: Comtrade ``_X`` "Areas, not elsewhere
#: specified". It is trade (it counts in a total) but no supplier.
UNSPECIFIED_AREAS = frozenset({"_X"})

#: Eurostat Comext partner aggregates; they overlap their member-state rows, so they
#: are never added to a total.
OVERLAPPING_AGGREGATES = frozenset({"EU27_2020", "EXT_EU27_2020", "INT_EU27_2020"})

#: Every partner code that stands for an aggregate of partners, not one supplier.
AGGREGATE_PARTNERS = WORLD_PARTNERS | UNSPECIFIED_AREAS | OVERLAPPING_AGGREGATES

#: Names used for "everyone else" (USGS "Other countries", the rest of the world that
#: ``indicators.concentration.residual_from_totals`` creates): suggested
#: ``residual_partners``, never applied unless passed.
RESIDUAL_PARTNERS = frozenset({"OTHER COUNTRIES", "REST OF WORLD", "OTHERS", "ROW"})

#: Partner label of the row ``residual_from_totals`` creates.
DEFAULT_RESIDUAL = "REST OF WORLD"

#: Partner label for the part of a World total that no named partner accounts for (a
#: source that lists only some partners beside its World row): not a supplier, only
#: the gap in what is known.
UNALLOCATED = "UNALLOCATED"
