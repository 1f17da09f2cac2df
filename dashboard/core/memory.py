"""The server process's allocator: freed memory kept for the next query instead of handed back at once.

A zoom over history folds a few million rows with numpy, allocating tens of megabytes of temporaries and
freeing them a moment later. glibc's malloc serves blocks over 128 KiB (a threshold it raises as such
blocks are freed) with fresh ``mmap`` pages and returns them on ``free``, so every query pays a page fault
per 4 KiB it touches: on this project's 2-core machine that made a zoom's p95 half again as slow
(``benchmarks/history.py``). ``dashboard serve`` therefore asks glibc to serve blocks up to 32 MiB from
its heap and to keep up to 256 MiB freed at the heap's top. The cost is a process that holds on to that
much memory after a large query, which a server that answers the next one wants anyway. Elsewhere (another
C library, another system) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Tell glibc's malloc to serve blocks under ``mmap_threshold`` bytes from its heap and keep up to
    ``trim_threshold`` bytes freed; True when it took both (False off glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc's own symbol: musl's mallopt does nothing)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
