"""Where an assessment's partitions are measured: in process, a local process pool, or Dask.

The assessment (:mod:`monitor.assess.assessment`) splits the catalog into partitions (a
chain, or a group of a big chain's nodes); an executor runs the partition function on
each and hands the measurements back *in task order*, so every executor gives the
same result. Workers outside the assessing process read their partition from the
database themselves (``PartitionTask.database_url``); only the small measurements
travel back.

- ``serial``: one partition after the other in this process, on the caller's sessions.
- ``local``: a process pool sized to the machine's cores (``workers`` overrides). It
  uses the ``forkserver`` start method: forking a process that runs scheduler and HTTP
  threads could copy a held lock into the child.
- ``dask``: ``distributed.Client(dask_scheduler)`` maps the partitions on an existing
  cluster. Its workers need this package installed and network access to the
  database; the database URL (with its password, if it has one) travels inside the
  tasks, so use a cluster you trust or passwordless authentication.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from monitor.config.models import AssessmentSettings


class ExecutorError(RuntimeError):
    """The configured executor cannot run this assessment (e.g. its cluster is unreachable)."""


class PartitionExecutor(Protocol):
    """Runs ``fn`` on each task and yields the results in task order."""

    def database_url(self, sessions: sessionmaker[Session]) -> str | None:
        """URL the workers open (None: they use the caller's sessions)."""

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], sessions: sessionmaker[Session]) -> Iterator[Any]:
        """``fn(task)`` (or ``fn(task, sessions)`` in process) for every task, in order."""


def _worker_url(sessions: sessionmaker[Session]) -> str:
    engine = sessions.kw["bind"]
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ExecutorError("an in-memory SQLite database is private to one process: "
                            "use executor: serial, or a database file or server")
    return url.render_as_string(hide_password=False)


class SerialExecutor:
    """Partitions one after the other in this process (one partition in memory at a time)."""

    def database_url(self, sessions: sessionmaker[Session]) -> str | None:
        """None: the partitions use the caller's sessions."""
        return None

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], sessions: sessionmaker[Session]) -> Iterator[Any]:
        """Lazily, so a partition's data is released before the next one loads."""
        return (fn(task, sessions) for task in tasks)


class LocalExecutor:
    """A pool of ``workers`` processes on this machine."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def database_url(self, sessions: sessionmaker[Session]) -> str | None:
        """The caller's database: every worker opens its own connection."""
        return _worker_url(sessions)

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], sessions: sessionmaker[Session]) -> Iterator[Any]:
        """All partitions on the pool; results in task order."""
        if not tasks:
            return iter(())
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=context) as pool:
            return iter(list(pool.map(fn, tasks)))


class DaskExecutor:
    """Partitions mapped on a Dask cluster: its scheduler's address, or a connected client."""

    def __init__(self, scheduler: str | None = None, client: Any = None):
        if (scheduler is None) == (client is None):
            raise ValueError("give the scheduler address or a client, not both")
        self.scheduler = scheduler
        self.client = client

    def database_url(self, sessions: sessionmaker[Session]) -> str | None:
        """The caller's database: every Dask worker opens its own connection."""
        return _worker_url(sessions)

    def map(self, fn: Callable[..., Any], tasks: Sequence[Any], sessions: sessionmaker[Session]) -> Iterator[Any]:
        """All partitions on the cluster; results in task order."""
        if not tasks:
            return iter(())
        if self.client is not None:
            return iter(self._gather(self.client, fn, tasks))
        try:
            from distributed import Client  # optional dependency: only this executor needs it
        except ImportError:
            raise ExecutorError("assessment.executor: dask needs the dask extra "
                                "(pip install 'chainwatch[dask]')") from None
        try:
            client = Client(self.scheduler, timeout=10, set_as_default=False)
        except OSError as err:
            raise ExecutorError(f"assessment.dask_scheduler {self.scheduler!r} is unreachable: {err}") from None
        with client:
            return iter(self._gather(client, fn, tasks))

    @staticmethod
    def _gather(client: Any, fn: Callable[..., Any], tasks: Sequence[Any]) -> list[Any]:
        # pure=False: two runs on the same tasks must both read the database.
        futures = client.map(fn, list(tasks), pure=False)
        return client.gather(futures)


def build_executor(settings: AssessmentSettings) -> PartitionExecutor:
    """The executor ``assessment.executor`` names."""
    if settings.executor == "local":
        return LocalExecutor(settings.workers)
    if settings.executor == "dask":
        return DaskExecutor(settings.dask_scheduler)
    return SerialExecutor()
