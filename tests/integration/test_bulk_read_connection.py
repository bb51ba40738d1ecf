"""PostgreSQL bulk reads run on an ADBC connection paired with the session's pooled one
(monitor/store/columnar.py): it sees committed rows, holds no lock between reads, and
closes when the pool closes its partner."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from sqlalchemy import select, text

from monitor.store.columnar import read_columns
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import Series

pytestmark = pytest.mark.postgres


@pytest.fixture
def named_url(postgres_url) -> str:
    return f"{postgres_url}&application_name=cw_paired_{uuid.uuid4().hex[:8]}"


def _backends(admin, name: str) -> int:
    with admin.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                                  {"n": name}).scalar_one()


def test_a_bulk_read_sees_committed_rows_and_its_connection_closes_with_the_pool(named_url):
    name = named_url.rsplit("application_name=", 1)[1]
    engine, admin = make_engine(named_url), make_engine(named_url.replace(name, f"{name}_admin"))
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(Series(series_id="prod.x", source="s", unit="t", description="test"))
    query = select(Series.series_id, Series.unit)
    with sessions() as session:
        first = read_columns(session, query, {"series_id": "text", "unit": "text"})
        # the session's own connection and its ADBC partner
        assert _backends(admin, name) == 2
        # autocommit: no lock outlives the read, so DDL elsewhere does not wait for it
        with admin.begin() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            other.execute(text("LOCK TABLE series IN ACCESS EXCLUSIVE MODE"))
        session.add(Series(series_id="prod.y", source="s", unit="kg", description="test"))
        session.flush()
        pending = read_columns(session, query, {"series_id": "text", "unit": "text"})
        session.commit()
        committed = read_columns(session, query, {"series_id": "text", "unit": "text"})
    assert first.to_dict("records") == [{"series_id": "prod.x", "unit": "t"}]
    assert pending["series_id"].tolist() == ["prod.x"]  # the session's flushed, uncommitted row: not seen
    assert sorted(committed["series_id"]) == ["prod.x", "prod.y"]
    assert pd.api.types.is_string_dtype(committed["unit"])
    engine.dispose()
    assert _backends(admin, name) == 0
    admin.dispose()


def test_a_broken_paired_connection_fails_one_read_and_is_replaced(named_url):
    from sqlalchemy.exc import DatabaseError

    name = named_url.rsplit("application_name=", 1)[1]
    engine, admin = make_engine(named_url), make_engine(named_url.replace(name, f"{name}_admin"))
    query = select(Series.series_id)
    with session_factory(engine)() as session:
        read_columns(session, query, {"series_id": "text"})
        own = session.connection().connection.driver_connection.info.backend_pid
        with admin.begin() as other:  # the server ends the ADBC session, not the psycopg one
            ended = other.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE application_name = :n AND pid <> :own"), {"n": name, "own": own})
            assert ended.scalars().all() == [True]
        with pytest.raises(DatabaseError):
            read_columns(session, query, {"series_id": "text"})
        assert read_columns(session, query, {"series_id": "text"}).empty  # a new paired connection
    engine.dispose()
    admin.dispose()
