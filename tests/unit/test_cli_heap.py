"""monitor/cli/heap.py: glibc's allocator told to keep freed blocks, and nothing done elsewhere."""

from __future__ import annotations

import platform

from monitor.cli import heap


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert heap.keep_freed_heap() is False
