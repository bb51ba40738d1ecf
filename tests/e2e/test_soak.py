"""Soak: a compressed-time run of chainwatch's schedule with fault bursts (:mod:`benchmarks.bench_soak`).

CI runs 2 simulated days from Monday 15 June 2026, when the weekly stress test and the
monthly report fall on the first day (an assessment a day, hourly dispatch, and a seed
that gives each day an upstream fault and a receiver outage spanning that day's
assessment and its deliveries); ``pytest -m soak`` runs 90
days on SQLite and, when reachable, on PostgreSQL with database outages too.
Either way: nothing lost, nothing accepted twice, no partial write, no orphan
row, no pooled connection left checked out, no file-descriptor leak, the outbox
drained, and memory flat.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchmarks.bench_soak import soak
from tests.conftest import POSTGRES_URL, _PG_SKIP


def _check(figures, days: int, rss_growth_mb: float) -> None:
    assert sum(figures.jobs_run.values()) >= days * 24  # hourly dispatch at least
    assert figures.jobs_run.get("assess", 0) == days
    assert figures.jobs_run.get("abandon-stale-runs", 0) >= days * 24  # the hourly stale-run check
    assert figures.notifications > 0 and figures.delivered == figures.notifications, figures
    assert figures.lost == 0 and figures.dead == 0 and figures.duplicates_accepted == 0, figures
    assert figures.partial_writes == 0 and figures.orphans == 0, figures
    assert figures.connections_left_checked_out == 0
    assert figures.fds_end <= figures.fds_start, figures
    assert figures.rss_end_mb - figures.rss_start_mb < rss_growth_mb, figures


def test_soak_small(tmp_path):
    figures = soak(tmp_path, days=2, seed=19, fault_rate=3, start=datetime(2026, 6, 15, tzinfo=UTC))
    assert figures.faults.get("receiver_down", 0) == 2, figures.faults
    assert sum(n for f, n in figures.faults.items() if f.startswith("upstream")) == 2, figures.faults
    # after the warm-up (every job once), the weekly stress test and the monthly report ran in the loop too
    assert figures.jobs_run.get("stress") == 1 and figures.jobs_run.get("report") == 1, figures.jobs_run
    _check(figures, 2, rss_growth_mb=25)


@pytest.mark.soak
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_soak_full(tmp_path, backend):
    if backend == "postgresql" and _PG_SKIP:
        pytest.skip(_PG_SKIP)
    figures = soak(tmp_path, days=90, seed=90, postgres_url=POSTGRES_URL if backend == "postgresql" else None)
    print(f"\nsoak {backend}: {figures}")
    assert figures.faults.get("receiver_down", 0) >= 3
    _check(figures, 90, rss_growth_mb=40)
