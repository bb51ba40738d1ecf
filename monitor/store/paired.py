"""The ADBC connection paired with a pooled connection, for bulk reads.

:mod:`monitor.store.columnar` reads through ADBC: PostgreSQL's binary ``COPY`` and
SQLite's rows decoded into Arrow in C. Each pooled connection gets at most one ADBC
partner: opened on its first bulk read, kept in the pooled connection's ``info``
(which lives and dies with it), closed by :func:`close_paired`, which
:func:`monitor.store.database.make_engine` registers on the pool's ``close``,
``invalidate`` and ``soft_invalidate`` events. The partner runs in autocommit: it sees
committed rows only and holds no lock between reads. A SQLite database that lives only
in its connection's memory, or whose file the driver cannot open, has no partner (its
bulk reads stay on that connection).

Light on imports (ADBC is imported on first use): every engine loads this module.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import DatabaseError

__all__ = ["SQLITE_BUSY_TIMEOUT_S", "close_paired", "drop_paired", "masked", "paired_connection"]

_PAIRED = "chainwatch_adbc"  # key of the partner in the pooled connection's info
_NO_PARTNER = "chainwatch_adbc_none"  # set when the database has no file to pair with

#: How long a SQLite connection waits for a lock before it fails (seconds).
SQLITE_BUSY_TIMEOUT_S = 30


def paired_connection(connection: Connection):  # noqa: ANN201 - an adbc_driver_manager.dbapi.Connection
    """The ADBC connection paired with ``connection``'s pooled connection, opened on first
    use; None for a SQLite database without a partner (see the module's notes)."""
    info = connection.connection.info
    paired = info.get(_PAIRED)
    if paired is None and not info.get(_NO_PARTNER):
        opened = _sqlite_partner if connection.dialect.name == "sqlite" else _postgres_partner
        paired = opened(connection)
        if paired is None:
            info[_NO_PARTNER] = True
        else:
            info[_PAIRED] = paired
    return paired


def _postgres_partner(connection: Connection):  # noqa: ANN202
    import adbc_driver_postgresql.dbapi as adbc
    from adbc_driver_manager import Error as AdbcError

    url = connection.engine.url.set(drivername="postgresql")
    try:
        paired = adbc.connect(url.render_as_string(hide_password=False), autocommit=True)
    except AdbcError as err:
        raise DatabaseError("connect (ADBC)", None, masked(err, url.password)) from None
    try:
        with paired.cursor() as cursor:
            # JIT compiling took 0.3 of the 1 s of a partition's read (PostgreSQL 15): bulk
            # reads are scans and sorts, which it does not speed up.
            cursor.execute("SET jit = off")
    except AdbcError as err:
        paired.close()
        raise DatabaseError("SET jit = off (ADBC)", None, masked(err, url.password)) from None
    return paired


def _sqlite_partner(connection: Connection):  # noqa: ANN202
    import adbc_driver_sqlite.dbapi as adbc
    from adbc_driver_manager import Error as AdbcError

    # the file of the connection's main database ("" when it lives in memory)
    files = {name: file for _, name, file in connection.connection.driver_connection.execute("PRAGMA database_list")}
    if not files.get("main"):
        return None
    # A file the driver cannot open (read-only, say) leaves the reads on the sqlite3
    # connection, which opened it: no partner rather than a failed read.
    try:
        paired = adbc.connect(files["main"], autocommit=True)
    except AdbcError:
        return None
    try:
        with paired.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    except AdbcError:
        paired.close()
        return None
    return paired


def close_paired(_dbapi_connection, record, *_exception) -> None:  # noqa: ANN001 - pool event arguments
    """Pool ``close``/``invalidate`` listener: close the ADBC connection paired with this one, if any."""
    if record is not None:
        drop_paired(record.info)


def drop_paired(info: dict) -> None:
    """Close and forget the partner kept in a pooled connection's ``info``, if any (the next
    bulk read opens a new one)."""
    info.pop(_NO_PARTNER, None)
    paired = info.pop(_PAIRED, None)
    if paired is not None:
        from adbc_driver_manager import Error as AdbcError

        try:
            paired.close()
        except AdbcError:  # already broken: nothing left to close
            pass


def masked(err: Exception, password: str | None) -> Exception:
    """``err``'s message as a plain error, the database password (if any) replaced by ``***``."""
    message = str(err)
    return RuntimeError(message.replace(password, "***") if password else message)
