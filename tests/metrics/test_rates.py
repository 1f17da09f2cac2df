"""Counters become per-second rates; resets and gaps are handled."""

from __future__ import annotations

import numpy as np

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.metrics.rates import RateConverter

BYTES = SeriesKey.of("network_io_bytes", direction="sent")
GAUGE = SeriesKey.of("memory_percent")
INFO = {BYTES: SeriesInfo("B/s", "counter"), GAUGE: SeriesInfo("%")}


def batch(t, counter, gauge):
    return Batch("sys", (BYTES, GAUGE), np.array(t, float), np.array([counter, gauge], float), INFO)


def test_rates_across_and_within_batches():
    rc = RateConverter()
    first = rc.convert(batch([0, 1], [100, 300], [5, 6]))
    assert np.isnan(first.values[0, 0]) and first.values[0, 1] == 200
    assert first.values[1].tolist() == [5, 6], "gauges are untouched"
    second = rc.convert(batch([3], [700], [7]))
    assert second.values[0].tolist() == [200.0]


def test_counter_reset_counts_the_new_value_as_the_increase():
    rc = RateConverter()
    rc.convert(batch([0], [1000], [0]))
    out = rc.convert(batch([2], [50], [0]))
    assert out.values[0].tolist() == [25.0] and rc.resets == 1


def test_no_rate_across_a_gap():
    rc = RateConverter()
    rc.convert(batch([0], [100], [0]))
    gap = rc.convert(batch([1], [np.nan], [np.nan]))
    after = rc.convert(batch([2], [300], [0]))
    assert np.isnan(gap.values[0, 0]) and np.isnan(after.values[0, 0])
    assert rc.convert(batch([3], [400], [0])).values[0].tolist() == [100.0]
