"""One owner for everything a service opens: handles, connections and background tasks.

The seed's ``ResourceManager`` kept resources in a ``WeakKeyDictionary`` (so a resource could vanish
without its cleanup running) and held its lock while awaiting cleanups. Here:

* each resource is registered with the coroutine or function that releases it, under a unique key;
* ``release(key)`` and ``release_all()`` first *decide* (pop under the lock, no awaiting), then release
  outside the lock, newest first, and a failing cleanup never stops the others (errors are logged and
  the first one re-raised by ``release_all`` after everything else was released);
* background tasks are resources too: ``spawn()`` creates a task that ``release_all()`` cancels and awaits,
  so no task outlives its owner (dask's ``AsyncTaskGroup``, trio's nurseries);
* ``managed()`` is the seed's managed connection: an ``async with`` that opens, registers and always
  releases.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

log = logging.getLogger("dashboard.resources")

T = TypeVar("T")
Cleanup = Callable[[], Any]


class ResourceManager:
    """Tracks resources and tasks by key and releases them, newest first, exactly once."""

    def __init__(self, owner: str = "") -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Any, Cleanup]] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        """Keys of the resources held now, oldest first."""
        with self._lock:
            return list(self._entries)

    def __repr__(self) -> str:
        return f"<ResourceManager {self.owner!r} holding {self.keys()}>"

    def add(self, key: str, resource: T, cleanup: Cleanup) -> T:
        """Register ``resource`` under ``key`` with the callable that releases it."""
        with self._lock:
            if key in self._entries:
                raise KeyError(f"{self.owner}: resource {key!r} is already held")
            self._entries[key] = (resource, cleanup)
        return resource

    def get(self, key: str) -> Any:
        """The resource held under ``key``."""
        return self._entries[key][0]

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run ``coro`` as a task owned by this manager; released means cancelled and awaited."""
        key = f"task:{name}:{next(self._counter)}"
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}:{name}")
        self.add(key, task, lambda: _cancel_and_wait(task))
        task.add_done_callback(lambda _t: self._forget(key, task))
        return task

    def _forget(self, key: str, task: asyncio.Task) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is task:
                del self._entries[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.owner, task.get_name(), exc_info=task.exception())

    async def release(self, key: str) -> bool:
        """Release one resource; returns False when nothing was held under ``key``."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        await _run_cleanup(entry[1])
        return True

    async def release_all(self) -> None:
        """Release everything, newest first; every cleanup runs even when one fails."""
        with self._lock:
            entries = list(self._entries.items())
            self._entries.clear()
        first_error: BaseException | None = None
        for key, (_resource, cleanup) in reversed(entries):
            try:
                await _run_cleanup(cleanup)
            except Exception as exc:
                log.error("%s: releasing %s failed: %s", self.owner, key, exc)
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    @asynccontextmanager
    async def managed(
        self, key: str, open_: Callable[[], Awaitable[T] | T], close: Callable[[T], Any]
    ) -> AsyncIterator[T]:
        """Open a resource, hold it for the ``async with`` block, always release it afterwards."""
        resource = open_()
        if inspect.isawaitable(resource):
            resource = await resource
        self.add(key, resource, lambda: close(resource))
        try:
            yield resource
        finally:
            await self.release(key)


async def _run_cleanup(cleanup: Cleanup) -> None:
    result = cleanup()
    if inspect.isawaitable(result):
        await result


async def _cancel_and_wait(task: asyncio.Task) -> None:
    if task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        pass  # already logged by the done callback
