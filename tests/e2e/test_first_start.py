"""A fresh ``chainwatch run`` on an empty SQLite database fills itself at start (#25).

No schedule is waited for: scores, metrics, a stored stress suite and a report must
appear while every cron job's next run is still in the future, and the log must say
where the service listens and when each job runs next.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHAINWATCH = Path(sys.executable).with_name("chainwatch")
# A guard against a hang, not a performance target: on a busy shared 2-core machine the
# demo bootstrap (collect, assess, stress suite, report) has taken 2-4 minutes.
DEADLINE_SECONDS = 600


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json(url: str) -> dict | None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _filled(base: str, cwd: Path) -> dict:
    """What the bootstrap has produced so far (each entry True once present)."""
    chains = _json(f"{base}/api/v1/chains") or {"items": []}
    stress = _json(f"{base}/api/v1/stress") or {"items": []}
    try:
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.TransportError:
        metrics = ""
    return {
        "scores": bool(chains["items"]) and all(c.get("score") is not None for c in chains["items"]),
        "metrics": "chainwatch_chain_risk_score{" in metrics and "chainwatch_stress_impact_score{" in metrics,
        "stress": bool(stress["items"]),
        "report": any((cwd / "reports").glob("run-*/report.html")),
    }


def test_fresh_run_bootstraps_scores_stress_and_report(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "service.log"
    with open(log_path, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen([str(CHAINWATCH), "run", "--port", str(port)], cwd=tmp_path, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            state: dict = {}
            while not all(state.values()) or not state:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, \
                    f"not filled after {DEADLINE_SECONDS} s: {state}\n{log_path.read_text()[-3000:]}"
                state = _filled(base, tmp_path)
                time.sleep(0.5)  # polling interval, not a timing assumption
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
    log = log_path.read_text()
    assert code == 0, log
    assert f"listening on http://127.0.0.1:{port}" in log
    for job in ("assess", "report", "stress", "dispatch", "collect:demo"):
        assert f"job {job}: next run 20" in log, job
    assert "Traceback" not in log
