"""A reporter's total trade per month from bilateral rows, without counting the World twice.

Bilateral sources deliver both the partners and, often, the World total of the same
reporter, HS code and month (UN Comtrade partner ``0``, Comext ``WORLD``, the Census
``TOTAL FOR ALL COUNTRIES``). Summing every row would double the total; summing only the
partners would lose what the source could not allocate. So, per HS code and month, the
total is the World row where the source gave one, else the sum of the partner rows
(the unallocated ``_X`` included: it is trade, only without a known partner). Other
partner aggregates (EU, extra-EU) overlap their member rows and are left out.

Units: those of ``value`` (USD in the trade-flow model). Pure; no I/O.
"""

from __future__ import annotations

import pandas as pd

from indicators.tables import partner_kinds
from indicators.vocabulary import OVERLAPPING_AGGREGATES, WORLD_PARTNERS

__all__ = ["OVERLAPPING_AGGREGATES", "WORLD_PARTNERS", "monthly_totals"]  # the partner codes re-exported


def monthly_totals(flows: pd.DataFrame) -> pd.Series:
    """Total ``value`` per ``period`` over the HS codes in ``flows`` (index sorted by period).

    ``flows`` needs the columns ``product``, ``partner``, ``period`` and ``value``.
    """
    if flows.empty:
        return pd.Series(dtype=float, name="value")
    is_world, is_overlapping = partner_kinds(flows["partner"])
    partners = flows[~is_world & ~is_overlapping].groupby(["product", "period"])["value"].sum()
    if is_world.any():  # (combine_first costs more than the rest; many sources give no World rows)
        world = flows[is_world].groupby(["product", "period"])["value"].sum()
        totals = world.combine_first(partners)  # World where given, else the partners' sum
    else:
        totals = partners
    return totals.groupby(level="period").sum().sort_index().rename("value")
