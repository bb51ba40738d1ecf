"""Idempotent, chunked ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_CHUNK_ROWS = 20000


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
    statement = insert(table)
    updates = {c: statement.excluded[c] for c in columns if c not in keys}
    if updates:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    # One compiled statement, executed with parameter lists: SQLAlchemy batches it
    # ("insertmanyvalues") instead of compiling a huge VALUES clause per chunk.
    for start in range(0, len(rows), _CHUNK_ROWS):
        session.execute(statement, list(rows[start : start + _CHUNK_ROWS]))
    return len(rows)
