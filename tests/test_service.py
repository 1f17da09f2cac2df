"""MetricsService: real psutil end to end, and failures in virtual time."""

from __future__ import annotations

import asyncio
import logging
import math

import numpy as np
import pandas as pd
import pytest

from dashboard.core.resilience import RetryPolicy
from dashboard.core.state import ConnectionState
from dashboard.metrics.model import SeriesKey
from dashboard.service import MetricsService, SourceEvent
from dashboard.sources.system import SystemSource

from .support import ScriptedSource, async_poll, settle

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
    params.setdefault("retry", RetryPolicy(base=1, factor=2, cap=8, jitter=0))
    return MetricsService(list(sources), clock=clock, sleep=clock.sleep, wall=clock, **params)


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


async def test_a_late_collection_leaves_a_gap(clock):
    src = ScriptedSource([1.0], name="s", interval=1, clock=clock)
    svc = make_service(clock, src)
    await svc.initialize()
    await settle(lambda: src.collections >= 2, steps=500)
    clock.advance(10)  # the machine was suspended, say
    n = src.collections
    await settle(lambda: src.collections >= n + 1, steps=500)
    await svc.shutdown()
    t, v = svc.store.window(src.key, 1e9)
    gaps = np.flatnonzero(np.isnan(v))
    assert gaps.size == 1 and t[gaps[0] + 1] - t[gaps[0] - 1] > 9


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

    svc = MetricsService([])
    with pytest.raises(ServiceError, match=r"none is running here; in a script use asyncio.run"):
        svc.start()


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
