"""The assessment benchmark's fresh process: a failure or a death there ends the wait with the reason."""

from __future__ import annotations

import pytest

from benchmarks import bench_assessment
from benchmarks.synthetic import SyntheticCatalog

TINY = SyntheticCatalog(nodes=2, hs_per_node=2, partners=2, months=24, chains=1)


def test_an_assessment_failing_in_its_process_raises_its_error(tmp_path):
    # A directory where the database file should be: the assessment cannot open it.
    url = f"sqlite:///{tmp_path}"
    with pytest.raises(RuntimeError, match=r"failed in its process: OperationalError"):
        bench_assessment.assess_in_fresh_process(url, TINY, "serial")


def test_a_process_that_ends_without_a_result_is_reported(tmp_path, monkeypatch):
    # The forkserver child re-imports this module, so the replacement must be importable by name.
    monkeypatch.setattr(bench_assessment, "_child", _dies)
    with pytest.raises(RuntimeError, match=r"exit code 3\) without a result"):
        bench_assessment.assess_in_fresh_process(f"sqlite:///{tmp_path / 'a.db'}", TINY, "serial")


def _dies(sender, *args) -> None:
    import os

    os._exit(3)
