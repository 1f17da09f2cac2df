"""The publisher never lets one subscriber block or break another."""

from __future__ import annotations

import asyncio

from dashboard.core.publisher import MetricsPublisher

from ..support import async_poll


async def test_every_subscriber_gets_every_item_in_order():
    pub = MetricsPublisher()
    a, b = [], []
    pub.subscribe(a.append)
    pub.subscribe(b.append)
    for i in range(10):
        assert pub.publish(i) == 2
    await async_poll(lambda: len(a) == 10 and len(b) == 10)
    assert a == b == list(range(10))
    pub.close()


async def test_publish_never_awaits_a_slow_subscriber():
    pub = MetricsPublisher(max_pending=1000)
    release = asyncio.Event()
    fast: list[int] = []

    async def slow(item):
        await release.wait()

    slow_sub = pub.subscribe(slow, name="slow")
    pub.subscribe(fast.append, name="fast")
    for i in range(100):
        pub.publish(i)  # a plain call: it queues, and no subscriber has run yet
    assert fast == [] and slow_sub.pending == 100
    await async_poll(lambda: len(fast) == 100, what="the fast subscriber to get everything")
    assert not release.is_set() and slow_sub.pending == 99, "the slow one still holds its first item"
    release.set()
    pub.close()


async def test_slow_subscriber_drops_oldest_and_counts_them():
    pub = MetricsPublisher(max_pending=5)
    release = asyncio.Event()
    got: list[int] = []

    async def slow(item):
        await release.wait()
        got.append(item)

    sub = pub.subscribe(slow, name="slow-viewer")
    for i in range(20):
        pub.publish(i)
    await asyncio.sleep(0)
    release.set()
    await async_poll(lambda: sub.pending == 0 and len(got) >= 5)
    assert sub.dropped >= 14, sub
    assert got[-5:] == [15, 16, 17, 18, 19], "latest wins"
    assert sub.dropped + len(got) == 20, "every item is either delivered or counted as dropped"
    pub.close()


async def test_failing_subscriber_is_counted_logged_and_removed(caplog_dashboard):
    pub = MetricsPublisher(max_failures=3)
    good: list[int] = []

    def broken(item):
        raise RuntimeError("render failed")

    bad = pub.subscribe(broken, name="broken-viewer")
    pub.subscribe(good.append, name="good")
    for i in range(5):
        pub.publish(i)
    await async_poll(lambda: len(good) == 5)
    await async_poll(lambda: not bad.active)
    assert bad.failures == 3
    assert pub.subscriber_count == 1
    assert "subscriber broken-viewer failed" in caplog_dashboard.text
    assert "subscriber broken-viewer removed after 3 failures in a row" in caplog_dashboard.text
    pub.close()


async def test_unsubscribe_from_inside_the_handler():
    pub = MetricsPublisher()
    got = []

    def once(item):
        got.append(item)
        pub.unsubscribe(sub)

    sub = pub.subscribe(once)
    pub.publish(1)
    pub.publish(2)
    await async_poll(lambda: not sub.active)
    await asyncio.sleep(0.01)
    assert got == [1] and pub.subscriber_count == 0


async def test_close_stops_every_delivery_task():
    pub = MetricsPublisher()
    subs = [pub.subscribe(lambda item: None) for _ in range(3)]
    pub.publish("x")
    await asyncio.sleep(0)
    pub.close()
    await asyncio.sleep(0)
    assert pub.subscriber_count == 0
    assert all(s._task is None or s._task.done() for s in subs)
