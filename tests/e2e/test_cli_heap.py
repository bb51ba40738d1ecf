"""monitor/cli/heap.py in a process of its own: glibc takes the settings, and large arrays still work."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_the_settings_and_large_arrays_still_work():
    # in a child: the settings are process-wide
    code = ("from monitor.cli.heap import keep_freed_heap; import numpy as np; ok = keep_freed_heap(); "
            "a = np.ones(8_000_000); del a; b = np.zeros(8_000_000); print(ok, float(b.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "0.0"]
