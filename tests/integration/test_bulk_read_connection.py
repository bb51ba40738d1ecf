"""Bulk reads run on an ADBC connection paired with the session's pooled one
(monitor/store/columnar.py): it sees committed rows, holds no lock between reads, and
closes when the pool closes its partner. SQLite: the same on a database file; a
database in memory is read on its own connection."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from sqlalchemy import select, text

from monitor.store.columnar import read_columns
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import Series

@pytest.fixture
def named_url(postgres_url) -> str:
    return f"{postgres_url}&application_name=cw_paired_{uuid.uuid4().hex[:8]}"


def _backends(admin, name: str) -> int:
    with admin.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                                  {"n": name}).scalar_one()


def _reads_around_a_commit(sessions, after_first_read) -> None:  # noqa: ANN001 - a sessionmaker, a callable
    """A bulk read sees committed rows: not the session's flushed, uncommitted one, then
    that row once committed. ``after_first_read(session)`` runs after the first read."""
    with sessions.begin() as session:
        session.add(Series(series_id="prod.x", source="s", unit="t", description="test"))
    query, columns = select(Series.series_id, Series.unit), {"series_id": "text", "unit": "text"}
    with sessions() as session:
        first = read_columns(session, query, columns)
        after_first_read(session)
        session.add(Series(series_id="prod.y", source="s", unit="kg", description="test"))
        session.flush()  # SQLite: the session now holds the write lock; its partner reads the last commit (WAL)
        pending = read_columns(session, query, columns)
        session.commit()
        committed = read_columns(session, query, columns)
    assert first.to_dict("records") == [{"series_id": "prod.x", "unit": "t"}]
    assert pending["series_id"].tolist() == ["prod.x"]  # the session's flushed, uncommitted row: not seen
    assert sorted(committed["series_id"]) == ["prod.x", "prod.y"]
    assert pd.api.types.is_string_dtype(committed["unit"])


@pytest.mark.postgres
def test_a_bulk_read_sees_committed_rows_and_its_connection_closes_with_the_pool(named_url):
    name = named_url.rsplit("application_name=", 1)[1]
    engine, admin = make_engine(named_url), make_engine(named_url.replace(name, f"{name}_admin"))

    def no_lock_held(session) -> None:  # noqa: ANN001
        # the session's own connection and its ADBC partner
        assert _backends(admin, name) == 2
        # autocommit: no lock outlives the read, so DDL elsewhere does not wait for it
        with admin.begin() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            other.execute(text("LOCK TABLE series IN ACCESS EXCLUSIVE MODE"))

    _reads_around_a_commit(session_factory(engine), no_lock_held)
    engine.dispose()
    assert _backends(admin, name) == 0
    admin.dispose()


@pytest.mark.postgres
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


def _sqlite_engine(url: str):
    from monitor.store.database import migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def _partner(session):
    from monitor.store.paired import paired_connection

    return paired_connection(session.connection())


def test_a_sqlite_bulk_read_sees_committed_rows_and_its_connection_closes_with_the_pool(tmp_path):
    from adbc_driver_manager import Error as AdbcError

    engine = _sqlite_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    partners = []
    _reads_around_a_commit(session_factory(engine), lambda session: partners.append(_partner(session)))
    assert partners[0] is not None
    engine.dispose()
    with pytest.raises(AdbcError):  # closed with its pooled connection
        partners[0].cursor()


def test_a_sqlite_database_in_memory_is_read_on_its_own_connection():
    engine = _sqlite_engine("sqlite://")  # SQLAlchemy keeps one connection (per thread): the one database
    with session_factory(engine)() as session:
        session.add(Series(series_id="prod.x", source="s", unit="t", description="test"))
        session.flush()
        read = read_columns(session, select(Series.series_id), {"series_id": "text"})
        assert _partner(session) is None
    assert read["series_id"].tolist() == ["prod.x"]  # its own connection: its own pending row
    engine.dispose()


def test_a_sqlite_column_null_in_its_first_rows_is_typed_by_all_of_them(tmp_path, monkeypatch):
    """The driver types a column from the rows of a batch: read as one batch, a text
    column NULL in its first 5,000 rows still reads as text, and a date column as dates."""
    from datetime import date, datetime

    from monitor.store.tables import TradeFlow

    engine = _sqlite_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    rows = [TradeFlow(source="s", reporter="CHN", partner=f"P{i % 50}", product=f"{i // 50:06d}", flow="M",
                      period=date(2020, 1 + i % 12, 1), vintage="v1", value=float(i), retrieved_at=datetime(2024, 1, 1),
                      quantity=None if i < 5_000 else 2.5, estimate_flags=None if i < 5_000 else "estimated")
            for i in range(6_000)]
    with session_factory(engine).begin() as session:
        session.add_all(rows)
    query = select(TradeFlow.partner, TradeFlow.period, TradeFlow.value, TradeFlow.quantity, TradeFlow.estimate_flags
                   ).order_by(TradeFlow.value)
    import monitor.store.columnar as columnar

    monkeypatch.setattr(columnar, "_fetched", None)  # read by ADBC, not by the fallback
    with session_factory(engine)() as session:
        read = read_columns(session, query, {"partner": "text", "period": "date", "value": "float",
                                             "quantity": "float", "estimate_flags": "text"})
        assert _partner(session) is not None
    flags = read["estimate_flags"]
    assert flags.iloc[:5_000].isna().all() and (flags.iloc[5_000:] == "estimated").all()
    assert read["quantity"].iloc[:5_000].isna().all() and (read["quantity"].iloc[5_000:] == 2.5).all()
    assert read["period"].dtype == "datetime64[s]" and read["period"].iloc[13] == pd.Timestamp("2020-02-01")
    assert read["value"].tolist() == [float(i) for i in range(6_000)]
    engine.dispose()


def test_a_sqlite_read_the_driver_fails_goes_through_sqlite3_and_the_partner_is_replaced(tmp_path, monkeypatch):
    engine = _sqlite_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    with session_factory(engine).begin() as session:
        session.add(Series(series_id="prod.x", source="s", unit="t", description="test"))
    query = select(Series.series_id)
    with session_factory(engine)() as session:
        broken = _partner(session)
        broken.close()  # as a partner whose file went away would fail
        assert read_columns(session, query, {"series_id": "text"})["series_id"].tolist() == ["prod.x"]
        replaced = _partner(session)
        assert replaced is not broken
        assert read_columns(session, query, {"series_id": "text"})["series_id"].tolist() == ["prod.x"]
    engine.dispose()
