"""Array helpers of the store: series on one time axis, the samples a ring buffer keeps, pixel columns.

Series of one source share their times, and then nothing needs aligning (:func:`shared_times`,
:class:`Rows`, :func:`stack_values`); series of several sources are put on the union of their times with
NaN where one has no sample (:func:`align`), which a plot draws as a break only where every series is NaN.
"""

from __future__ import annotations

import numpy as np

from .decimate import buckets, minmax


def shared_times(spans: list[list[tuple[np.ndarray, np.ndarray]]]) -> np.ndarray | None:
    """The one time column of series whose samples in a range are at the same times (a copy), else None."""
    if not spans or not spans[0]:
        return None
    first = [t for t, _ in spans[0]]
    for pieces in spans[1:]:
        times = [t for t, _ in pieces]
        if [t.size for t in times] != [t.size for t in first] or \
                not all(a is b or np.array_equal(a, b) for a, b in zip(times, first, strict=True)):
            return None
    return np.concatenate(first)


class Rows:
    """Series that share their times, one row at a time: a view of a ring buffer when the range is one piece
    of it, a copy of its two pieces otherwise."""

    def __init__(self, spans: list[list[tuple[np.ndarray, np.ndarray]]]) -> None:
        self.spans = spans

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, row: int) -> np.ndarray:
        pieces = self.spans[row]
        return pieces[0][1] if len(pieces) == 1 else np.concatenate([v for _, v in pieces])

    def gaps(self, n: int) -> np.ndarray | None:
        """Where every series is NaN (a gap the service wrote), or None if nowhere."""
        if not self.spans:
            return None
        gap = np.ones(n, dtype=bool)
        for pieces in self.spans:
            at = 0
            for _, v in pieces:
                gap[at:at + v.size] &= np.isnan(v)
                at += v.size
        return gap if gap.any() else None


def stack_values(spans: list[list[tuple[np.ndarray, np.ndarray]]], n: int) -> np.ndarray:
    """The values of series that share their times, as one (series x n) array, each piece copied once."""
    out = np.empty((len(spans), n))
    for row, pieces in enumerate(spans):
        at = 0
        for _, v in pieces:
            out[row, at:at + v.size] = v
            at += v.size
    return out


def decimate_parts(parts: list[tuple[np.ndarray, np.ndarray]], origin: float, width: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Series given as (times, values) pairs as pixel columns of ``width`` from ``origin``."""
    first = parts[0][0] if parts else None
    if first is not None and all(t.size == first.size and np.array_equal(t, first) for t, _ in parts[1:]):
        t, v = first, np.vstack([v for _, v in parts])  # one source's series: no union to build
    else:
        t, v = align(parts)
    return decimate(t, v, origin, width)


def decimate(t: np.ndarray, v: np.ndarray, origin: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Series on one time axis (values[series, n]) as pixel columns of ``width`` from ``origin``; a time
    where every series is NaN (a gap) stays a row of its own."""
    gap = np.isnan(v).all(axis=0) if len(v) else None
    rows_t, rows_v, _ = minmax(t, v, buckets(t, width, gap, origin=origin))
    return rows_t, rows_v


def kept_mask(t: np.ndarray, before: float) -> np.ndarray:
    """Which of ``t`` a ring buffer whose newest sample is at ``before`` keeps (the rule of its append)."""
    rising = np.concatenate(([True], t[1:] > np.maximum.accumulate(t)[:-1])) if t.size > 1 else np.ones(t.size, bool)
    return rising & (t > before)


def align(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Series given as (times, values) pairs on the union of their times, NaN where one has no sample."""
    times = np.unique(np.concatenate([t for t, _ in parts])) if parts else np.empty(0)
    values = np.full((len(parts), times.size), np.nan)
    for row, (t, v) in enumerate(parts):
        if t.size:
            values[row, np.searchsorted(times, t)] = v
    return times, values
