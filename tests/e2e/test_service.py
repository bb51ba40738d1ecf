"""``chainwatch run``'s process: graceful SIGTERM during a long job, and leader takeover on PostgreSQL."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(db_url: str, log: Path, job_seconds: float, poll: float = 0.5, grace: float = 30) -> tuple:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.service_process", db_url, str(port), str(log), str(job_seconds), str(poll),
         str(grace)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "service did not come up in 60 s"
        time.sleep(0.1)


def _events(log: Path) -> list[tuple[str, int, float]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        kind, pid, at = line.split()
        rows.append((kind, int(pid), float(at)))
    return rows


def _wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _ready(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()


def test_sigterm_lets_the_running_job_finish_then_exits_0(tmp_path):
    log = tmp_path / "jobs.log"
    proc, port = _start(f"sqlite:///{tmp_path / 'svc.db'}", log, job_seconds=3)
    try:
        _wait_for(lambda: any(k == "start" for k, _, _ in _events(log)), 30, "the job to start")
        assert _ready(port)["scheduler"]["running_jobs"] == ["tick"]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = _events(log)
    assert code == 0, proc.stderr.read()
    assert [k for k, _, _ in events] == ["start", "end"], events  # finished, and nothing new started


def test_sigterm_abandons_a_job_that_outlives_the_grace_period(tmp_path):
    log = tmp_path / "jobs.log"
    proc, _port = _start(f"sqlite:///{tmp_path / 'svc.db'}", log, job_seconds=60, grace=1)
    try:
        _wait_for(lambda: _events(log), 30, "the job to start")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert time.monotonic() - started < 20
    assert [k for k, _, _ in _events(log)] == ["start"]
    assert "abandoning" in proc.stderr.read()


@pytest.mark.postgres
def test_leader_killed_another_takes_over_and_no_job_runs_twice(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("leader election needs PostgreSQL; SQLite assumes a single process")
    log = tmp_path / "jobs.log"
    first, first_port = _start(db_url, log, job_seconds=0.3)
    second = None
    try:
        _wait_for(lambda: sum(k == "end" for k, _, _ in _events(log)) >= 2, 30, "the leader to run jobs")
        second, second_port = _start(db_url, log, job_seconds=0.3)
        assert _ready(first_port)["scheduler"]["role"] == "leader"
        assert _ready(second_port)["scheduler"]["role"] == "follower"
        time.sleep(2)
        assert {pid for _, pid, _ in _events(log)} == {first.pid}, "the follower ran a job"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.time()
        _wait_for(lambda: any(pid == second.pid and k == "end" for k, pid, _ in _events(log)), 30,
                  "the follower to take over")
        takeover = min(at for _, pid, at in _events(log) if pid == second.pid) - killed_at
        assert takeover < 5, f"takeover took {takeover:.1f} s"
        assert _ready(second_port)["scheduler"]["role"] == "leader"
        time.sleep(1.5)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    events = _events(log)
    # One leader at a time: a run starts only when no other run is going on, except the one
    # the killed leader was in the middle of (its transaction died with it).
    starts = [(at, pid) for kind, pid, at in events if kind == "start"]
    last_first = max(at for at, pid in starts if pid == first.pid)
    assert all(at > last_first for at, pid in starts if pid == second.pid)
    running = None
    for kind, pid, _at in events:
        if kind == "start":
            assert running is None or (running == first.pid and pid == second.pid), events
            running = pid
        else:
            running = None
