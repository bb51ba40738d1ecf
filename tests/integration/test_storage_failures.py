"""A database that refuses writes (disk full) fails the collection of a source with one
line, stores nothing of the batch, and leaves no traceback (issue 25)."""

from __future__ import annotations

from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from monitor.cli.main import main
from monitor.collect.collection import CollectionRunner, build_collectors
from monitor.config.loader import load_config
from monitor.store import observations
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import CollectorRun, Observation
from tests.conftest import CONFIG_DIR


def _runner(sessions, clock) -> CollectionRunner:
    config = load_config(CONFIG_DIR, environ={})
    return CollectionRunner(build_collectors(config, clock=clock), sessions, clock)


def test_a_full_sqlite_disk_fails_the_source_with_one_line(tmp_path, clock, capsys):
    db_url = f"sqlite:///{tmp_path / 'full.db'}"
    assert main(["migrate", "--db", db_url]) == 0
    engine = make_engine(db_url)
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar()
    engine.dispose()  # the cap below applies to connections made from here on

    # A real "database or disk is full": SQLite may not grow the file past its current size.
    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    outcome = _runner(session_factory(engine), clock).collect("demo")
    assert not outcome.ok
    assert outcome.error == "could not store the batch: database or disk is full"
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Observation)).scalar() == 0
    engine.dispose()


def test_disk_full_injected_into_the_upsert_on_both_backends(sessions, clock, monkeypatch):
    def full(*_args, **_kwargs):
        raise OperationalError("INSERT INTO observations", None, Exception("database or disk is full"))

    monkeypatch.setattr(observations, "bulk_upsert", full)
    outcome = _runner(sessions, clock).collect("demo")
    assert (outcome.ok, outcome.error) == (False, "could not store the batch: database or disk is full")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 0
        assert session.scalars(select(CollectorRun.status)).all() == ["failed"]
