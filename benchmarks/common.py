"""Shared by the benchmarks and scripts: Debian's Chromium flags and a ``dashboard serve`` on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard_server(*args: str, timeout: float = 60.0, checkout: str | None = None) -> Iterator[tuple[str, int]]:
    """Run ``dashboard serve`` on a free loopback port, its history in a fresh folder (as a first start:
    nothing to restore); yields its URL and process id once it answers. ``checkout``: another checkout of
    the project whose code to run (a build to compare with), instead of the installed one."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="dashboard-bench-data-")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")]))}
    server = subprocess.Popen([sys.executable, "-m", "dashboard", "--log-level", "WARNING", "serve", "--port",
                               str(port), "--data-dir", data, *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env if checkout else None, cwd=checkout)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"dashboard serve did not answer within {timeout:g} s") from None
                time.sleep(0.2)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(data, ignore_errors=True)
