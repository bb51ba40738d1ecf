"""Distinct values of a key column, one index seek each (a "loose index scan").

``SELECT max(period) FROM trade_flows WHERE reporter = ?`` reads every stored row of the
reporter: the key is ``(reporter, product, flow, period, …)``, so ``period`` is
ordered only within one ``(reporter, product, flow)``. Neither SQLite nor PostgreSQL
before 18 skips through the key by itself. A recursive query can: each step seeks
the next distinct product after the current one, and the question is then asked
per ``(product, flow)``, where the key orders ``period`` and ``max``/``EXISTS`` is one
seek. That turns a scan of millions of rows into a few seeks per product (tens of
thousands for a national catalog). The technique is the PostgreSQL wiki's "Loose
indexscan" (https://wiki.postgresql.org/wiki/Loose_indexscan). One column at a time:
SQLite seeks a row-value comparison ``(product, flow) > (?, ?)`` on its first column
only, and would then read the whole current group.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import CTE, Table, func, select


def distinct_values(table: Table, fixed: Mapping[str, object], column: str, name: str) -> CTE:
    """A recursive CTE (one column, ``column``) of each distinct value of it where ``fixed`` holds.

    The ``fixed`` columns (column: value) followed by ``column`` must lead an index of
    ``table`` (its primary key here), else each step is a scan. The CTE's last row is
    NULL (the step that found nothing): filter with ``cte.c[column].is_not(None)``.
    """
    conditions = [table.c[c] == v for c, v in fixed.items()]
    target = table.c[column]
    values = select(func.min(target).label(column)).where(*conditions).cte(name, recursive=True)
    following = select(func.min(target)).where(*conditions, target > values.c[column]).scalar_subquery()
    return values.union_all(select(following.label(column)).where(values.c[column].is_not(None)))
