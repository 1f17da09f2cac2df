"""The observer: one publisher fans items out to many subscribers, none of which can hold up another.

The seed's ``MetricsPublisher`` awaited every subscriber while holding its lock, so one slow viewer
stalled collection for everybody and a subscriber could not unsubscribe from inside its own callback.
Here:

* ``publish()`` is synchronous and O(subscribers): it copies the subscriber list under a short
  ``threading.Lock`` (no awaiting inside) and appends the item to each subscriber's own bounded queue;
  it may be called from any thread (the service collects in a thread of its own);
* each subscription delivers from its queue in its own task, in the event loop it was made in (a
  page's, a notebook kernel's), awaiting async handlers, so a slow subscriber only delays itself and a
  handler never runs in the publishing thread;
* a full queue drops its *oldest* item (latest wins) and counts it in ``dropped``, logged once per burst;
* a handler that raises is logged with the subscriber's name and counted in ``failures``; after
  ``max_failures`` failures in a row the subscription is removed, and that is logged too.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("dashboard.publisher")

Handler = Callable[[Any], Awaitable[None] | None]


class Subscription:
    """One subscriber's queue, delivery task and counters."""

    def __init__(self, publisher: MetricsPublisher, handler: Handler, name: str, max_pending: int,
                 max_failures: int, sub_id: int = 0) -> None:
        self.id = sub_id
        self.publisher = publisher
        self.handler = handler
        self.name = name
        self.max_failures = max_failures
        self._queue: deque[Any] = deque(maxlen=max_pending)
        self._queue_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = _running_loop()  # where the handler runs
        self._kick_pending = False
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.active = True
        self.delivered = 0
        self.dropped = 0
        self.failures = 0
        self._failures_in_a_row = 0
        self._warned_drop = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    def offer(self, item: Any) -> None:
        """Queue ``item`` for delivery (called by the publisher, from any thread)."""
        if not self.active:
            return
        with self._queue_lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
                if not self._warned_drop:
                    self._warned_drop = True
                    log.warning("subscriber %s is falling behind: dropping its oldest items", self.name)
            self._queue.append(item)
            if self._kick_pending:
                return  # a wake-up is on its way already
            self._kick_pending = True
        loop = self._loop
        if loop is None:  # made outside any loop: it delivers in the first one that offers it an item
            loop = self._loop = asyncio.get_running_loop()
        if _running_loop() is loop:
            self._kick()
            return
        try:
            loop.call_soon_threadsafe(self._kick)
        except RuntimeError:  # its loop is closed: nobody is left to deliver to
            self.cancel()

    def _kick(self) -> None:
        """Wake the delivery task (starting it if needed), in the subscription's loop."""
        with self._queue_lock:
            self._kick_pending = False
        if not self.active:
            return
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"deliver:{self.name}")
        assert self._wakeup is not None
        self._wakeup.set()

    async def _deliver(self) -> None:
        assert self._wakeup is not None
        while self.active:
            with self._queue_lock:
                item = self._queue.popleft() if self._queue else _EMPTY
            if item is _EMPTY:
                self._warned_drop = False
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                result = self.handler(item)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                self._record_failure()
            else:
                self.delivered += 1
                self._failures_in_a_row = 0

    def _record_failure(self) -> None:
        self.failures += 1
        self._failures_in_a_row += 1
        log.exception("subscriber %s failed (%d in a row)", self.name, self._failures_in_a_row)
        if self._failures_in_a_row >= self.max_failures:
            log.error("subscriber %s removed after %d failures in a row", self.name, self._failures_in_a_row)
            self.publisher._discard(self)
            self.active = False

    def cancel(self) -> None:
        """Stop delivering; pending items are discarded."""
        self.active = False
        with self._queue_lock:
            self._queue.clear()
        self.stop_task()

    def stop_task(self) -> None:
        """Cancel the delivery task (from any thread); the next offered item starts a new one."""
        task = self._task
        if task is None or task.done():
            return
        loop = task.get_loop()
        if _running_loop() is loop:
            task.cancel()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def __repr__(self) -> str:
        return (f"<Subscription {self.name!r} pending={self.pending} delivered={self.delivered} "
                f"dropped={self.dropped} failures={self.failures}>")


_EMPTY = object()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class MetricsPublisher:
    """Fans published items out to subscribers through per-subscriber bounded queues."""

    def __init__(self, name: str = "publisher", max_pending: int = 256, max_failures: int = 10) -> None:
        self.name = name
        self.max_pending = max_pending
        self.max_failures = max_failures
        self._lock = threading.Lock()
        self._subscriptions: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def subscribe(self, handler: Handler, name: str | None = None, max_pending: int | None = None) -> Subscription:
        """Deliver every later item to ``handler`` (sync or async) until unsubscribed."""
        sub_id = next(self._ids)
        sub = Subscription(self, handler, name or f"subscriber-{sub_id}", max_pending or self.max_pending,
                           self.max_failures, sub_id)
        with self._lock:
            self._subscriptions[sub_id] = sub
        log.debug("%s: %s subscribed (%d now)", self.name, sub.name, self.subscriber_count)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``; safe to call twice and from inside its own handler."""
        self._discard(sub)
        sub.cancel()
        log.debug("%s: %s unsubscribed (%d now)", self.name, sub.name, self.subscriber_count)

    def _discard(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions.pop(sub.id, None)

    def publish(self, item: Any) -> int:
        """Queue ``item`` for every subscriber; returns how many it was offered to. Never awaits."""
        with self._lock:
            subs = list(self._subscriptions.values())
        self.published += 1
        for sub in subs:
            sub.offer(item)
        return len(subs)

    def idle(self) -> None:
        """Stop every delivery task but keep the subscriptions (the service stopped; it may start again)."""
        for sub in self.subscriptions():
            sub.stop_task()

    def close(self) -> None:
        """Unsubscribe everybody."""
        for sub in self.subscriptions():
            self.unsubscribe(sub)

    def __repr__(self) -> str:
        return f"<MetricsPublisher {self.name!r} subscribers={self.subscriber_count} published={self.published}>"
