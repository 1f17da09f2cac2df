"""Batch processing: items are gathered and handed on in one call, by size or by age.

The seed's ``BatchProcessor`` awaited the processing while holding its lock and had no timer, so a
partial batch waited forever. Here ``add`` is synchronous and cheap (callable from any callback in the
loop), a batch is flushed when it holds ``max_size`` items or when its oldest item is ``max_delay``
seconds old, two flushes are at least ``min_interval`` apart, and the flush callback runs outside any
lock. The clock and the sleep are injected so its tests run in virtual time.

Its job in the data flow: each viewer's :class:`~dashboard.ui.feed.Feed` gathers published batches and
flushes them into the browser at most once per flush interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger("dashboard.batching")


def _current_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None

T = TypeVar("T")


class BatchProcessor(Generic[T]):
    """Collects items and calls ``process(items)`` by size or by time."""

    def __init__(
        self,
        process: Callable[[list[T]], Awaitable[None] | None],
        *,
        max_size: int | None = None,
        max_delay: float = 0.05,
        min_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        name: str = "batch",
    ) -> None:
        if max_size is not None and max_size < 1:
            raise ValueError("max_size must be at least 1")
        if max_delay < 0 or min_interval < 0:
            raise ValueError("max_delay and min_interval must not be negative")
        self._process = process
        self.max_size = max_size
        self.max_delay = max_delay
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self.name = name
        self._items: list[T] = []
        self._first_at: float | None = None
        self._last_flush = float("-inf")
        self._timer: asyncio.Task | None = None
        self._closed = False
        self.flushes = 0
        self.items_processed = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        """Queue ``item``; schedules a flush. Never blocks."""
        if self._closed:
            raise RuntimeError(f"{self.name}: batch processor is closed")
        if not self._items:
            self._first_at = self._clock()
        self._items.append(item)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._wait_and_flush())

    def due_in(self) -> float:
        """Seconds until the pending items are due (0 when due now)."""
        if not self._items:
            return float("inf")
        now = self._clock()
        by_age = (self._first_at or now) + self.max_delay
        if self.max_size is not None and len(self._items) >= self.max_size:
            by_age = now
        return max(0.0, by_age - now, self._last_flush + self.min_interval - now)

    async def _wait_and_flush(self) -> None:
        while self._items and not self._closed:
            wait = self.due_in()
            if wait > 0:
                await self._sleep(wait)
                continue
            await self.flush()

    async def flush(self) -> None:
        """Hand every pending item to ``process`` now."""
        items, self._items, self._first_at = self._items, [], None
        if not items:
            return
        self._last_flush = self._clock()
        self.flushes += 1
        self.items_processed += len(items)
        try:
            result = self._process(items)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: processing a batch of %d failed", self.name, len(items))

    async def close(self, flush: bool = True) -> None:
        """Stop the timer; by default flush what is pending first."""
        if flush:
            await self.flush()
        self._closed = True
        self._items = []
        if self._timer is not None and not self._timer.done() and self._timer is not asyncio.current_task():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer

    def cancel(self) -> None:
        """Stop at once without flushing (no awaiting: callable from any callback)."""
        self._closed = True
        self._items = []
        if self._timer is not None and not self._timer.done() and self._timer is not _current_task():
            self._timer.cancel()

    def __repr__(self) -> str:
        return f"<BatchProcessor {self.name!r} pending={len(self._items)} flushes={self.flushes}>"
