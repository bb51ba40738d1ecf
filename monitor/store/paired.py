"""The ADBC connection paired with a pooled PostgreSQL connection, for bulk reads.

:mod:`monitor.store.columnar` reads PostgreSQL through ADBC (binary ``COPY`` into Arrow).
Each pooled psycopg connection gets at most one ADBC partner: opened on its first bulk
read, kept in the pooled connection's ``info`` (which lives and dies with it), closed by
:func:`close_paired`, which :func:`monitor.store.database.make_engine` registers on the
pool's ``close``, ``invalidate`` and ``soft_invalidate`` events. The partner runs in
autocommit: it sees committed rows only and holds no lock between reads.

Light on imports (ADBC is imported on first use): every engine loads this module.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import DatabaseError

__all__ = ["close_paired", "drop_paired", "masked", "paired_connection"]

_PAIRED = "chainwatch_adbc"  # key of the partner in the pooled connection's info


def paired_connection(connection: Connection):  # noqa: ANN201 - an adbc_driver_manager.dbapi.Connection
    """The ADBC connection paired with ``connection``'s pooled psycopg connection, opened on first use."""
    info = connection.connection.info
    paired = info.get(_PAIRED)
    if paired is None:
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
        info[_PAIRED] = paired
    return paired


def close_paired(_dbapi_connection, record, *_exception) -> None:  # noqa: ANN001 - pool event arguments
    """Pool ``close``/``invalidate`` listener: close the ADBC connection paired with this one, if any."""
    if record is not None:
        drop_paired(record.info)


def drop_paired(info: dict) -> None:
    """Close and forget the partner kept in a pooled connection's ``info``, if any (the next
    bulk read opens a new one)."""
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
