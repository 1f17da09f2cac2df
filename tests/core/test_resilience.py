"""Retry and circuit breaker, in virtual time."""

from __future__ import annotations

import random

import pytest

from dashboard.core.resilience import CircuitBreaker, CircuitOpen, RetriesExhausted, RetryPolicy, retry


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = RetryPolicy(base=0.5, factor=2, cap=5, jitter=0)
    assert [policy.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(10_000) == 5.0, "huge attempt numbers do not overflow"


def test_jitter_stays_within_its_band():
    policy = RetryPolicy(base=1, factor=2, cap=100, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(3, rng) for _ in range(500)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert max(delays) - min(delays) > 3, "jitter spreads the delays"


async def test_retry_succeeds_after_failures(clock):
    attempts = []

    async def flaky():
        attempts.append(clock.now)
        if len(attempts) < 3:
            raise ConnectionError("refused")
        return "ok"

    policy = RetryPolicy(base=1, factor=2, cap=10, jitter=0, max_attempts=5)
    assert await retry(flaky, policy, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [1, 2]
    assert attempts == [1000, 1001, 1003]


async def test_retry_gives_up_with_the_last_error(clock):
    async def always():
        raise ConnectionError("refused")

    with pytest.raises(RetriesExhausted, match="fetch: gave up after 3 attempts: refused") as info:
        await retry(always, RetryPolicy(jitter=0, max_attempts=3), sleep=clock.sleep, name="fetch")
    assert isinstance(info.value.__cause__, ConnectionError)
    assert len(clock.sleeps) == 2


async def test_retry_does_not_retry_other_errors(clock):
    async def bad():
        raise ValueError("malformed payload")

    with pytest.raises(ValueError):
        await retry(bad, RetryPolicy(), retry_on=(ConnectionError,), sleep=clock.sleep)
    assert clock.sleeps == []


async def test_breaker_opens_half_opens_and_closes(clock):
    breaker = CircuitBreaker("exporter", failure_threshold=3, reset_timeout=10, clock=clock)
    changes = []
    breaker.on_change(lambda old, new: changes.append(new))

    async def fail():
        raise ConnectionError("down")

    async def ok():
        return 42

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match=r"exporter: circuit open, next probe in 10.0s"):
        await breaker.call(ok)
    clock.advance(9.9)
    assert not breaker.allow()
    clock.advance(0.2)
    assert breaker.state == "half_open"
    assert await breaker.call(ok) == 42
    assert breaker.state == "closed" and breaker.failures == 0
    assert changes == ["open", "half_open", "closed"]


async def test_failed_probe_reopens_at_once(clock):
    breaker = CircuitBreaker("x", failure_threshold=5, reset_timeout=1, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.advance(1)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and breaker.remaining() == 1


def test_breaker_rejects_bad_settings():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_timeout=-1)
