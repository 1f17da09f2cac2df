"""Test helpers: a virtual clock, polling with a deadline, servers started and stopped, scripted sources."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np

from dashboard.metrics.model import Batch, SeriesKey
from dashboard.sources.base import Source


class VirtualClock:
    """Time that moves only when someone sleeps on it; ``sleep`` yields to the loop once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def async_poll(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01,
                     what: str = "condition") -> None:
    """Await until ``predicate()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def poll(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
         what: str = "condition") -> Any:
    """Wait (blocking) until ``predicate()`` is truthy and return it, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server started by a test; kill it if it does not exit within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def http_ok(url: str, timeout: float = 30.0) -> bool:
    """Whether ``url`` answers 200 (following redirects). A refused connection says no at once; an answer
    may take ``timeout`` seconds (a page's first answer on a busy machine takes seconds, not two)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


class ScriptedSource(Source):
    """A source whose collections follow a script: a number is a value, an exception is raised.

    Once the script runs out, the last step repeats. This is a scripted stand-in for faults a real
    source cannot be made to produce on cue; it is not a mock of any real source.
    """

    def __init__(self, script: list[Any] | None = None, metric: str = "scripted_value",
                 clock: Callable[[], float] = time.time, **params: Any) -> None:
        super().__init__(**params)
        self.script = list(script or [1.0])
        self.step = 0
        self.clock = clock
        self.key = SeriesKey.of(metric, source=self.name)

    async def _initialize(self) -> None:
        self.declare(self.key.name, "", **self.key.label_dict)

    async def _collect(self) -> Batch:
        item = self.script[min(self.step, len(self.script) - 1)]
        self.step += 1
        if isinstance(item, BaseException) or (isinstance(item, type) and issubclass(item, BaseException)):
            raise item
        if callable(item):
            item = await item() if asyncio.iscoroutinefunction(item) else item()
        return Batch(self.name, (self.key,), np.array([self.clock()]), np.array([[float(item)]]), self.series)


async def settle(predicate: Callable[[], bool] | None = None, steps: int = 200) -> None:
    """Give the loop up to ``steps`` turns (virtual-time tests) until ``predicate`` holds."""
    for _ in range(steps):
        if predicate is not None and predicate():
            return
        await asyncio.sleep(0)
    if predicate is not None and not predicate():
        raise AssertionError("condition not reached within the loop turns allowed")


