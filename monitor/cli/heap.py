"""glibc's heap for a command that computes on large numpy arrays: freed blocks kept for reuse.

By default glibc serves each block above its mmap threshold (at most 32 MiB: 4 million
float64, so every column-sized temporary of a 5,000,000-row table) with fresh pages from
``mmap`` and returns them on ``free``: the next temporary faults in new zeroed pages again,
one fault per 4 KiB. ``concentration --input`` on 5,000,000 rows took 630,000 minor
faults, 1.3-1.4 s of its 4.3 CPU-s in the kernel. Served from the heap and kept there,
freed blocks are reused: 506,000 faults, median wall 2.67 → 2.47 s and CPU 4.3 → 4.0 s
over 7 interleaved runs (machine F, docs/benchmarks.md, 2026-12-07). Peak RSS rose
593 → 612 MiB.
"""

from __future__ import annotations

import ctypes
import platform
import sys

__all__ = ["keep_freed_heap"]

# glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_heap() -> bool:
    """Make glibc serve every block from the heap (no ``mmap`` per block) and keep freed
    memory instead of returning it to the system; whether it did (False: not glibc)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the process's own symbols: the glibc it runs on
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
