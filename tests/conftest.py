"""Shared fixtures: a database per backend (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import re
import sys
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import settings as hypothesis_settings
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor.config.models import Catalog
from monitor.store.database import make_engine, migrate, session_factory
from tests.demo_database import DemoDatabases

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "config"
POSTGRES_URL = os.environ.get("CHAINWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# Hypothesis: the default profile is the CI one; `pytest --hypothesis-profile=deep` runs ten
# times the examples of every test that sizes its runs with examples() (docs/testing.md).
hypothesis_settings.register_profile("deep", max_examples=1000)


def examples(n: int) -> int:
    """``n`` examples under the default profile (max_examples 100), ten times ``n`` under ``deep``."""
    return max(1, n * hypothesis_settings().max_examples // 100)


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except (OperationalError, ModuleNotFoundError) as err:
        return f"PostgreSQL not reachable at {POSTGRES_URL.split('@')[-1]}: {type(err).__name__}"
    return None


_PG_SKIP = _postgres_reason()

#: URLs of databases handed out already migrated (copied from the per-run template), so
#: ``sessions`` does not migrate them again.
_COPIED_FROM_TEMPLATE: set[str] = set()


def _worker() -> str:
    """The pytest-xdist worker id (``gw0``...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


#: One id per test run, shared by the xdist controller and its workers (inherited).
_RUN_ID = os.environ.setdefault("CW_TESTS_RUN_ID", uuid.uuid4().hex[:8])
_WORKER_DATABASE_PREFIX = f"cwt_{_RUN_ID}_"


def _database_of_this_worker() -> str | None:
    """Under pytest-xdist, a PostgreSQL database of this worker's own (None if refused).

    Workers then share nothing on the server: not the advisory locks (leader election,
    the migration lock), which PostgreSQL keys per database, nor any schema. The
    controller drops the run's databases at the end (a worker may be stopped before its
    own teardown finishes).
    """
    name = f"{_WORKER_DATABASE_PREFIX}{_worker()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except (OperationalError, ProgrammingError):  # no CREATEDB: share the configured database
        return None
    finally:
        admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


_SHARED_POSTGRES_URL = POSTGRES_URL
# Only the pytest worker itself sets up its database: a child process that imports this
# module (a helper script run by a test) inherits PYTEST_XDIST_WORKER and would drop it.
_IN_PYTEST_WORKER = "PYTEST_XDIST_WORKER" in os.environ and "pytest" in sys.modules \
    and "xdist" in sys.modules
_WORKER_DATABASE = None if _PG_SKIP or not _IN_PYTEST_WORKER else _database_of_this_worker()
if _WORKER_DATABASE:
    POSTGRES_URL = _WORKER_DATABASE


def pytest_unconfigure(config) -> None:
    """The xdist controller drops the databases of its workers (see :func:`_database_of_this_worker`)."""
    if _PG_SKIP or _worker() != "main" or not getattr(config.option, "numprocesses", None):
        return
    admin = create_engine(_SHARED_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        names = connection.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"),
                                   {"prefix": f"{_WORKER_DATABASE_PREFIX}%"}).scalars().all()
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per test run (per xdist worker), copied per test."""
    path = tmp_path_factory.mktemp("templates") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


class _PostgresSchema:
    """A PostgreSQL schema migrated to head once per test run (per xdist worker).

    Before each test that uses it, every table is emptied and every sequence restarted
    (about 0.03 s, against 0.5-1 s for migrating a new schema, and faster than a
    ``CREATE DATABASE ... TEMPLATE`` copy and its ``DROP DATABASE`` on this machine). If a
    test changed the schema itself (another revision, an extra table such as
    APScheduler's job store), or left rows locked, the schema is replaced by a newly
    migrated one instead, so every test starts from exactly the state a fresh migration
    gives.
    """

    def __init__(self) -> None:
        self.admin = create_engine(POSTGRES_URL)
        self.old: list[str] = []
        self._migrate_new_schema()

    def _migrate_new_schema(self) -> None:
        self.schema = f"cwt_{_worker()}_{uuid.uuid4().hex[:10]}"
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        separator = "&" if "?" in POSTGRES_URL else "?"
        self.url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{self.schema}"
        self.engine = make_engine(self.url)
        migrate(self.engine)
        metadata = MetaData()
        metadata.reflect(self.engine)
        self.tables = {table.name for table in metadata.sorted_tables}
        with self.engine.connect() as connection:
            self.version = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            sequences = connection.execute(text(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()"
            )).scalars().all()
        children_first = [t.name for t in reversed(metadata.sorted_tables) if t.name != "alembic_version"]
        self.empty_sql = "; ".join([f'DELETE FROM "{name}"' for name in children_first]
                                   + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences])

    def _unchanged(self) -> bool:
        with self.engine.connect() as connection:
            tables = set(connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
            if tables != self.tables:
                return False
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == self.version

    def _replace(self) -> None:
        self.engine.dispose()
        self.old.append(self.schema)
        self._migrate_new_schema()

    def fresh(self) -> str:
        """The schema's URL, emptied (or replaced by a new migrated schema)."""
        if not self._unchanged():
            self._replace()
            return self.url
        try:
            with self.engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '5s'"))
                connection.exec_driver_sql(self.empty_sql)
        except OperationalError:  # rows still locked by a connection the test left open
            self._replace()
        return self.url

    def close(self) -> None:
        self.engine.dispose()
        for schema in [*self.old, self.schema]:
            with self.admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[_PostgresSchema]:
    schema = _PostgresSchema()
    yield schema
    schema.close()


def _empty_postgres_schema() -> Iterator[str]:
    schema = f"cw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def postgres_url(request) -> str:
    """A migrated PostgreSQL schema's URL, emptied, for tests of PostgreSQL alone (skipped, with
    the reason, where PostgreSQL is unreachable)."""
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    url = request.getfixturevalue("_postgres_schema").fresh()
    _COPIED_FROM_TEMPLATE.add(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """A database URL of each backend: SQLite file, or PostgreSQL.

    Empty, unless the test also uses ``sessions``: then it is already migrated to head
    (migrations run once per test run: a copy of a migrated SQLite file, or a migrated
    PostgreSQL schema emptied for the test). Tests that use ``db_url`` alone get an empty
    database, and so test the migrations themselves.
    """
    migrated = "sessions" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        url = f"sqlite:///{path}"
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
            _COPIED_FROM_TEMPLATE.add(url)
        yield url
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    if migrated:
        url = request.getfixturevalue("_postgres_schema").fresh()
        _COPIED_FROM_TEMPLATE.add(url)
        yield url
        return
    yield from _empty_postgres_schema()


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-01-15 04:00 UTC."""
    return FrozenClock()


@pytest.fixture
def sessions(db_url):
    """Sessions on a freshly migrated database of each backend."""
    engine = make_engine(db_url)
    if db_url not in _COPIED_FROM_TEMPLATE:  # a db_url parametrised by hand: migrate it here
        migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def _demo_databases(tmp_path_factory, _sqlite_template) -> Iterator[DemoDatabases]:
    databases = DemoDatabases(tmp_path_factory.mktemp("demo"), _sqlite_template,
                              None if _PG_SKIP else POSTGRES_URL, CONFIG_DIR, FrozenClock()())
    yield databases
    databases.close()


@pytest.fixture
def store_demo(sessions, _demo_databases):
    """``store_demo(**source_changes)`` stores the demo source's batch in the test's database.

    The same rows as ``store_batch(sessions, DemoCollector(catalog, source).collect(),
    clock())`` with the default configuration's demo source (updated by
    ``source_changes``, e.g. ``start="2024-01"``) and the ``clock`` fixture's time, but
    collected and stored once per test run (per xdist worker) and copied
    (``tests/demo_database.py``).
    """
    return lambda **source_changes: _demo_databases.copy_into(sessions.kw["bind"], **source_changes)


@pytest.fixture(scope="module")
def demo_sqlite(_demo_databases, tmp_path_factory):
    """``demo_sqlite(**source_changes)``: the URL of a new SQLite file holding the demo batch (as ``store_demo``),
    for module-scoped fixtures that assess it once for several tests that only read the result."""
    directory = tmp_path_factory.mktemp("demo-copy")
    copies = iter(range(1_000_000))
    return lambda **source_changes: _demo_databases.sqlite_copy(directory / f"{next(copies)}.db", **source_changes)


#: The chains of the cut-down catalog (:func:`config_copy`): critical minerals feed batteries,
#: and the demo's disruption (cobalt) sits in critical minerals.
SMALL_CHAINS = ("batteries", "critical-minerals")


#: ``config_copy(settings=NO_BOOTSTRAP)``: ``chainwatch run`` without its start-up bootstrap job.
NO_BOOTSTRAP = {"scheduler": {"bootstrap": False}}


def config_copy(target: Path, *, chains: tuple[str, ...] | None = None, demo_start: str | None = None,
                settings: dict | None = None) -> Path:
    """A copy of the shipped config (without the Grafana and Prometheus files) at ``target``,
    optionally cut down for a faster assessment.

    ``chains``: keep only these chains of ``chains.yaml`` (e.g. :data:`SMALL_CHAINS`, about
    two fifths of the demo assessment's work), and the stress scenarios and buffers of them. ``demo_start``: the demo source begins at this
    month (``"2024-01"``: 24 months, below ``min_history_months``, so the slow disruption
    models say ``insufficient_history`` and concentration alone scores). ``settings``:
    nested keys merged into ``settings.yaml`` (e.g. ``{"scheduler": {"bootstrap": False}}``
    for a ``chainwatch run`` whose test is not about the bootstrap job).
    """
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))

    def rewrite(name: str, change) -> None:
        path = target / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    if chains is not None:
        catalog = yaml.safe_load((target / "chains.yaml").read_text(encoding="utf-8"))
        removed = {c["id"] for c in catalog["chains"]} - set(chains)
        rewrite("chains.yaml", lambda data: data.update(chains=[c for c in data["chains"] if c["id"] in chains]))
        for scenario in (target / "scenarios").glob("*.yaml"):
            # a stress scenario naming a removed chain (its id, or one of its nodes as chain/node) goes too
            if set(re.findall(r"[a-z0-9-]+", scenario.read_text(encoding="utf-8"))) & removed:
                scenario.unlink()

        def keep_buffers(data: dict) -> None:
            buffers = data["stress"]["buffers"]["nodes"]
            data["stress"]["buffers"]["nodes"] = {k: v for k, v in buffers.items() if k.split("/")[0] in chains}

        rewrite("settings.yaml", keep_buffers)
    if demo_start is not None:
        rewrite("sources.yaml", lambda data: data["sources"][0].update(start=demo_start))
    if settings:
        def merge(into: dict, changes: dict) -> None:
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(into.get(key), dict):
                    merge(into[key], value)
                else:
                    into[key] = value

        rewrite("settings.yaml", lambda data: merge(data, settings))
    return target


@pytest.fixture(scope="session")
def small_config(tmp_path_factory):
    """The shipped config cut to :data:`SMALL_CHAINS` (all of the demo data), loaded.

    For integration tests of the assessment's wiring (stored runs, hysteresis state,
    executors, per-node settings) that need the demo's disruption but not all five chains.
    """
    from monitor.config.loader import load_config

    return load_config(config_copy(tmp_path_factory.mktemp("small-config") / "config", chains=SMALL_CHAINS),
                       environ={})


@pytest.fixture(scope="session")
def raw_catalog() -> dict:
    """The default chains.yaml as plain data, for building variants."""
    return yaml.safe_load((CONFIG_DIR / "chains.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def catalog(raw_catalog) -> Catalog:
    """The default catalog, validated."""
    return Catalog.model_validate(raw_catalog)
