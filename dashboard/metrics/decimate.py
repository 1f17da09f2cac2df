"""Decimation to pixels: min and max per bucket, kept up to date as samples arrive.

A plot's window may hold far more samples than it has pixel columns (an hour at 1 kHz is 3.6 million
points per series). Drawing them all costs the browser time in proportion to the points, yet shows nothing
more than the minimum and maximum in each pixel column. So the window is cut into buckets of equal width
(aligned to multiples of the width, so they do not move as the window slides) and each bucket becomes:

* one row when it holds one sample (at the sample's time: slow sources are drawn exactly);
* two rows otherwise, at the times of the bucket's first and last samples, carrying for every series its
  minimum and maximum in the order in which they occurred (MinMax decimation with a time column shared by
  all series of a source).

A *gap* row (every series of the row is NaN: a failed or late collection) is never merged into a bucket;
it is kept as its own row so that the lines break where data is missing. Other NaNs (a series absent from
a batch) are ignored by the min and max.

:func:`minmax` decimates arrays in one pass of numpy reductions. :class:`Decimator` keeps the decimated
rows of a stream in a bounded buffer: rows of closed buckets never change; the rows of the newest (open)
bucket are rewritten as samples join it, and the buffer remembers where that provisional tail starts so
that a reader can patch what it holds and stream the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Decimator", "buckets", "minmax"]


def buckets(t: np.ndarray, width: float, gap: np.ndarray | None = None, origin: float = 0.0) -> np.ndarray:
    """Start indices of the buckets ``floor((t - origin) / width)`` of the time-ordered ``t``; gap rows are
    buckets of their own."""
    n = t.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n > 64 * max(1.0, (t[-1] - t[0]) / width):  # many samples a bucket: binary searches, not a pass
        first, last = np.floor((t[0] - origin) / width), np.floor((t[-1] - origin) / width)
        edges = origin + np.arange(first + 1, last + 1) * width
        # both ends of each edge's run of equal times: rounding may put a whole run on either side of it
        near = np.concatenate((np.searchsorted(t, edges, side="left"), np.searchsorted(t, edges, side="right")))
        starts = np.concatenate(([0], _true_changes(t, width, near[near < n], origin)))
    else:
        ids = np.floor((t - origin) / width)
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.not_equal(ids[1:], ids[:-1], out=change[1:])
        starts = np.flatnonzero(change)
    if gap is not None and gap.any():
        at = np.flatnonzero(gap)
        starts = np.unique(np.concatenate((starts, at, at[at + 1 < n] + 1)))
    return starts


def _true_changes(t: np.ndarray, width: float, near: np.ndarray, origin: float) -> np.ndarray:
    """The indices where ``floor(t / width)`` changes, given the binary searches' answers ``near`` (each
    true change is within one sample of one of them: ``k * width`` and ``t / width`` may round apart, and a
    run of equal times at an edge has both its ends among them)."""
    n = t.size
    candidates = np.unique(np.clip(np.concatenate((near - 1, near, near + 1)), 1, n - 1))
    changes = np.floor((t[candidates] - origin) / width) != np.floor((t[candidates - 1] - origin) / width)
    return candidates[changes]


def minmax(t: np.ndarray, v: Sequence[np.ndarray], starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimate ``v`` (series x samples: a 2-D array, or a sequence of 1-D rows read one at a time) at the
    times ``t`` over the buckets that begin at ``starts``.

    Returns the rows' times, their values (series x rows) and the number of rows of each bucket (1 or 2).
    """
    n = t.size
    if n == 0:
        return t[:0], np.empty((len(v), 0)), np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], n)
    sizes = ends - starts
    multi = sizes > 1
    counts = np.where(multi, 2, 1)
    offsets = np.cumsum(counts) - counts
    out_t = np.empty(int(counts.sum()))
    out_t[offsets] = t[starts]
    out_t[offsets[multi] + 1] = t[ends[multi] - 1]
    out_v = np.empty((len(v), out_t.size))
    if len(v) == 0:
        return out_t, out_v, counts
    if multi.any():
        first, second = _ordered_extremes(v, starts, sizes)
    else:  # every bucket has one sample: nothing to reduce
        first = second = np.vstack([v[row][starts] for row in range(len(v))])
    out_v[:, offsets] = first
    out_v[:, offsets[multi] + 1] = second[:, multi]
    return out_t, out_v, counts


