"""Idempotent ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL: chunked, and in bulk (``COPY``)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
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


def key_order(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, int | None]:
    """Row positions of ``frame`` sorted by ``keys`` (stable), and the first row repeating an earlier key.

    The repeat is the lowest position whose key an earlier row has (``None``: every
    key is unique), as ``frame.duplicated(keys)`` would flag it. Strings sort by code
    point, as PostgreSQL's ``C`` and ``C.UTF-8`` collations and SQLite's ``BINARY`` do.
    """
    codes = [pd.factorize(frame[k], sort=True)[0] for k in keys]
    codes = [c for c in codes if len(c) and c.max() > 0]  # a constant column orders nothing
    if not codes:
        return np.arange(len(frame)), (1 if len(frame) > 1 else None)
    order = np.lexsort(codes[::-1])  # lexsort's last array is the primary key
    repeats = np.ones(len(order) - 1, dtype=bool)
    for c in codes:
        ordered = c[order]
        repeats &= ordered[1:] == ordered[:-1]
    return order, (int(order[1:][repeats].min()) if repeats.any() else None)


def bulk_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: Sequence[str],
                compare: Sequence[str]) -> int:
    """Insert the rows of ``frame`` (columns named as ``table``'s) in bulk; returns rows inserted or changed.

    A row whose ``keys`` are stored already is updated only when one of its
    ``compare`` columns differs (NULL = NULL counts as equal), so re-ingesting the
    same rows writes nothing. ``frame`` must not repeat a key; rows in primary-key
    order (see :func:`key_order`) write fastest, as each index page then fills in
    turn. Date and timestamp columns are pandas datetime64 (naive dates) or one
    ``datetime`` for the whole frame. Runs inside the caller's transaction: all of
    ``frame`` lands or none of it.

    PostgreSQL: when none of the batch's keys is stored (a new period or vintage, the
    usual collection), a binary ``COPY`` straight into the table, inside a savepoint.
    Otherwise, or when that ``COPY`` meets a stored key after all, the savepoint is
    rolled back and the rows go through a temporary staging table and one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE``. SQLite: that statement, row
    values bound in chunks through the driver's ``executemany``.
    """
    if frame.empty:
        return 0
    keys = list(keys)
    columns = list(frame.columns)
    updates = [c for c in columns if c not in keys]
    with _driver_errors_as_sqlalchemy(session, f"bulk upsert into {table.name}"):
        if session.get_bind().dialect.name == "postgresql":
            return _copy_upsert(session, table, frame, keys, compare, updates)
        return _sqlite_upsert(session, table, frame, keys, compare, updates)


@contextmanager
def _driver_errors_as_sqlalchemy(session: Session, what: str) -> Iterator[None]:
    """Raise the driver's own errors (this module bypasses SQLAlchemy's execution) as
    SQLAlchemy's, so "database or disk is full" is an ``OperationalError`` callers handle."""
    dbapi = session.get_bind().dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as err:
        raise DBAPIError.instance(what, None, err, dbapi.Error) from err


