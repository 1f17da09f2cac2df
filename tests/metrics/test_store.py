"""Ring buffers and the store: bounded, vectorized, ordered, with gaps and aligned queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.metrics.frames import to_frame
from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.metrics.store import RingBuffer, Store

CPU = SeriesKey.of("cpu_percent")
MEM = SeriesKey.of("memory_percent", type="ram")


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 20),
       chunks=st.lists(st.integers(0, 30), min_size=1, max_size=12))
def test_ring_buffer_keeps_the_newest_capacity_samples(capacity, chunks):
    buf = RingBuffer(capacity)
    reference: list[float] = []
    t = 0.0
    for n in chunks:
        times = t + np.arange(1, n + 1, dtype=float)
        t += n
        buf.append(times, times * 10)
        reference.extend(times.tolist())
    got_t, got_v = buf.arrays()
    expected = reference[-capacity:]
    assert got_t.tolist() == expected
    assert got_v.tolist() == [x * 10 for x in expected]
    assert len(buf) == len(expected) and buf.count == len(reference)


def test_older_samples_are_refused_and_counted():
    buf = RingBuffer(10)
    buf.append(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert buf.append(np.array([2.0, 3.0, 4.0]), np.array([0.0, 0.0, 4.0])) == 1
    assert buf.append(np.array([6.0, 5.0, 7.0]), np.array([6.0, 5.0, 7.0])) == 2
    assert buf.arrays()[0].tolist() == [1.0, 2.0, 3.0, 4.0, 6.0, 7.0]
    assert buf.rejected == 3


def test_since_and_window():
    store = Store(capacity=100, window=10)
    t = np.arange(0, 30, dtype=float)
    store.append(Batch("sys", (CPU,), t, t.reshape(1, -1)))
    since_t, since_v = store.since(CPU, 25)
    assert since_t.tolist() == [26, 27, 28, 29] and since_v.tolist() == [26, 27, 28, 29]
    window_t, _ = store.window(CPU)
    assert window_t[0] == 20 and window_t[-1] == 29, "the default window is the last 10 s"
    assert store.window(CPU, 3)[0].tolist() == [27, 28, 29]
    assert store.latest(CPU) == (29.0, 29.0)


def test_aligned_fills_absent_samples_with_nan():
    store = Store()
    store.append(Batch("sys", (CPU, MEM), np.array([1.0, 2.0]), np.array([[10, 20], [1, 2]])))
    store.append(Batch("sys", (CPU,), np.array([3.0]), np.array([[30.0]])))
    times, values = store.aligned([CPU, MEM])
    assert times.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(values, [[10, 20, 30], [1, 2, np.nan]])


def test_describe_declares_series_before_samples():
    store = Store()
    store.describe("sys", {CPU: SeriesInfo(unit="%")})
    assert store.keys(source="sys") == [CPU] and store.info(CPU).unit == "%"
    assert store.size(CPU) == 0


def test_batch_validates_its_shape():
    with pytest.raises(ValueError, match=r"values have shape \(1, 3\), expected \(2, 3\)"):
        Batch("sys", (CPU, MEM), np.arange(3.0), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="appears twice"):
        Batch("sys", (CPU, CPU), np.arange(1.0), np.zeros((2, 1)))


def test_frames_tidy_and_wide():
    store = Store()
    store.append(Batch("sys", (CPU, MEM), np.array([1.0, 2.0]), np.array([[10, 20], [1, 2]])))
    tidy = to_frame(store)
    assert list(tidy.columns) == ["time", "metric", "labels", "value"]
    assert len(tidy) == 4 and set(tidy.metric) == {"cpu_percent", "memory_percent"}
    assert tidy.labels[tidy.metric == "memory_percent"].iloc[0] == '{type="ram"}'
    assert tidy.time.iloc[0] == pd.Timestamp(1.0, unit="s", tz="UTC")
    wide = to_frame(store, wide=True)
    assert list(wide.columns) == ["cpu_percent", 'memory_percent{type="ram"}']
    assert wide.index.name == "time" and wide.shape == (2, 2)
    assert to_frame(Store()).empty


def test_series_key_text_escapes_quotes():
    key = SeriesKey.of("x", path='a"b\\c')
    assert str(key) == 'x{path="a\\"b\\\\c"}'
    assert key.matches("x", {"path": 'a"b\\c'}) and not key.matches("y")


def test_single_sample_appends_refuse_old_samples_too():
    buf = RingBuffer(2)
    for t in (1.0, 2.0, 2.0, 1.5, 3.0):
        buf.append(np.array([t]), np.array([t]))
    assert buf.arrays()[0].tolist() == [2.0, 3.0] and buf.rejected == 2 and buf.count == 3


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 30), n=st.integers(0, 90), t0=st.floats(-5, 95), span=st.floats(0, 60))
def test_a_range_of_a_wrapped_ring_is_what_a_full_copy_holds(capacity, n, t0, span):
    buf = RingBuffer(capacity)
    times = np.arange(1, n + 1, dtype=float)
    buf.append(times, times * 2)
    all_t, all_v = buf.arrays()
    keep = (all_t > t0) & (all_t <= t0 + span)
    got_t, got_v = buf.between(t0, t0 + span)
    assert got_t.tolist() == all_t[keep].tolist() and got_v.tolist() == all_v[keep].tolist()
    assert buf.since(t0)[0].tolist() == all_t[all_t > t0].tolist()


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=0, max_size=400),
       gaps=st.sets(st.integers(0, 399), max_size=10), columns=st.integers(1, 50),
       lo=st.floats(0, 100), width=st.floats(1, 400))
def test_a_query_is_the_exact_min_and_max_of_each_pixel_column(values, gaps, columns, lo, width):
    """Brute force: every stored sample in the range lands in column floor((t - start) / (span / columns));
    the query's rows of that column have exactly its min and max; a gap (all series NaN) stays a row."""
    n = len(values)
    t = np.arange(n, dtype=float)
    a = np.array(values, dtype=float)
    b = -a
    for g in gaps:
        if g < n:
            a[g] = b[g] = np.nan
    store = Store(capacity=1000, window=1e9)
    store.append(Batch("s", (CPU, MEM), t, np.vstack((a, b))))
    start, end = lo, lo + width
    rows_t, rows_v = store.query([CPU, MEM], start, end, columns)
    inside = (t > start) & (t <= end)
    assert rows_t.size <= 2 * columns + 3 * int((np.isnan(a) & inside).sum()), "a gap splits its column in two"
    assert np.all(np.diff(rows_t) >= 0) and np.all((rows_t > start) & (rows_t <= end))
    column = np.floor((t - start) / (width / columns))
    row_column = np.floor((rows_t - start) / (width / columns))
    for c in np.unique(column[inside]):
        here = inside & (column == c)
        mine = row_column == c
        for series, samples in ((0, a), (1, b)):
            finite = samples[here][np.isfinite(samples[here])]
            drawn = rows_v[series][mine]
            drawn = drawn[np.isfinite(drawn)]
            if finite.size:
                assert drawn.min() == finite.min() and drawn.max() == finite.max()
            else:
                assert drawn.size == 0
    all_gap = inside & np.isnan(a)
    assert set(t[all_gap]) <= set(rows_t[np.isnan(rows_v[0]) & np.isnan(rows_v[1])]), "gaps stay gaps"


def test_a_range_frame_includes_both_ends_and_reads_iso_times():
    from dashboard.service import MetricsService

    svc = MetricsService([])
    t = np.arange(1_700_000_000.0, 1_700_000_010.0)
    svc.store.append(Batch("sys", (CPU,), t, t[None, :] - t[0], {CPU: SeriesInfo("%")}))
    frame = svc.frame("cpu_percent", start=t[2], end=t[5])
    assert frame["value"].tolist() == [2.0, 3.0, 4.0, 5.0]
    iso = pd.Timestamp(t[2], unit="s", tz="UTC").isoformat()
    assert svc.frame("cpu_percent", start=iso, end=t[5])["value"].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert svc.frame("cpu_percent", start=t[8])["value"].tolist() == [8.0, 9.0], "an open end"
    wide = svc.frame(start=t[0], end=t[1], wide=True)
    assert wide[str(CPU)].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="expected epoch seconds, ISO 8601 text or a datetime, got 'soon'"):
        svc.frame("cpu_percent", start="soon")
    with pytest.raises(ValueError, match="expected start < end"):
        svc.store.query([CPU], 5.0, 5.0, 10)
