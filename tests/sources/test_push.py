"""PushSource: pushes from any thread, caps that count what they refuse, series at their own times."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from dashboard.errors import ParseError
from dashboard.metrics.model import SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.push import PushSource

from ..support import async_poll


async def test_pushes_from_many_threads_all_arrive(leak_check):
    src = PushSource(name="train", interval=0.02)
    svc = MetricsService([src])
    async with svc:
        def worker(n: int) -> None:
            for step in range(500):
                src.push(loss=1.0 / (step + 1), labels={"worker": n})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        await async_poll(lambda: src.pending == 0 and src.accepted == 2000, timeout=5)
        await async_poll(lambda: all(SeriesKey.of("loss", worker=str(n)) in svc.store for n in range(4)), timeout=5)
    sizes = [svc.store.size(SeriesKey.of("loss", worker=str(n))) for n in range(4)]
    # samples from one thread that share a timestamp keep the first; none is lost silently
    rejected = sum(svc.store._buffers[SeriesKey.of("loss", worker=str(n))].rejected for n in range(4))
    assert sum(sizes) + rejected == 2000 and src.overflow == 0


async def test_series_caps_fold_the_excess_into_a_counted_overflow(leak_check):
    src = PushSource(name="p", interval=0.02, max_series=5, max_series_per_metric=3)
    svc = MetricsService([src])
    async with svc:
        for i in range(10):
            src.push(requests=i, labels={"path": f"/{i}"})
        src.push(errors=1)
        src.push(latency=1)
        src.push(other=1)  # the 6th series: over max_series
        await async_poll(lambda: src.overflow == 8 and svc.store.size(src.overflow_key) > 0, timeout=5)
    kept = [k for k in svc.keys(source="p") if k.name == "requests"]
    assert len(kept) == 3, "per-metric cap"
    assert {k.name for k in svc.keys(source="p")} >= {"requests", "errors", "latency"}
    assert SeriesKey.of("other") not in svc.store, "total cap"
    assert svc.store.latest(src.overflow_key)[1] == 8.0, "the overflow is a series, shown like any other"


async def test_series_of_a_push_come_at_their_own_times(leak_check):
    """loss and accuracy pushed at different moments: neither is a gap in the other's line."""
    src = PushSource(name="p", interval=0.02)
    svc = MetricsService([src])
    async with svc:
        for step in range(5):
            src.push(loss=float(step), timestamp=1000.0 + step)
            src.push(accuracy=float(step), timestamp=1000.5 + step)
        await async_poll(lambda: SeriesKey.of("accuracy") in svc.store
                         and svc.store.size(SeriesKey.of("accuracy")) == 5, timeout=5)
    for name in ("loss", "accuracy"):
        t, v = svc.store.window(SeriesKey.of(name), 1e12, now=2000)
        assert t.size == 5 and np.isfinite(v).all()
    assert src.late_gaps is False and src.aligned is False


def test_push_names_what_is_wrong():
    src = PushSource(name="p")
    with pytest.raises(ParseError, match=r"value.*expected a number, got 'fast'"):
        src.push(speed="fast")
    with pytest.raises(ParseError, match=r"labels.*expected a string or number"):
        src.push(x=1, labels={"a": [1]})
    with pytest.raises(ParseError, match="milliseconds"):
        src.push(x=1, timestamp=1_764_150_000_000)
    with pytest.raises(ValueError, match="at least one"):
        src.push()
    assert src.push(x=math.nan).accepted == 1, "NaN is a gap, not an error"
    assert src.pending == 1


async def test_an_idle_push_source_says_up_once_a_second_and_pushed_samples_still_come_with_it(leak_check):
    """Drained every 20 ms with nothing pushed: one ``up`` sample a second, not fifty (every page would redraw
    its plot of ``up`` at each); a push is written at once, with ``up`` beside it."""
    src = PushSource(name="idle", interval=0.02)
    svc = MetricsService([src])
    async with svc:
        await async_poll(lambda: src.collections >= 100, timeout=30)  # two seconds or more of empty drains
        t, _ = svc.store.window(src.up_key, 3600)
        assert 1 <= t.size <= 2 + (t[-1] - t[0]), f"{t.size} up samples over {t[-1] - t[0]:.1f} s"
        assert np.all(np.diff(t) >= 0.99), "at most one a second"
        src.push(loss=0.5)
        await async_poll(lambda: SeriesKey.of("loss") in svc.store, timeout=5)
        t_loss, _ = svc.store.window(SeriesKey.of("loss"), 3600)
        t_up, v_up = svc.store.window(src.up_key, 3600)
        assert t_loss[-1] in t_up and v_up[-1] == 1.0, "a drain with samples writes up beside them"
