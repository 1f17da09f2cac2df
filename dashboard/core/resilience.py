"""Retry with capped exponential backoff and jitter, and a circuit breaker; clock and sleep injectable.

The seed's retry slept ``delay * (attempt + 1)`` (linear, no jitter, no cap) and retried every
exception, ``CancelledError`` included on old Pythons; its breaker read ``time.time()`` and never counted
a failed half-open probe as a reason to open again. Here:

* :class:`RetryPolicy` gives the delay before attempt *n*: ``min(cap, base * factor**n)``, with "full
  jitter" (a uniform draw in ``[delay * (1 - jitter), delay]``) so that many clients do not retry in step.
* :func:`retry` awaits a coroutine function until it succeeds, the attempts run out or the error is not
  retryable; it sleeps through the injected ``sleep``, so tests run in virtual time.
* :class:`CircuitBreaker` is closed, open or half-open. ``failure_threshold`` consecutive failures open it;
  after ``reset_timeout`` on the injected clock one probe is let through (half-open); a success closes it,
  a failure opens it again. State changes are logged and reported to listeners.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import param

from .aio import Sleep

log = logging.getLogger("dashboard.resilience")

T = TypeVar("T")
Clock = Callable[[], float]


class RetryPolicy(param.Parameterized):
    """How long to wait before each further attempt."""

    base = param.Number(default=0.5, bounds=(0, None), doc="Delay before the first retry, in seconds.")
    factor = param.Number(default=2.0, bounds=(1, None), doc="Growth of the delay per attempt.")
    cap = param.Number(default=30.0, bounds=(0, None), doc="Longest delay between attempts, in seconds.")
    jitter = param.Number(
        default=0.5, bounds=(0, 1),
        doc="Fraction of each delay that is random (0: none, 1: uniform in [0, delay]).")
    max_attempts = param.Integer(
        default=3, bounds=(1, None), doc="Attempts made by retry() before the last error is raised.")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * self.factor ** min(attempt, 64))
        if not self.jitter:
            return ceiling
        draw = (rng or random).random()
        return ceiling * (1 - self.jitter * draw)


class RetriesExhausted(RuntimeError):
    """Raised by :func:`retry` when every attempt failed; ``__cause__`` is the last error."""


async def retry(
    func: Callable[[], Awaitable[T]],
    policy: RetryPolicy | None = None,
    *,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    name: str = "operation",
) -> T:
    """Await ``func()`` until it succeeds, at most ``policy.max_attempts`` times."""
    policy = policy or RetryPolicy()
    for attempt in range(policy.max_attempts):
        try:
            return await func()
        except retry_on as exc:
            if attempt + 1 >= policy.max_attempts:
                raise RetriesExhausted(
                    f"{name}: gave up after {policy.max_attempts} attempts: {exc}") from exc
            wait = policy.delay(attempt, rng)
            log.warning("%s: attempt %d failed (%s); retrying in %.2fs", name, attempt + 1, exc, wait)
            await sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


class CircuitOpen(RuntimeError):
    """Raised by :meth:`CircuitBreaker.call` while the circuit is open."""


class CircuitBreaker:
    """Stops calling something that keeps failing, and probes it again after a while."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self, name: str = "breaker", failure_threshold: int = 5, reset_timeout: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state = self.CLOSED
        self.failures = 0
        self.opened_at: float | None = None
        self._listeners: list[Callable[[str, str], None]] = []

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(old, new)`` after every change of state."""
        self._listeners.append(listener)

    @property
    def state(self) -> str:
        """The current state; an open breaker whose timeout has passed reads as half-open."""
        if self._state == self.OPEN and self.remaining() == 0:
            self._set(self.HALF_OPEN)
        return self._state

    def remaining(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self._state != self.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_timeout - self._clock())

    def allow(self) -> bool:
        """Whether a call may go through now."""
        return self.state != self.OPEN

    def record_success(self) -> None:
        self.failures = 0
        if self._state != self.CLOSED:
            self._set(self.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        if self._state == self.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self._clock()
            self._set(self.OPEN)

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Await ``func()`` through the breaker."""
        if not self.allow():
            raise CircuitOpen(f"{self.name}: circuit open, next probe in {self.remaining():.1f}s")
        try:
            result = await func()
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result

    def _set(self, new: str) -> None:
        old, self._state = self._state, new
        if old == new:
            return
        level = logging.WARNING if new == self.OPEN else logging.INFO
        log.log(level, "%s: circuit %s -> %s (failures=%d)", self.name, old, new, self.failures)
        for listener in list(self._listeners):
            listener(old, new)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state} failures={self.failures}>"
