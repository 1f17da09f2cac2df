"""Decimation to pixels: every bucket's min and max survive exactly, incrementally as in one pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dashboard.metrics.decimate import Decimator, buckets, minmax


def samples(draw, max_n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(0, max_n))
    steps = draw(st.lists(st.floats(0.001, 5.0), min_size=n, max_size=n))
    t = 1000.0 + np.cumsum(steps)
    k = draw(st.integers(1, 3))
    v = np.array(draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)), min_size=k * n, max_size=k * n)),
                 dtype=float).reshape(k, n)
    return t, v


@st.composite
def streams(draw):
    t, v = samples(draw)
    width = draw(st.floats(0.01, 20.0))
    return t, v, width


def gaps_of(v: np.ndarray) -> np.ndarray:
    return np.isnan(v).all(axis=0)


def check_exact(t, v, width, out_t, out_v, counts, starts):
    assert counts.sum() == out_t.size and np.all((counts == 1) | (counts == 2))
    ends = np.append(starts[1:], t.size) if t.size else starts
    offsets = np.cumsum(counts) - counts
    for b, (s, e) in enumerate(zip(starts, ends, strict=True)):
        rows = slice(offsets[b], offsets[b] + counts[b])
        assert out_t[rows][0] == t[s] and out_t[rows][-1] == t[e - 1], "rows sit at the bucket's first and last time"
        if e - s > 1:
            assert np.floor(t[s] / width) == np.floor(t[e - 1] / width), "a bucket never spans two widths"
        for j in range(v.shape[0]):
            raw, got = v[j, s:e], out_v[j, rows]
            if np.isnan(raw).all():
                assert np.isnan(got).all()
            else:
                assert np.nanmin(got) == np.nanmin(raw) and np.nanmax(got) == np.nanmax(raw)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_bucket_keeps_its_exact_min_and_max(stream):
    t, v, width = stream
    starts = buckets(t, width, gaps_of(v))
    out_t, out_v, counts = minmax(t, v, starts)
    check_exact(t, v, width, out_t, out_v, counts, starts)
    assert out_t.size <= t.size
    for g in np.flatnonzero(gaps_of(v)):  # a gap row is its own bucket: lines break there
        assert g in starts and (g + 1 == t.size or g + 1 in starts)


def test_a_slow_stream_is_kept_exactly_and_a_fast_one_is_bounded_by_the_buckets():
    t = np.arange(100, dtype=float)
    v = np.sin(t)[None, :]
    out_t, out_v, _ = minmax(t, v, buckets(t, 0.5))
    np.testing.assert_array_equal(out_t, t)
    np.testing.assert_array_equal(out_v, v)
    t = np.linspace(0, 60, 600_001)
    v = np.vstack((np.sin(t), np.cos(t), t))
    out_t, out_v, counts = minmax(t, v, buckets(t, 60 / 1000))
    assert out_t.size <= 2 * 1001
    assert np.all(counts[:-1] == 2) and counts[-1] == 1  # the last bucket holds t=60 alone
    np.testing.assert_array_equal(out_v[2], out_t)  # a rising series: min at the first sample, max at the last


def test_extremes_come_in_the_order_they_occurred():
    t = np.array([0.0, 0.1, 0.2, 0.3])
    v = np.array([[5.0, 9.0, 1.0, 4.0],   # max then min
                  [5.0, 1.0, 9.0, 4.0]])  # min then max
    out_t, out_v, _ = minmax(t, v, buckets(t, 1.0))
    np.testing.assert_array_equal(out_t, [0.0, 0.3])
    np.testing.assert_array_equal(out_v, [[9.0, 1.0], [1.0, 9.0]])


def follow(dec: Decimator, held: dict, rows_t: list, rows_v: list) -> None:
    """What a viewer does: patch the provisional rows it holds, append the new ones."""
    lo = max(held["stable"], dec.first)
    if lo < held["sent"]:
        t, v = dec.rows(lo, held["sent"])
        n = held["sent"] - lo
        rows_t[-n:] = list(t)
        rows_v[-n:] = list(v.T)
    t, v = dec.rows(held["sent"], dec.end)
    rows_t.extend(t)
    rows_v.extend(v.T)
    held["sent"], held["stable"] = dec.end, dec.stable


@settings(max_examples=100, deadline=None)
@given(streams(), st.lists(st.integers(1, 40), min_size=1, max_size=40))
def test_incremental_rows_equal_one_pass_and_a_follower_ends_with_them(stream, chunks):
    t, v, width = stream
    dec = Decimator(width, v.shape[0], capacity=100_000)
    held = {"sent": 0, "stable": 0}
    rows_t: list = []
    rows_v: list = []
    at = 0
    for size in chunks * (t.size // max(1, sum(chunks)) + 1):
        if at >= t.size:
            break
        dec.push(t[at:at + size], v[:, at:at + size])
        at += size
        follow(dec, held, rows_t, rows_v)
    out_t, out_v, _ = minmax(t, v, buckets(t, width, gaps_of(v)))
    got_t, got_v = dec.rows(dec.first, dec.end)
    np.testing.assert_array_equal(got_t, out_t)
    np.testing.assert_array_equal(got_v, out_v)
    np.testing.assert_array_equal(np.array(rows_t), out_t)
    if rows_v:
        np.testing.assert_array_equal(np.array(rows_v).T, out_v)


def test_capacity_bounds_the_rows_and_slices_stay_addressable():
    dec = Decimator(1.0, 1, capacity=16)
    for i in range(200):
        dec.push(np.array([float(i)]), np.array([[float(i)]]))
        assert len(dec) <= 2 * 16
    assert dec.end == 200 and dec.first >= 200 - 32
    t, v = dec.rows(dec.end - 5, dec.end)
    np.testing.assert_array_equal(v[0], t)
    np.testing.assert_array_equal(t, [195, 196, 197, 198, 199])
    assert dec.rows(0, 10)[0].size == 0, "rows no longer held are simply absent"


def test_late_samples_are_refused_and_counted():
    dec = Decimator(1.0, 1)
    assert dec.push(np.array([1.0, 2.0]), np.array([[1.0, 2.0]])) == 2
    assert dec.push(np.array([2.0, 1.5, 3.0]), np.array([[9.0, 9.0, 3.0]])) == 1
    assert dec.rejected == 2
    with pytest.raises(ValueError):
        Decimator(0.0)


def reference_buckets(t: np.ndarray, width: float) -> np.ndarray:
    """Where ``floor(t / width)`` changes, by a pass over every sample."""
    ids = np.floor(t / width)
    return np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), buckets_in_range=st.integers(1, 40), offset=st.floats(0, 1e9),
       on_edges=st.booleans(), seed=st.integers(0, 2**32 - 1))
@example(n=1024, buckets_in_range=17, offset=136945992.0, on_edges=True, seed=16)  # a run of equal times at an edge
def test_bucket_starts_by_binary_search_are_those_of_a_full_pass(n, buckets_in_range, offset, on_edges, seed):
    rng = np.random.default_rng(seed)
    width = float(rng.uniform(0.001, 10.0))
    if on_edges:  # samples exactly on bucket edges, where k * width and t / width may round apart
        t = offset + np.sort(rng.integers(0, buckets_in_range, n)) * width
        t = np.floor(t / width) * width
    else:
        t = np.sort(offset + rng.uniform(0, buckets_in_range * width, n))
    np.testing.assert_array_equal(buckets(t, width), reference_buckets(t, width))


def reference_order(x: np.ndarray) -> tuple[float, float]:
    """A bucket's (first, second) extremes by a plain loop: the one whose first occurrence is earlier first."""
    finite = [(i, value) for i, value in enumerate(x) if not np.isnan(value)]
    if not finite:
        return np.nan, np.nan
    lo = min(value for _, value in finite)
    hi = max(value for _, value in finite)
    at_lo = next(i for i, value in finite if value == lo)
    at_hi = next(i for i, value in finite if value == hi)
    return (lo, hi) if at_lo <= at_hi else (hi, lo)


