"""Idempotent, chunked ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# SQLite allows 32766 bound parameters per statement; PostgreSQL 65535.
_MAX_PARAMETERS = 30000


def upsert(session: Session, table: Table, rows: Sequence[dict], keys: Iterable[str]) -> int:
    """Insert ``rows`` into ``table``; rows whose ``keys`` exist are updated in place.

    Re-running with the same rows changes nothing, so a repeated collection adds no
    duplicates. Runs inside the caller's transaction.
    """
    if not rows:
        return 0
    keys = list(keys)
    dialect = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    columns = list(rows[0])
    chunk = max(1, _MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), chunk):
        statement = insert(table).values(rows[start : start + chunk])
        updates = {c: statement.excluded[c] for c in columns if c not in keys}
        if updates:
            statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        session.execute(statement)
    return len(rows)
