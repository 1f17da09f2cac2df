"""Shared fixtures: a clean shared service per test, a virtual clock, leak checks."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
import tempfile
import threading
import weakref

import pytest

from dashboard.config import config
from dashboard.core.lifecycle import Service
from dashboard.service import MetricsService

from .support import VirtualClock


def pytest_configure():
    """Servers started by module-scoped fixtures keep their history in this run's own folder too."""
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="dashboard-test-data-")


def pytest_collection_modifyitems(items):
    """Every coroutine test checks that it leaves no task running (``leak_check``, set up first so that it
    is torn down after the test's own fixtures)."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function) and "leak_check" not in item.fixturenames:
            item.fixturenames.insert(0, "leak_check")


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch, tmp_path_factory):
    """Every test starts without a shared service and with the default config, and must not leave a service
    running, threads, open feeds or a changed ``dashboard.config`` behind (set knobs through the
    ``feed_config`` fixture)."""
    # a server a test starts keeps its history in a folder of the test's own, never in the user's
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    MetricsService.reset_shared()
    threads_before = set(threading.enumerate())
    started: weakref.WeakSet[Service] = weakref.WeakSet()
    set_state = Service._set_state

    def recording(self: Service, state: str, **extra: object) -> None:
        if state == "starting":
            started.add(self)
        set_state(self, state, **extra)

    monkeypatch.setattr(Service, "_set_state", recording)
    yield
    running = sorted(f"{s.name} ({s.state})" for s in started if s.state in ("starting", "running", "stopping"))
    assert not running, f"test left services running: {running}"
    changed = {k: v for k, v in config.param.values().items() if k != "name" and v != config.defaults()[k]}
    config.param.update(config.defaults())
    assert not changed, f"test changed dashboard.config without restoring it: {changed}"
    MetricsService.reset_shared()
    if "dashboard.ui.feed" in sys.modules:
        for feed in sys.modules["dashboard.ui.feed"].Feed.open_feeds():
            feed.close()
    leaked = [t for t in set(threading.enumerate()) - threads_before
              if t.is_alive() and not t.daemon and not t.name.startswith(("asyncio_", "ThreadPoolExecutor"))]
    assert not leaked, f"test leaked threads: {leaked}"


@pytest.fixture
def feed_config():
    """``dashboard.config`` for a test to change; every knob is restored afterwards."""
    before = dict(config.param.values())
    yield config
    config.param.update(before)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def leak_check():
    """Fail an async test that leaves tasks running."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert not left, f"test left tasks running: {[t.get_name() for t in left]}"


@pytest.fixture
def caplog_dashboard(caplog):
    caplog.set_level(logging.DEBUG, logger="dashboard")
    return caplog
