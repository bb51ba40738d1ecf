"""Shared fixtures: a database per backend (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from monitor.config.models import Catalog
from monitor.store.database import make_engine, migrate, session_factory

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFIG_DIR = REPO / "config"
POSTGRES_URL = os.environ.get("CHAINWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite file, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"cw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def raw_catalog() -> dict:
    """The default chains.yaml as plain data, for building variants."""
    return yaml.safe_load((CONFIG_DIR / "chains.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def catalog(raw_catalog) -> Catalog:
    """The default catalog, validated."""
    return Catalog.model_validate(raw_catalog)
