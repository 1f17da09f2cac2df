"""A TTL cache with an injectable clock, a size bound and single-flight loading.

The seed's ``MetricsCache`` held an ``asyncio.Lock`` around every read, kept expired entries forever and
let concurrent misses all run the expensive load. Here reads never lock (dict access within one thread
is atomic), expired entries are evicted, the oldest entry goes when the cache is full, and
:meth:`TTLCache.get_or_load` runs the loader once for concurrent callers of the same key.

Its job in the data flow: :class:`~dashboard.sources.system.SystemSource` reads the process table (the
slowest psutil call, a walk of ``/proc``) at most once per ``slow_interval`` through it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

_MISSING = object()


class TTLCache:
    """Values that expire ``ttl`` seconds after they were stored."""

    def __init__(self, ttl: float, maxsize: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl < 0 or maxsize < 1:
            raise ValueError("ttl must be >= 0 and maxsize >= 1")
        self.ttl = ttl
        self.maxsize = maxsize
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._loading: dict[Hashable, asyncio.Future] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The fresh value under ``key``, else ``default`` (an expired entry is evicted)."""
        entry = self._data.get(key)
        if entry is not None:
            expires, value = entry
            if self._clock() < expires:
                self.hits += 1
                return value
            del self._data[key]
        self.misses += 1
        return default

    def set(self, key: Hashable, value: Any) -> None:
        """Store ``value`` for ``ttl`` seconds, evicting the oldest entry when full."""
        self._data[key] = (self._clock() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def invalidate(self, key: Hashable | None = None) -> None:
        """Forget ``key``, or everything when ``key`` is None."""
        if key is None:
            self._data.clear()
        else:
            self._data.pop(key, None)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The fresh value under ``key``, computing and storing it on a miss (synchronous callers)."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self.set(key, value)
        return value

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """Like get_or_compute for coroutines; concurrent misses of one key share one load."""
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the waiters re-raise it
            raise
        else:
            self.set(key, value)
            future.set_result(value)
            return value
        finally:
            del self._loading[key]

    def __repr__(self) -> str:
        return f"<TTLCache ttl={self.ttl} size={len(self._data)} hits={self.hits} misses={self.misses}>"