def _ordered_extremes(v: Sequence[np.ndarray], starts: np.ndarray, sizes: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket and series, (the extreme that came first, the one that came second), a series at a time."""
    first = np.empty((len(v), starts.size))
    second = np.empty_like(first)
    runs = _uniform_runs(sizes)  # the buckets are the same for every series
    for row in range(len(v)):
        first[row], second[row] = _row_extremes(v[row], starts, sizes, runs)
    return first, second


def _row_extremes(x: np.ndarray, starts: np.ndarray, sizes: np.ndarray, runs: list[tuple[int, int, int]]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One series' (first, second) extremes per bucket. Where each extreme first occurs: by ``argmin`` and
    ``argmax`` over ``runs`` of equal-sized buckets read as one 2-D view (regular sampling), else the first
    sample equal to it at or after its bucket's start. A bucket of NaN only has NaN for both."""
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(x, starts)
        hi = np.fmax.reduceat(x, starts)
        has_nan = np.isnan(np.minimum.reduceat(x, starts))  # argmin would stop at a NaN
    at_lo = np.zeros(starts.size, dtype=np.intp)
    at_hi = np.zeros(starts.size, dtype=np.intp)
    rest = np.ones(starts.size, dtype=bool)
    for b0, b1, m in runs:
        block = x[starts[b0]:starts[b0] + (b1 - b0) * m].reshape(b1 - b0, m)
        at_lo[b0:b1] = starts[b0:b1] + block.argmin(axis=1)
        at_hi[b0:b1] = starts[b0:b1] + block.argmax(axis=1)
        rest[b0:b1] = False
    rest |= has_nan
    if rest.any():
        at_lo[rest] = _first_equal(x, lo, starts, sizes, rest)
        at_hi[rest] = _first_equal(x, hi, starts, sizes, rest)
    lo_first = at_lo <= at_hi
    return np.where(lo_first, lo, hi), np.where(lo_first, hi, lo)


def _uniform_runs(sizes: np.ndarray, shortest: int = 8) -> list[tuple[int, int, int]]:
    """Runs ``(first, after, size)`` of at least ``shortest`` consecutive buckets of one size above 1."""
    if sizes.size < shortest:
        return []
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(sizes)) + 1, [sizes.size]))
    first, after = bounds[:-1], bounds[1:]
    long = (after - first >= shortest) & (sizes[first] > 1)  # jittered sampling: thousands of short runs
    return list(zip(first[long].tolist(), after[long].tolist(), sizes[first[long]].tolist(), strict=True))


def _first_equal(x: np.ndarray, extreme: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
                 which: np.ndarray) -> np.ndarray:
    """Where ``extreme`` first occurs in each bucket picked by ``which``: the first sample equal to it at or
    after the bucket's start (a pass over those buckets' samples only)."""
    picked = np.flatnonzero(which)
    if picked.size <= 8:  # a few buckets: each on its own (a Python step each; hundreds cost more than a pass)
        return np.array([starts[b] + int(np.argmax(x[starts[b]:starts[b] + sizes[b]] == extreme[b]))
                         for b in picked], dtype=np.intp)
    positions = np.flatnonzero(x == np.repeat(extreme, sizes))
    return _first_at_or_after(positions, starts)[which]


