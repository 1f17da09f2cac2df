"""MetricsService: real psutil end to end, and failures in virtual time."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

import numpy as np
import pandas as pd
import pytest

from dashboard.core.resilience import RetryPolicy
from dashboard.core.state import ConnectionState
from dashboard.metrics.model import SeriesKey
from dashboard.service import STALL, MetricsService, SourceEvent
from dashboard.sources.system import SystemSource

from .support import ScriptedSource, async_poll, poll, settle

S = ConnectionState


async def test_real_system_source_end_to_end(leak_check):
    svc = MetricsService([SystemSource(interval=0.1)])
    got = []
    svc.publisher.subscribe(got.append)
    async with svc:
        await async_poll(lambda: svc.store.size(SeriesKey.of("cpu_percent")) >= 3
                         if SeriesKey.of("cpu_percent") in svc.store else False, timeout=10)
        assert svc.sources["system"].connection == "connected"
        tidy = svc.frame("cpu_percent")
        assert list(tidy.columns) == ["time", "metric", "labels", "value"] and len(tidy) >= 3
        assert tidy.value.between(0, 100).all()
        wide = svc.frame("cpu_core_percent", wide=True)
        assert wide.shape[1] == len([k for k in svc.keys() if k.name == "cpu_core_percent"])
        status = svc.status()
        assert isinstance(status, pd.DataFrame) and status.loc[0, "state"] == "connected"
        assert svc.store.latest(SeriesKey.of("up", source="system"))[1] == 1.0
    assert svc.state == "stopped" and len(svc.resources) == 0
    assert svc.sources["system"].connection == "stopped"
    batches = [b for b in got if not isinstance(b, SourceEvent)]
    assert len(batches) >= 3


def make_service(clock, *sources, **params):
    """A service in virtual time: it collects in the test's loop (``threaded=False``)."""
    params.setdefault("retry", RetryPolicy(base=1, factor=2, cap=8, jitter=0))
    return MetricsService(list(sources), clock=clock, sleep=clock.sleep, wall=clock, threaded=False, **params)


async def test_failures_retry_open_the_breaker_and_recover(clock, caplog_dashboard, leak_check):
    boom = ConnectionError("connection refused")
    flaky = ScriptedSource([1.0, boom, boom, boom, boom, 2.0], name="flaky", interval=1, clock=clock)
    steady = ScriptedSource([5.0], name="steady", interval=1, clock=clock)
    svc = make_service(clock, flaky, steady, failure_threshold=3, reset_timeout=10)
    states = []
    flaky.state_machine.on_change(lambda t: states.append(t.target))
    await svc.initialize()
    await settle(lambda: flaky.collections >= 2, steps=2000)
    await svc.shutdown()

    assert states[:6] == [S.CONNECTING, S.CONNECTED, S.RETRYING, S.CIRCUIT_OPEN, S.CONNECTING, S.CIRCUIT_OPEN]
    assert S.CONNECTED in states[6:], "after the script recovers the probe closes the circuit"
    assert flaky.failures == 4 and flaky.last_error == "ConnectionError: connection refused"
    assert steady.collections > flaky.collections, "the other source kept collecting"
    assert steady.failures == 0

    _t, v = svc.store.window(flaky.key, 1e9)
    assert np.isnan(v).any(), "the outage is a gap"
    assert v[0] == 1.0 and v[-1] == 2.0
    _up_t, up_v = svc.store.window(flaky.up_key, 1e9)
    assert up_v.tolist().count(0.0) == 4 and up_v[-1] == 1.0
    text = caplog_dashboard.text
    assert "flaky: connected -> retrying (ConnectionError: connection refused)" in text
    assert "flaky: circuit closed -> open" in text
    assert "flaky: collection failed" in text and "retry 1 in 1.00s" in text


