"""Engines, sessions and migrations.

The default database is the SQLite file ``chainwatch.db`` in the working directory;
``--db URL`` or ``CHAINWATCH_DB_URL`` selects another (PostgreSQL in production).
"""

from __future__ import annotations

import importlib.util
import re

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.paired import SQLITE_BUSY_TIMEOUT_S, close_paired

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain ``postgresql://`` URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"{_redact(url)!r} is not a database URL") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise DatabaseURLError(f"{_redact(url)!r}: the port is not a number") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseURLError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Unparsable, but still shown (less any password) so the user sees what was read.
        return re.sub(r"(://[^/@]*?:)[^/@]*@", r"\1***@", url) if "://" in url else "<unparseable URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys and a busy timeout."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    else:
        if importlib.util.find_spec("adbc_driver_postgresql") is None:  # checked here, not halfway through a run
            raise DatabaseURLError("PostgreSQL needs the postgres extra: pip install 'chainwatch[postgres]' "
                                   "(adbc-driver-postgresql, for bulk reads, is not installed)")
        engine = create_engine(url, pool_pre_ping=True)
    # Bulk reads pair an ADBC connection with a pooled one (monitor/store/paired.py): closed with it.
    for name in ("close", "invalidate", "soft_invalidate"):
        event.listen(engine, name, close_paired)
    return engine


class SchemaVersionError(RuntimeError):
    """The database's schema revision is unknown to this chainwatch (a newer version migrated it)."""


#: Serialises migrations of replicas starting at once on one PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x2D5C_61A9_0B7E_4F14


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database's schema stands relative to this chainwatch's migrations."""

    current: str | None
    """Revision stored in the database (None: empty database)."""
    head: str
    """Newest revision this chainwatch knows."""
    known: bool
    """False when ``current`` is not among this chainwatch's revisions."""

    @property
    def up_to_date(self) -> bool:
        """True when the database is at this chainwatch's newest revision."""
        return self.current == self.head


_VERSION_TABLE = "alembic_version"


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def schema_status(engine: Engine) -> SchemaStatus:
    """Read the stored revision and compare it with the migrations shipped here."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    head = scripts.get_current_head()
    known = {rev.revision for rev in scripts.walk_revisions()}
    # Read alembic's version table directly: a MigrationContext would log two INFO lines
    # on every call, and /readyz calls this on every probe.
    with engine.connect() as connection:
        current = None
        if inspect(connection).has_table(_VERSION_TABLE):
            current = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()
    return SchemaStatus(current, head, current is None or current in known)


def check_schema_known(status: SchemaStatus) -> None:
    """Refuse a database migrated by a newer chainwatch.

    Raises
    ------
    SchemaVersionError
        Naming both revisions and what to do.
    """
    if not status.known:
        raise SchemaVersionError(
            f"the database schema is at revision {status.current!r}, which this chainwatch does not know "
            f"(its newest is {status.head!r}): a newer chainwatch has migrated this database. "
            "Run the newer chainwatch, or restore a backup taken before that upgrade; chainwatch will not "
            "touch a schema it does not know.")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent).

    Raises
    ------
    SchemaVersionError
        When the database is at a revision this chainwatch does not know.
    """
    check_schema_known(schema_status(engine))
    cfg = _alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait and find nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that keep objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