def _first_at_or_after(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each start, the first of the sorted ``positions`` at or after it (the last one past the end)."""
    if positions.size == 0:
        return np.zeros(starts.size, dtype=np.intp)
    return positions[np.minimum(np.searchsorted(positions, starts), positions.size - 1)]


class Decimator:
    """The decimated rows of one time-ordered stream of samples (several series sharing a time column).

    ``push`` takes new samples; rows are addressed by absolute index (rows ever written). ``stable`` is
    the index of the first row that may still change (the open bucket's), ``end`` the number of rows;
    ``first`` the oldest row still held (at most ``capacity`` rows are). Samples not newer than the last
    one are refused and counted in ``rejected``.
    """

    def __init__(self, width: float, series: int = 0, capacity: int = 4096) -> None:
        if width <= 0 or capacity < 8:
            raise ValueError("width must be > 0 and capacity >= 8")
        self.width = float(width)
        self.capacity = int(capacity)
        self._t = np.empty(2 * self.capacity)
        self._v = np.empty((series, 2 * self.capacity))
        self._len = 0  # rows held in the buffer, starting at absolute index self.first
        self.first = 0
        self._open = 0  # rows of the open bucket at the buffer's end
        self._raw_t = np.zeros(0)
        self._raw_v = np.zeros((series, 0))
        self.last_time = -np.inf
        self.rejected = 0
        self.version = 0  # bumped on every change, so readers can share slices of one state

    # -- shape ----------------------------------------------------------------------------------------------
    @property
    def series(self) -> int:
        return self._v.shape[0]

    @property
    def end(self) -> int:
        return self.first + self._len

    @property
    def stable(self) -> int:
        return self.end - self._open

    def add_series(self) -> int:
        """Add a series (NaN for every row so far); returns its index."""
        self._v = np.vstack((self._v, np.full((1, self._v.shape[1]), np.nan)))
        self._raw_v = np.vstack((self._raw_v, np.full((1, self._raw_t.size), np.nan)))
        self.version += 1
        return self.series - 1

    # -- writing --------------------------------------------------------------------------------------------
    def push(self, t: np.ndarray, v: np.ndarray) -> int:
        """Add samples (``v``: series x samples, time-ordered); returns how many were taken."""
        t = np.asarray(t, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64).reshape(self.series, t.size)
        fresh = t > self.last_time
        if not fresh.all():
            ordered = np.concatenate(([True], np.diff(t) > 0)) if t.size else fresh
            fresh &= ordered
            self.rejected += int(t.size - fresh.sum())
            t, v = t[fresh], v[:, fresh]
        if t.size == 0:
            return 0
        self.last_time = float(t[-1])
        raw_t = np.concatenate((self._raw_t, t))
        raw_v = np.concatenate((self._raw_v, v), axis=1)
        gap = np.isnan(raw_v).all(axis=0) if self.series else None
        starts = buckets(raw_t, self.width, gap)
        out_t, out_v, counts = minmax(raw_t, raw_v, starts)
        last = int(starts[-1])
        self._raw_t, self._raw_v = raw_t[last:], raw_v[:, last:]
        self._replace_tail(out_t, out_v, int(counts[-1]))
        return int(t.size)

    def _replace_tail(self, t: np.ndarray, v: np.ndarray, open_rows: int) -> None:
        """Drop the open bucket's rows, append ``t``/``v``; the last ``open_rows`` of them are provisional."""
        self._len -= self._open
        if t.size > self.capacity:
            skip = t.size - self.capacity
            t, v = t[skip:], v[:, skip:]
            self.first += self._len + skip
            self._len = 0
        if self._len + t.size > self._t.size:  # slide the newest rows to the front, keeping slices contiguous
            keep = max(0, self.capacity - t.size)
            drop = self._len - keep
            self._t[:keep] = self._t[drop:self._len]
            self._v[:, :keep] = self._v[:, drop:self._len]
            self.first += drop
            self._len = keep
        self._t[self._len:self._len + t.size] = t
        self._v[:, self._len:self._len + t.size] = v
        self._len += t.size
        self._open = open_rows
        self.version += 1

    # -- reading --------------------------------------------------------------------------------------------
    def rows(self, start: int, stop: int | None = None, series: list[int] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the rows ``[start, stop)`` (absolute indices, clipped to what is held)."""
        lo = max(start, self.first) - self.first
        hi = (self.end if stop is None else min(stop, self.end)) - self.first
        hi = max(lo, hi)
        v = self._v[:, lo:hi] if series is None else self._v[series, lo:hi]
        return self._t[lo:hi].copy(), np.array(v)

    def count_since(self, t: float) -> int:
        """How many held rows are newer than ``t`` (as the store's window: strictly after its start)."""
        return int(self._len - np.searchsorted(self._t[:self._len], t, side="right"))

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return (f"<Decimator width={self.width:g}s rows={self._len} series={self.series} "
                f"open={self._open} raw={self._raw_t.size}>")
