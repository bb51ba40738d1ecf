"""Idempotent ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL: chunked, and in bulk (``COPY``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
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


_PG_COPY_TYPES = {"STRING": "varchar", "VARCHAR": "varchar", "TEXT": "text", "DATE": "date", "FLOAT": "float8",
                  "DATETIME": "timestamptz", "INTEGER": "int4", "BOOLEAN": "bool"}


def bulk_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: Sequence[str],
                compare: Sequence[str]) -> int:
    """Insert the rows of ``frame`` (columns named as ``table``'s) in bulk; returns rows inserted or changed.

    A row whose ``keys`` are stored already is updated only when one of its
    ``compare`` columns differs (NULL = NULL counts as equal), so re-ingesting the
    same rows writes nothing. ``frame`` must not repeat a key. Date and timestamp
    columns are pandas datetime64 (naive dates) or one ``datetime`` for the whole
    frame. Runs inside the caller's transaction.

    PostgreSQL: binary ``COPY`` into a temporary staging table, then one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE`` (rows sorted by key, so the
    primary-key index is written in order). SQLite: the same statement, row values
    bound in chunks through the driver's ``executemany``.
    """
    if frame.empty:
        return 0
    keys = list(keys)
    columns = list(frame.columns)
    updates = [c for c in columns if c not in keys]
    if session.get_bind().dialect.name == "postgresql":
        return _copy_upsert(session, table, frame, keys, compare, updates)
    return _sqlite_upsert(session, table, frame, keys, compare, updates)


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _conflict_clause(table: Table, keys: list[str], compare: Sequence[str], updates: list[str], distinct: str) -> str:
    changed = " OR ".join(f'"{table.name}"."{c}" {distinct} excluded."{c}"' for c in compare)
    return (f"ON CONFLICT ({_quoted(keys)}) DO UPDATE SET "
            + ", ".join(f'"{c}" = excluded."{c}"' for c in updates) + f" WHERE {changed}")


def _copy_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: list[str],
                 compare: Sequence[str], updates: list[str]) -> int:
    columns = list(frame.columns)
    types = [_PG_COPY_TYPES[type(table.c[c].type).__name__.upper()] for c in columns]
    stage = f"chainwatch_stage_{table.name}"
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{stage}"')
        # Staging lives in this session only and disappears at commit or rollback.
        cursor.execute(f'CREATE TEMPORARY TABLE "{stage}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
        with cursor.copy(f'COPY "{stage}" ({_quoted(columns)}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(types)
            for row in zip(*(_python_values(frame[c]) for c in columns)):
                copy.write_row(row)
        cursor.execute(
            f'INSERT INTO "{table.name}" ({_quoted(columns)}) SELECT {_quoted(columns)} FROM "{stage}" '
            f"ORDER BY {_quoted(keys)} " + _conflict_clause(table, keys, compare, updates, "IS DISTINCT FROM"))
        written = cursor.rowcount
        cursor.execute(f'DROP TABLE "{stage}"')
    return written


def _sqlite_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: list[str],
                   compare: Sequence[str], updates: list[str]) -> int:
    columns = list(frame.columns)
    # SQLAlchemy's SQLite types store dates as 'YYYY-MM-DD' and timestamps as
    # 'YYYY-MM-DD HH:MM:SS.ffffff' text; bind the same text so both paths read alike.
    values = []
    for c in columns:
        kind = type(table.c[c].type).__name__.upper()
        if kind in ("DATE", "DATETIME"):
            text = "%Y-%m-%d" if kind == "DATE" else "%Y-%m-%d %H:%M:%S.%f"
            values.append(_each_distinct(frame[c], lambda v, text=text: v.strftime(text)))
        else:
            values.append(_python_values(frame[c]))
    statement = (f'INSERT INTO "{table.name}" ({_quoted(columns)}) VALUES ({", ".join("?" * len(columns))}) '
                 + _conflict_clause(table, keys, compare, updates, "IS NOT"))
    cursor = session.connection().connection.driver_connection.cursor()
    written = 0
    rows = list(zip(*values))
    try:
        for start in range(0, len(rows), _CHUNK_ROWS):
            cursor.executemany(statement, rows[start:start + _CHUNK_ROWS])
            written += cursor.rowcount
    finally:
        cursor.close()
    return written


def _python_values(column: pd.Series) -> list:
    """Plain Python values for the driver; NaN/NaT become None."""
    if pd.api.types.is_datetime64_any_dtype(column):
        naive = getattr(column.dt, "tz", None) is None
        return _each_distinct(column, lambda v: v.date() if naive else v.to_pydatetime())
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy()
        return [None if v != v else v for v in values.tolist()]
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in column.tolist()]


def _each_distinct(column: pd.Series, convert) -> list:
    # A batch holds few distinct months and timestamps: convert each once.
    codes, uniques = pd.factorize(column)
    converted = [convert(v) for v in uniques] + [None]  # code -1 (missing) → None
    return [converted[c] for c in codes.tolist()]
