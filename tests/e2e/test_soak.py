"""Soak: a compressed-time run of chainwatch's schedule with fault bursts (:mod:`benchmarks.bench_soak`).

CI runs 4 simulated days (an assessment a day, the weekly stress test, the monthly
report, hourly dispatch, upstream and receiver faults); ``pytest -m soak`` runs 90
days on SQLite and, when reachable, on PostgreSQL with database outages too.
Either way: nothing lost, nothing accepted twice, no partial write, no orphan
row, no pooled connection left checked out, no file-descriptor leak, the outbox
drained, and memory flat.
"""

from __future__ import annotations

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
    figures = soak(tmp_path, days=4, seed=4, fault_rate=3)
    assert {"receiver_down", "upstream"} <= {f.split("_")[0] if f.startswith("upstream") else f
                                             for f in figures.faults}, figures.faults
    _check(figures, 4, rss_growth_mb=25)


@pytest.mark.soak
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_soak_full(tmp_path, backend):
    if backend == "postgresql" and _PG_SKIP:
        pytest.skip(_PG_SKIP)
    figures = soak(tmp_path, days=90, seed=90, postgres_url=POSTGRES_URL if backend == "postgresql" else None)
    print(f"\nsoak {backend}: {figures}")
    assert figures.faults.get("receiver_down", 0) >= 3
    _check(figures, 90, rss_growth_mb=40)
