"""The server's allocator setting: glibc takes it on Linux (the machines this project runs on)."""

from __future__ import annotations

import subprocess
import sys

from dashboard.core.memory import keep_freed_memory


def test_glibc_takes_the_servers_allocator_setting():
    """In a fresh process (the setting is process-wide), as ``dashboard serve`` asks it: mallopt accepts
    both thresholds. A machine whose C library refuses them answers False, and this test says so."""
    code = "from dashboard.core.memory import keep_freed_memory as k; print(k())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True"]


def test_keeping_freed_memory_is_safe_to_ask_twice():
    assert keep_freed_memory() is keep_freed_memory() is True
