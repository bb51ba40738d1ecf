"""The demo source's data, stored once per test run (per xdist worker) and copied into a test's database.

Collecting the demo source and storing its batch is seconds of pandas and SQL; a test that
starts from "the demo data is stored" gets the rows of a database built once instead, by
``INSERT ... SELECT`` from an attached SQLite file or from another schema of the worker's
PostgreSQL database (a fraction of a second). The rows are exactly what ``store_batch``
wrote, at the time of the ``clock`` fixture (2026-01-15 04:00 UTC).

Not for helper processes: it is imported by ``tests/conftest.py`` only.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine

from monitor.collect.demo import DemoCollector
from monitor.config.loader import load_config
from monitor.records import CollectedBatch
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.observations import store_batch

_SKIPPED_TABLES = {"alembic_version"}


class DemoDatabases:
    """Databases holding the demo batch, one per backend and demo-source variant, built on first use."""

    def __init__(self, directory: Path, sqlite_template: Path, postgres_url: str | None, config_dir: Path,
                 stored_at) -> None:
        self.directory = directory
        self.sqlite_template = sqlite_template
        self.postgres_url = postgres_url
        self.config = load_config(config_dir, environ={})
        self.stored_at = stored_at
        self._batches: dict[tuple, CollectedBatch] = {}
        self._sqlite: dict[tuple, Path] = {}
        self._schemas: dict[tuple, str] = {}
        metadata = MetaData()
        engine = create_engine(f"sqlite:///{sqlite_template}")
        metadata.reflect(engine)
        engine.dispose()
        # parents first, so foreign keys hold row by row
        self.tables = [(t.name, ", ".join(f'"{c.name}"' for c in t.columns))
                       for t in metadata.sorted_tables if t.name not in _SKIPPED_TABLES]

    def _batch(self, key: tuple) -> CollectedBatch:
        if key not in self._batches:
            source = self.config.sources.sources[0].model_copy(update=dict(key))
            self._batches[key] = DemoCollector(self.config.catalog, source).collect()
        return self._batches[key]

    def _store(self, url: str, key: tuple, migrated: bool) -> None:
        engine = make_engine(url)
        try:
            if not migrated:
                migrate(engine)
            store_batch(session_factory(engine), self._batch(key), self.stored_at)
            if engine.dialect.name == "sqlite":
                with engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()

    def _sqlite_file(self, key: tuple) -> Path:
        if key not in self._sqlite:
            path = self.directory / f"demo-{len(self._sqlite)}.db"
            shutil.copyfile(self.sqlite_template, path)
            self._store(f"sqlite:///{path}", key, migrated=True)
            self._sqlite[key] = path
        return self._sqlite[key]

    def _postgres_schema(self, key: tuple) -> str:
        if key not in self._schemas:
            schema = f"cwdemo_{uuid.uuid4().hex[:10]}"
            admin = create_engine(self.postgres_url)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            separator = "&" if "?" in self.postgres_url else "?"
            self._store(f"{self.postgres_url}{separator}options=-csearch_path%3D{schema}", key, migrated=False)
            self._schemas[key] = schema
        return self._schemas[key]

    def sqlite_copy(self, path: Path, **source_changes) -> str:
        """A new SQLite file at ``path`` holding the migrated schema and the demo batch; its URL."""
        shutil.copyfile(self._sqlite_file(tuple(sorted(source_changes.items()))), path)
        return f"sqlite:///{path}"

    def copy_into(self, engine: Engine, **source_changes) -> None:
        """Copy the demo batch (the default demo source, updated by ``source_changes``) into ``engine``'s
        migrated, empty database."""
        key = tuple(sorted(source_changes.items()))
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                # ATTACH outside a transaction: pysqlite begins one only before a write
                connection.exec_driver_sql("ATTACH DATABASE ? AS demo", (str(self._sqlite_file(key)),))
                for name, columns in self.tables:
                    connection.exec_driver_sql(f'INSERT INTO main."{name}" ({columns}) '
                                               f'SELECT {columns} FROM demo."{name}"')
                connection.commit()
                connection.exec_driver_sql("DETACH DATABASE demo")
                connection.commit()
            return
        schema = self._postgres_schema(key)
        with engine.begin() as connection:
            for name, columns in self.tables:
                connection.exec_driver_sql(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{schema}"."{name}"')
            # the copied rows keep their ids: serial columns continue after them
            serials = connection.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'")).all()
            for table, column in serials:
                connection.execute(text(
                    f'SELECT setval(pg_get_serial_sequence(:table, :column), '
                    f'(SELECT COALESCE(MAX("{column}"), 0) + 1 FROM "{table}"), false)'),
                    {"table": f'"{table}"', "column": column})

    def close(self) -> None:
        if not self._schemas:
            return
        admin = create_engine(self.postgres_url)
        with admin.begin() as connection:
            for schema in self._schemas.values():
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
