"""Small asyncio helpers shared by the services.

``with_timeout`` awaits with a deadline. On Python 3.11+ it uses ``asyncio.timeout``: ``asyncio.wait_for``
before 3.12 swallows a cancellation that arrives just as the awaited call finishes (CPython gh-86296),
which leaves a cancelled collection loop running forever.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: An injectable ``asyncio.sleep``: the loops, retry and breaker take one so that tests run in virtual time.
Sleep = Callable[[float], Awaitable[Any]]


async def with_timeout(aw: Awaitable[T], seconds: float) -> T:
    """Await ``aw``; raise ``TimeoutError`` after ``seconds``."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await aw
    return await asyncio.wait_for(aw, seconds)  # pragma: no cover - Python 3.10
