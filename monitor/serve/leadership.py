"""Which replica runs the jobs: a leader lock and the loop that competes for it.

All replicas serve the API and ``/metrics``; exactly one runs the scheduled jobs.

* PostgreSQL (:class:`AdvisoryLeaderLock`): the leader holds a session-level
  ``pg_try_advisory_lock`` on a dedicated connection. When the leader process dies
  its connection closes and the server releases the lock at once; when its host or
  network dies, TCP keepalives set on that session (server side) release it within
  about ``4 × poll`` seconds, while the old leader's own check of the lock fails
  within about ``3 × poll`` seconds, so it stops scheduling before another replica
  can take over.
* SQLite (:class:`ProcessLeaderLock`): a SQLite file serves one process; that
  process is the leader, and it says so in the log.

:class:`LeaderElector` polls every ``poll_seconds``: a follower tries to take the
lock, the leader checks it still holds it. A follower therefore takes over at most
one poll after the lock was released.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

#: Advisory lock key (a positive bigint, so pg_locks' classid/objid halves recombine to it).
LEADER_LOCK_KEY = 0x2D5C_61A9_0B7E_4F13


class LeaderLock(Protocol):
    """A lock that at most one process holds at a time."""

    description: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process holds it now."""

    def still_held(self) -> bool:
        """True while this process still holds the lock (False once the connection is gone)."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


class ProcessLeaderLock:
    """SQLite: one process per database file, so this process leads."""

    description = "sqlite (single process assumed)"

    def try_acquire(self) -> bool:
        """Always granted."""
        return True

    def still_held(self) -> bool:
        """Always held."""
        return True

    def release(self) -> None:
        """Nothing to release."""


class AdvisoryLeaderLock:
    """A PostgreSQL session advisory lock held on a dedicated connection.

    Parameters
    ----------
    engine
        The service's engine; the lock opens its own unpooled connection to the same
        database, so pool recycling never drops the lock by accident.
    poll_seconds
        The elector's poll interval; the keepalive timings are derived from it.
    key
        The advisory lock key (one per deployment sharing the database).
    """

    def __init__(self, engine: Engine, poll_seconds: float, key: int = LEADER_LOCK_KEY):
        self._key = key
        self._poll = max(1, round(poll_seconds))
        # Client side: a leader whose connection stalls notices within ~3 polls.
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args={
            "connect_timeout": max(2, self._poll), "keepalives": 1, "keepalives_idle": self._poll,
            "keepalives_interval": self._poll, "keepalives_count": 2, "tcp_user_timeout": 2000 * self._poll,
        })
        self._connection: Connection | None = None
        self.description = f"postgresql advisory lock {key}"

    def try_acquire(self) -> bool:
        """``pg_try_advisory_lock`` on a fresh dedicated connection (kept while held)."""
        if self._connection is not None:
            return self.still_held()
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as err:
            log.warning("leader lock: database unreachable: %s", type(err).__name__)
            return False
        try:
            # Server side: a vanished leader's session (host down, network cut) ends after
            # ~4 polls without a keepalive answer, which releases its lock.
            for setting, value in (("tcp_keepalives_idle", self._poll), ("tcp_keepalives_interval", self._poll),
                                   ("tcp_keepalives_count", 3)):
                connection.execute(text(f"SET {setting} = {int(value)}"))
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar())
        except SQLAlchemyError as err:
            log.warning("leader lock: could not try the lock: %s", type(err).__name__)
            connection.close()
            return False
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

    def still_held(self) -> bool:
        """Ask the server whether this session still holds the lock."""
        if self._connection is None:
            return False
        try:
            held = self._connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"),
                {"key": self._key}).scalar()
        except SQLAlchemyError as err:
            log.error("leader lock: lost the connection holding it: %s", type(err).__name__)
            self._drop()
            return False
        if not held:
            self._drop()
        return bool(held)

    def release(self) -> None:
        """Unlock and close the dedicated connection."""
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except SQLAlchemyError:
            pass  # closing the connection releases it anyway
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                pass

    def close(self) -> None:
        """Release and dispose of the lock's engine."""
        self.release()
        self._engine.dispose()


class FileLeaderLock:
    """SQLite file: an exclusive ``flock`` on ``<database>.leader`` beside it.

    Processes sharing one SQLite file on one host (e.g. a second ``chainwatch run`` for
    the API) elect one leader; the kernel releases the lock when the holder dies.
    """

    def __init__(self, path: str):
        self._path = path
        self._fd: int | None = None
        self.description = f"sqlite file lock {path}"

    def try_acquire(self) -> bool:
        """Take the lock without waiting."""
        import fcntl

        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """A held flock stays held while the descriptor is open."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def leader_lock_for(engine: Engine, poll_seconds: float) -> LeaderLock:
    """The lock that fits ``engine``'s database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeaderLock(engine, poll_seconds)
    database = engine.url.database
    if database and database != ":memory:" and hasattr(os, "O_RDWR") and sys.platform != "win32":
        log.info("leadership: SQLite database, processes on this host sharing it elect a leader by a file lock")
        return FileLeaderLock(f"{database}.leader")
    log.info("leadership: SQLite database, a single chainwatch process is assumed to run the jobs "
             "(replicas need PostgreSQL)")
    return ProcessLeaderLock()


class LeaderElector:
    """Competes for ``lock`` every ``poll_seconds`` and reports changes of leadership.

    ``on_elected`` runs when this process becomes leader, ``on_deposed`` when it loses
    the lock (both on the elector's thread). :meth:`stop` ends the loop without
    releasing the lock: the owner releases it after its jobs have stopped.
    """

    def __init__(self, lock: LeaderLock, poll_seconds: float, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None]):
        self.lock = lock
        self._poll = poll_seconds
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = False

    def start(self) -> None:
        """Run the first election now, then poll in a daemon thread."""
        self._step()
        self._thread = threading.Thread(target=self._loop, name="chainwatch-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._poll):
            self._step()

    def _step(self) -> None:
        try:
            if not self.is_leader:
                if self.lock.try_acquire():
                    self.is_leader = True
                    log.info("leadership: this process is the leader (%s); starting the jobs", self.lock.description)
                    self._on_elected()
            elif not self.lock.still_held():
                self.is_leader = False
                log.error("leadership: lost the leader lock; stopping the jobs")
                self._on_deposed()
        except Exception:  # the loop must survive anything a callback raises
            log.exception("leadership: election step failed")

    def stop(self) -> None:
        """End the polling loop (the lock stays held until released)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._poll + 30)