async def test_backoff_and_breaker_timeout_in_virtual_time(clock):
    boom = OSError("down")
    src = ScriptedSource([boom] * 6 + [1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src, failure_threshold=4, reset_timeout=30)
    await svc.initialize()
    await settle(lambda: src.collections >= 1, steps=2000)
    await svc.shutdown()
    # three retries back off 1, 2, 4 s; the fourth failure opens the circuit for 30 s;
    # the failed probe opens it for another 30 s; the next probe succeeds.
    assert clock.sleeps[:5] == [1, 2, 4, 30, 30]


async def test_a_hanging_collection_times_out(leak_check):
    async def hang():
        await asyncio.sleep(3600)

    src = ScriptedSource([hang], name="hangs", interval=0.05, timeout=0.05)
    ok = ScriptedSource([1.0], name="ok", interval=0.05)
    svc = MetricsService([src, ok], retry=RetryPolicy(base=0.01, jitter=0))
    async with svc:
        await async_poll(lambda: src.failures >= 1, timeout=5)
        await async_poll(lambda: ok.collections >= 3, timeout=5)
    assert src.last_error == "TimeoutError: no answer within 0.05s"


async def test_a_stalled_host_leaves_a_gap(clock):
    src = ScriptedSource([1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src)
    await svc.initialize()
    await settle(lambda: src.collections >= 2, steps=500)
    clock.advance(STALL + 10)  # the machine was suspended, say: what it would have measured is unknown
    n = src.collections
    await settle(lambda: src.collections >= n + 1, steps=500)
    await svc.shutdown()
    t, v = svc.store.window(src.key, 1e9)
    gaps = np.flatnonzero(np.isnan(v))
    assert gaps.size == 1 and t[gaps[0] + 1] - t[gaps[0] - 1] > STALL


async def test_a_collection_a_busy_host_delayed_is_no_gap(clock):
    """The loop started late (the host was busy: a page being built, both cores loaded): the source
    answered as soon as it was asked, so nothing is missing and no gap is written."""
    src = ScriptedSource([1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src)
    await svc.initialize()
    await settle(lambda: src.collections >= 2, steps=500)
    for _ in range(3):
        clock.advance(4)  # each collection starts 4 s late
        n = src.collections
        await settle(lambda n=n: src.collections >= n + 1, steps=500)
    await svc.shutdown()
    _, v = svc.store.window(src.key, 1e9)
    assert v.size >= 5 and not np.isnan(v).any()


async def test_a_source_slow_to_answer_leaves_a_gap(clock):
    """Asked on time, the source took 5 intervals to answer: it was silent, and the line breaks."""
    async def slow():
        clock.advance(5)
        return 2.0

    src = ScriptedSource([1.0, 1.0, slow, 1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src)
    await svc.initialize()
    await settle(lambda: src.collections >= 4, steps=500)
    await svc.shutdown()
    _, v = svc.store.window(src.key, 1e9)
    assert np.isnan(v).sum() == 1


async def test_state_changes_are_published_for_status_displays(clock):
    src = ScriptedSource([1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src)
    events = []
    svc.publisher.subscribe(lambda item: events.append(item) if isinstance(item, SourceEvent) else None)
    await svc.initialize()
    await settle(lambda: len(events) >= 2, steps=500)
    await svc.shutdown()
    await asyncio.sleep(0)
    assert [e.connection for e in events[:2]] == ["connecting", "connected"] and events[0].source == "s"


async def test_a_source_that_fails_to_open_is_retried(clock, caplog_dashboard):
    class OpensOnThirdTry(ScriptedSource):
        opens = 0

        async def _initialize(self):
            type(self).opens += 1
            if type(self).opens < 3:
                raise PermissionError("no access to /dev/nvidia0")
            await super()._initialize()

    src = OpensOnThirdTry([1.0], name="gpu", interval=1, clock=clock)
    svc = make_service(clock, src)
    await svc.initialize()
    await settle(lambda: src.collections >= 1, steps=1000)
    await svc.shutdown()
    assert OpensOnThirdTry.opens == 3 and src.failures == 2
    assert "PermissionError: no access to /dev/nvidia0" in caplog_dashboard.text
    assert svc.store.info(src.key) is not None and math.isfinite(svc.store.latest(src.key)[1])


def test_shared_service_is_one_per_process():
    a = MetricsService.shared()
    assert MetricsService.shared() is a
    assert list(a.sources) == ["system"]


def test_repr_shows_state():
    svc = MetricsService([])
    assert "state=created" in repr(svc) and "subscribers=0" in repr(svc)


def test_logger_names_are_under_dashboard():
    assert logging.getLogger("dashboard.service").parent.name in ("dashboard", "root")


def test_start_without_a_running_loop_says_what_to_do():
    from dashboard.core.lifecycle import ServiceError

    svc = MetricsService([], threaded=False)
    with pytest.raises(ServiceError, match=r"none is running here; in a script use asyncio.run"):
        svc.start()


def test_start_without_a_running_loop_collects_in_its_own_thread():
    """A script with no event loop: ``start()`` runs the service on its own thread."""
    src = ScriptedSource([1.0], name="s", interval=0.05)
    svc = MetricsService([src])
    svc.start().result(timeout=30)
    try:
        poll(lambda: src.collections >= 3, timeout=30, what="three collections")
        assert svc._loop_thread is not None and svc._loop_thread.alive
    finally:
        asyncio.run(svc.shutdown())
    assert svc.state == "stopped" and svc._loop_thread is None


async def test_the_collection_runs_while_the_callers_loop_is_blocked():
    """A page build holds the server's loop for seconds: the service's own loop collects meanwhile, every
    sample on time and no gap; the viewers get the batches in their loop once it is free again."""
    src = ScriptedSource([1.0], name="s", interval=0.05)
    svc = MetricsService([src])
    here = threading.get_ident()
    threads: set[int] = set()
    svc.publisher.subscribe(lambda item: threads.add(threading.get_ident()))
    async with svc:
        await async_poll(lambda: src.collections >= 2, timeout=30)
        n = src.collections
        time.sleep(1.0)  # the caller's loop is blocked (a page being built)
        assert src.collections >= n + 10
        await async_poll(lambda: bool(threads), timeout=5)
    _, v = svc.store.window(src.key, 1e9)
    assert not np.isnan(v).any()
    assert threads == {here}  # handlers run in the loop they subscribed from, never the collection's


async def test_start_schedules_initialize_on_the_running_loop():
    svc = MetricsService([ScriptedSource([1.0], name="s", interval=0.05)])
    task = svc.start()
    await task
    assert svc.running and svc.start() is None
    await svc.shutdown()


def test_window_param_drives_store_queries():
    svc = MetricsService([], window=100)
    assert svc.store.window_seconds == 100
    svc.window = 5
    assert svc.store.window_seconds == 5
