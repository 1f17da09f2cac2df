"""Shared fixtures: a clean shared service per test, a virtual clock, leak checks."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading

import pytest

from dashboard.config import config
from dashboard.service import MetricsService

from .support import VirtualClock


@pytest.fixture(autouse=True)
def _clean_state():
    """Every test starts without a shared service and with the default config, and must not leave threads,
    open feeds or a changed ``dashboard.config`` behind (set knobs through the ``feed_config`` fixture)."""
    MetricsService.reset_shared()
    threads_before = set(threading.enumerate())
    yield
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
