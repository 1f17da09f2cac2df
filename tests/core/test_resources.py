"""The resource manager releases everything, newest first, once, even when a cleanup fails."""

from __future__ import annotations

import asyncio

import pytest

from dashboard.core.resources import ResourceManager


async def test_release_all_newest_first_and_once():
    rm = ResourceManager("svc")
    order = []
    rm.add("a", 1, lambda: order.append("a"))

    async def close_b():
        order.append("b")

    rm.add("b", 2, close_b)
    await rm.release_all()
    await rm.release_all()
    assert order == ["b", "a"] and len(rm) == 0


async def test_a_failing_cleanup_does_not_stop_the_others(caplog_dashboard):
    rm = ResourceManager("svc")
    order = []
    rm.add("a", 1, lambda: order.append("a"))
    rm.add("bad", 2, lambda: 1 / 0)
    rm.add("c", 3, lambda: order.append("c"))
    with pytest.raises(ZeroDivisionError):
        await rm.release_all()
    assert order == ["c", "a"]
    assert "svc: releasing bad failed" in caplog_dashboard.text


async def test_duplicate_key_is_refused():
    rm = ResourceManager("svc")
    rm.add("a", 1, lambda: None)
    with pytest.raises(KeyError, match="svc: resource 'a' is already held"):
        rm.add("a", 2, lambda: None)
    await rm.release_all()


async def test_spawned_tasks_are_cancelled_on_release(leak_check):
    rm = ResourceManager("svc")
    cancelled = asyncio.Event()

    async def forever():
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    task = rm.spawn(forever(), "loop")
    await asyncio.sleep(0)
    assert any(k.startswith("task:loop") for k in rm.keys())
    await rm.release_all()
    assert task.cancelled() and cancelled.is_set()


async def test_finished_tasks_forget_themselves():
    rm = ResourceManager("svc")
    task = rm.spawn(asyncio.sleep(0), "short")
    await task
    await asyncio.sleep(0)
    assert len(rm) == 0


async def test_managed_releases_on_error():
    rm = ResourceManager("svc")
    closed = []
    with pytest.raises(RuntimeError):
        async with rm.managed("conn", lambda: "socket", closed.append) as conn:
            assert conn == "socket" and "conn" in rm
            raise RuntimeError("boom")
    assert closed == ["socket"] and "conn" not in rm