def _quoted(names: Iterable[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{n}"' for n in names)


def _conflict_clause(table: Table, keys: list[str], compare: Sequence[str], updates: list[str], distinct: str) -> str:
    changed = " OR ".join(f'"{table.name}"."{c}" {distinct} excluded."{c}"' for c in compare)
    return (f"ON CONFLICT ({_quoted(keys)}) DO UPDATE SET "
            + ", ".join(f'"{c}" = excluded."{c}"' for c in updates) + f" WHERE {changed}")


_PROBE_ROWS = 32


def _any_key_stored(cursor, table: Table, frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether one of ``_PROBE_ROWS`` keys spread over ``frame`` (first and last included) is stored.

    A cheap guess (one index lookup per probed key) that keeps re-ingests and
    overlapping batches off the direct ``COPY``, which would fail on them.
    """
    positions = np.unique(np.linspace(0, len(frame) - 1, min(_PROBE_ROWS, len(frame))).round().astype(int))
    probe = frame.iloc[positions][keys]
    values = list(zip(*(_python_values(probe[k]) for k in keys)))
    row = "(" + ", ".join(["%s"] * len(keys)) + ")"
    join = " AND ".join(f't."{k}" = p."{k}"' for k in keys)
    cursor.execute(
        f'SELECT EXISTS (SELECT 1 FROM "{table.name}" AS t JOIN (VALUES {", ".join([row] * len(values))}) '
        f"AS p ({_quoted(keys)}) ON {join})", [v for r in values for v in r])
    return bool(cursor.fetchone()[0])


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # binary COPY header: signature, flags, no extension
_COPY_TRAILER = b"\xff\xff"
_COPY_NULL = b"\xff\xff\xff\xff"  # field length -1
_COPY_BLOCK_ROWS = 50_000


def _copy_rows(cursor, target: str, frame: pd.DataFrame, types: list[str]) -> int:
    """Binary ``COPY`` of ``frame`` into ``target``; returns the rows copied.

    The COPY stream is assembled column-wise (PostgreSQL's documented binary format:
    per row a field count, per field a length word and the value): each distinct
    value is encoded once by psycopg's dumper for the column's type, floats by
    numpy, and columns holding one value for the whole batch (source, vintage...)
    are sent first as one shared prefix, so no Python code runs per row (psycopg's
    ``write_row`` cost more client CPU than the server spends storing the row).
    """
    from psycopg.pq import Format  # psycopg is installed with the "postgres" extra only

    adapters = cursor.adapters
    fields = {c: _copy_fields(frame[c], t, adapters.get_dumper_by_oid(adapters.types.get_oid(t), Format.BINARY)(
        type(None), cursor)) for c, t in zip(frame.columns, types)}
    same = [c for c, f in fields.items() if isinstance(f, bytes)]
    varying = [c for c, f in fields.items() if not isinstance(f, bytes)]
    prefix = struct.pack(">h", len(fields)) + b"".join(fields[c] for c in same)
    with cursor.copy(f'COPY "{target}" ({_quoted(same + varying)}) FROM STDIN (FORMAT BINARY)') as copy:
        copy.write(_COPY_SIGNATURE)
        for start in range(0, len(frame), _COPY_BLOCK_ROWS):
            block = np.empty((min(_COPY_BLOCK_ROWS, len(frame) - start), len(varying) + 1), dtype=object)
            block[:, 0] = prefix
            for j, c in enumerate(varying):
                block[:, j + 1] = fields[c][start:start + len(block)]
            copy.write(b"".join(block.ravel().tolist()))
        copy.write(_COPY_TRAILER)
    return cursor.rowcount


def _copy_fields(column: pd.Series, pg_type: str, dumper) -> bytes | np.ndarray:
    """Each row's binary COPY field (length word and value, or the NULL word); one ``bytes`` if all are equal."""
    if pg_type == "float8":
        values = column.to_numpy(dtype=float)
        missing = np.isnan(values)
        if missing.all():
            return _COPY_NULL
        packed = np.empty(len(values), dtype=[("size", ">i4"), ("value", ">f8")])
        packed["size"], packed["value"] = 8, values
        out = np.empty(len(values), dtype=object)
        out[:] = packed.view(np.dtype((np.void, 12))).tolist()
        out[missing] = _COPY_NULL
        return out
    codes, uniques = pd.factorize(column)
    distinct = np.empty(len(uniques) + 1, dtype=object)
    for i, value in enumerate(_python_values(pd.Series(uniques))):
        data = bytes(dumper.dump(value))
        distinct[i] = struct.pack(">i", len(data)) + data
    distinct[-1] = _COPY_NULL  # code -1: missing
    if len(uniques) <= 1 and (codes == codes[0]).all():  # one value (or all missing): a shared prefix field
        return distinct[codes[0]]
    return distinct[codes]


def _copy_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: list[str],
                 compare: Sequence[str], updates: list[str]) -> int:
    from psycopg.errors import UniqueViolation  # psycopg is installed with the "postgres" extra only

    columns = list(frame.columns)
    types = [_PG_COPY_TYPES[type(table.c[c].type).__name__.upper()] for c in columns]
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor:
        if not _any_key_stored(cursor, table, frame, keys):
            # COPY cannot skip a stored key: a unique violation aborts it, and the
            # savepoint takes back whatever it had written before the fallback.
            cursor.execute("SAVEPOINT chainwatch_bulk_copy")
            try:
                written = _copy_rows(cursor, table.name, frame, types)
            except UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT chainwatch_bulk_copy")
                cursor.execute("RELEASE SAVEPOINT chainwatch_bulk_copy")
            else:
                cursor.execute("RELEASE SAVEPOINT chainwatch_bulk_copy")
                return written
        stage = f"chainwatch_stage_{table.name}"
        cursor.execute(f'DROP TABLE IF EXISTS "{stage}"')
        # Staging lives in this session only and disappears at commit or rollback.
        cursor.execute(f'CREATE TEMPORARY TABLE "{stage}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
        _copy_rows(cursor, stage, frame, types)
        # Only new and changed rows reach ON CONFLICT: one join finds them, where
        # ON CONFLICT would lock every stored row it meets, a write per unchanged row.
        # The ON CONFLICT clause stays for rows a concurrent transaction stores meanwhile.
        matched = " AND ".join(f's."{k}" = stored."{k}"' for k in keys)
        new_or_changed = " OR ".join([f'stored."{keys[0]}" IS NULL',
                                      *(f's."{c}" IS DISTINCT FROM stored."{c}"' for c in compare)])
        cursor.execute(
            f'INSERT INTO "{table.name}" ({_quoted(columns)}) SELECT {_quoted(columns, "s")} '
            f'FROM "{stage}" AS s LEFT JOIN "{table.name}" AS stored ON {matched} WHERE {new_or_changed} '
            f'ORDER BY {_quoted(keys, "s")} '
            + _conflict_clause(table, keys, compare, updates, "IS DISTINCT FROM"))
        written = cursor.rowcount
        cursor.execute(f'DROP TABLE "{stage}"')
    return written


def _sqlite_upsert(session: Session, table: Table, frame: pd.DataFrame, keys: list[str],
                   compare: Sequence[str], updates: list[str]) -> int:
    return _sqlite_executemany(session, table, frame,
                               _conflict_clause(table, keys, compare, updates, "IS NOT"))


def _sqlite_executemany(session: Session, table: Table, frame: pd.DataFrame, suffix: str = "") -> int:
    """``INSERT`` the rows of ``frame`` (``suffix``: an ``ON CONFLICT`` clause) through the driver, in chunks."""
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
    statement = f'INSERT INTO "{table.name}" ({_quoted(columns)}) VALUES ({", ".join("?" * len(columns))}) {suffix}'
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


def bulk_insert(session: Session, table: Table, frame: pd.DataFrame) -> int:
    """Insert the rows of ``frame`` (columns named as ``table``'s, no key stored yet) in bulk; returns rows.

    For rows that are new by construction (the findings of a new run): PostgreSQL's
    binary ``COPY``, SQLite's ``executemany`` through the driver, skipping
    SQLAlchemy's per-row parameter handling. Value conventions as
    :func:`bulk_upsert`; runs inside the caller's transaction.
    """
    if frame.empty:
        return 0
    with _driver_errors_as_sqlalchemy(session, f"bulk insert into {table.name}"):
        if session.get_bind().dialect.name == "postgresql":
            types = [_PG_COPY_TYPES[type(table.c[c].type).__name__.upper()] for c in frame.columns]
            with session.connection().connection.driver_connection.cursor() as cursor:
                return _copy_rows(cursor, table.name, frame, types)
        return _sqlite_executemany(session, table, frame)


def _python_values(column: pd.Series) -> list:
    """Plain Python values for the driver; NaN/NaT become None."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool).tolist()
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float)
        missing = np.isnan(values)
        if not missing.any():
            return values.tolist()
        boxed = values.astype(object)
        boxed[missing] = None
        return boxed.tolist()
    if pd.api.types.is_datetime64_any_dtype(column):
        naive = getattr(column.dt, "tz", None) is None
        return _each_distinct(column, lambda v: v.date() if naive else v.to_pydatetime())
    return _each_distinct(column, lambda v: v)


def _each_distinct(column: pd.Series, convert) -> list:
    # Key and label columns hold few distinct values (sources, months, codes): convert
    # each once and spread them with one array lookup instead of a Python loop per row.
    codes, uniques = pd.factorize(column)
    distinct = np.empty(len(uniques) + 1, dtype=object)
    distinct[:-1] = [convert(v) for v in list(uniques)]
    distinct[-1] = None  # code -1: missing
    return distinct[codes].tolist()