@settings(max_examples=150, deadline=None)
@given(per_bucket=st.integers(2, 40), n_buckets=st.integers(1, 60), series=st.integers(1, 3),
       nan_share=st.sampled_from([0.0, 0.05, 0.5]), levels=st.integers(2, 1000), seed=st.integers(0, 2**32 - 1))
def test_regular_sampling_keeps_the_order_of_each_bucket_s_extremes(per_bucket, n_buckets, series, nan_share,
                                                                  levels, seed):
    """Regular samples make runs of equal buckets, read as one 2-D view; ties and NaN take the other way."""
    rng = np.random.default_rng(seed)
    n = per_bucket * n_buckets + int(rng.integers(0, per_bucket))
    t = np.arange(n, dtype=float)  # exact times: every bucket holds per_bucket samples
    v = rng.integers(0, levels, (series, n)).astype(float)  # few levels: ties within buckets
    v[rng.random((series, n)) < nan_share] = np.nan
    starts = buckets(t, float(per_bucket))
    _, out_v, counts = minmax(t, v, starts)
    ends = np.append(starts[1:], n)
    offsets = np.cumsum(counts) - counts
    for b, (s, e) in enumerate(zip(starts, ends, strict=True)):
        if e - s < 2:
            continue
        for j in range(series):
            np.testing.assert_array_equal(out_v[j, offsets[b]:offsets[b] + 2], reference_order(v[j, s:e]))
