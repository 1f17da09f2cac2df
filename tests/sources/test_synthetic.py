"""The synthetic source: exact sample times at the asked rate, whatever the collection interval."""

from __future__ import annotations

import numpy as np

from dashboard.sources.synthetic import SyntheticSource, waves


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_every_due_sample_once_at_its_exact_time():
    clock = Clock(1000.0)
    src = SyntheticSource(clock=clock, rate=100.0, series_count=3)
    async with src:
        times = []
        for step in (0.013, 0.05, 0.2, 0.001, 1.0):
            clock.t += step
            batch = await src.collect()
            assert batch.values.shape == (3, len(batch))
            times.extend(batch.time)
        np.testing.assert_allclose(np.diff(times), 0.01)
        assert times[0] == 1000.0 and len(times) == int(1.264 * 100) + 1
        assert [k.labels for k in src.series] == [(("wave", "0"),), (("wave", "1"),), (("wave", "2"),)]


async def test_a_collection_that_fell_far_behind_skips_and_counts():
    clock = Clock(0.0)
    src = SyntheticSource(clock=clock, rate=1000.0, series_count=1, max_batch=100)
    async with src:
        clock.t = 10.0
        batch = await src.collect()
        assert len(batch) == 100 and src.skipped == 10_001 - 100
        assert batch.time[-1] == 10.0


async def test_a_start_in_the_past_continues_a_prefilled_history():
    clock = Clock(500.0)
    t, v = waves(np.arange(-1000, 0, dtype=float), 10.0, 500.0, 2)
    assert t[-1] == 499.9 and v.shape == (2, 1000)
    src = SyntheticSource(clock=clock, rate=10.0, series_count=2, start=500.0)
    async with src:
        clock.t = 500.35
        batch = await src.collect()
        np.testing.assert_allclose(batch.time, [500.0, 500.1, 500.2, 500.3])
