"""TTL cache and batch processor, in virtual time."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from dashboard.core.batching import BatchProcessor
from dashboard.core.cache import TTLCache

from ..support import settle


def test_ttl_expiry_and_eviction(clock):
    cache = TTLCache(ttl=5, maxsize=2, clock=clock)
    cache.set("a", 1)
    clock.advance(4.9)
    assert cache.get("a") == 1
    clock.advance(0.2)
    assert cache.get("a") is None and len(cache) == 0, "expired entries are evicted on read"
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert cache.get("a") is None and cache.get("c") == 3, "the oldest entry goes when full"


def test_get_or_compute_computes_once_per_ttl(clock):
    cache = TTLCache(ttl=5, clock=clock)
    calls = []
    for _ in range(3):
        cache.get_or_compute("pids", lambda: calls.append(1) or len(calls))
    clock.advance(5)
    assert cache.get_or_compute("pids", lambda: calls.append(1) or len(calls)) == 2
    assert len(calls) == 2


async def test_concurrent_loads_share_one_call(clock):
    cache = TTLCache(ttl=5, clock=clock)
    started = []

    async def load():
        started.append(1)
        await asyncio.sleep(0.01)
        return "value"

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(5)))
    assert results == ["value"] * 5 and len(started) == 1


async def test_failed_load_reaches_every_waiter_and_is_not_cached(clock):
    cache = TTLCache(ttl=5, clock=clock)

    async def load():
        await asyncio.sleep(0.01)
        raise OSError("boom")

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert cache.get("k") is None


async def test_batch_flushes_by_time(clock, leak_check):
    flushed: list[list[int]] = []
    proc = BatchProcessor(flushed.append, max_delay=0.05, clock=clock, sleep=clock.sleep)
    for i in range(3):
        proc.add(i)
    assert flushed == []
    await settle(lambda: bool(flushed))
    assert flushed == [[0, 1, 2]]
    assert clock.now == pytest.approx(1000.05)
    await proc.close()


async def test_batch_flushes_by_size(clock, leak_check):
    flushed: list[list[int]] = []
    proc = BatchProcessor(flushed.append, max_size=2, max_delay=10, clock=clock, sleep=clock.sleep)
    proc.add(1)
    proc.add(2)
    await settle(lambda: bool(flushed))
    assert flushed == [[1, 2]] and clock.now == 1000, "a full batch goes without waiting"
    await proc.close()


async def test_min_interval_limits_flush_rate(clock, leak_check):
    flushed: list[tuple[float, list[int]]] = []
    proc = BatchProcessor(lambda items: flushed.append((clock.now, items)), max_delay=0.05,
                          min_interval=0.05, clock=clock, sleep=clock.sleep)
    for i in range(20):  # one item every 10 ms of virtual time
        proc.add(i)
        await clock.sleep(0.01)
    await settle(lambda: len(proc) == 0)
    times = [t for t, _ in flushed]
    assert all(b - a >= 0.05 - 1e-9 for a, b in itertools.pairwise(times))
    assert sum(len(items) for _, items in flushed) == 20, "nothing is lost"
    await proc.close()


async def test_a_failing_process_call_is_logged_and_the_processor_goes_on(clock, caplog_dashboard):
    calls = []

    def process(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("bad batch")

    proc = BatchProcessor(process, max_delay=0.01, clock=clock, sleep=clock.sleep, name="feed")
    proc.add(1)
    await settle(lambda: len(calls) == 1)
    proc.add(2)
    await settle(lambda: len(calls) == 2)
    assert calls == [[1], [2]]
    assert "feed: processing a batch of 1 failed" in caplog_dashboard.text
    await proc.close()


async def test_close_flushes_pending_and_refuses_more(clock):
    flushed = []
    proc = BatchProcessor(flushed.append, max_delay=10, clock=clock, sleep=clock.sleep)
    proc.add("x")
    await proc.close()
    assert flushed == [["x"]]
    with pytest.raises(RuntimeError, match="closed"):
        proc.add("y")


async def test_cancel_drops_pending_without_flushing(clock, leak_check):
    flushed = []
    proc = BatchProcessor(flushed.append, max_delay=10, clock=clock, sleep=clock.sleep)
    proc.add("x")
    proc.cancel()
    await asyncio.sleep(0)
    assert flushed == [] and len(proc) == 0
