"""The store: one ring buffer per series, bounded by count and by time, the truth that viewers read.

* :class:`RingBuffer` keeps the newest ``capacity`` (time, value) pairs of one series in two float64
  arrays. Appends are vectorized (at most two slice copies, whatever the batch size); samples older than
  the newest one already held are refused and counted, never silently reordered.
* :class:`Store` maps :class:`~dashboard.metrics.model.SeriesKey` to buffers. ``append(batch)`` writes a
  batch; gaps are NaN samples like any other, written by the service when a collection fails or is late
  (:meth:`~dashboard.metrics.model.Batch.gap`), so the plot breaks there instead of drawing a straight line.
  Queries: ``window`` (the last *window* seconds), ``since`` (strictly after a time), ``latest``,
  ``aligned`` and ``between`` (several series on one shared time axis, NaN where a series has no sample)
  and ``query`` (any range at pixel resolution: exact min and max per pixel column). A range copies only
  its own samples, never the whole buffer.

With a :class:`~dashboard.history.History` attached (``store.history``), every sample the store keeps is
also logged to disk (in the same order, under the same lock), ``restore`` fills the buffers from disk at
start, and ``between`` and ``query`` answer a range older than the buffers from disk: per series, what is
older than its oldest sample in memory comes from disk and the rest from memory, in one answer.

Pandas appears only at the edge, in :mod:`~dashboard.metrics.frames`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .align import Rows, align, decimate, decimate_parts, kept_mask, shared_times, stack_values
from .decimate import buckets, minmax
from .model import Batch, SeriesInfo, SeriesKey


class History(Protocol):
    """What the store needs of a history on disk (:class:`dashboard.history.History` is one)."""

    def write(self, batch: Batch, keep: Sequence[np.ndarray | None] | None = None) -> None: ...
    def known(self, key: SeriesKey) -> bool: ...
    def keys(self) -> list[SeriesKey]: ...
    def source_of(self, key: SeriesKey) -> str: ...
    def info(self, key: SeriesKey) -> SeriesInfo: ...
    def span(self) -> tuple[float, float] | None: ...
    def raw(self, keys: Sequence[SeriesKey], start: float, end: float) -> list[tuple[np.ndarray, np.ndarray]]: ...
    def columns(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int
                ) -> tuple[np.ndarray, np.ndarray] | None: ...
    def grid(self, start: float, end: float, columns: int) -> tuple[str, float, float, int]: ...


class RingBuffer:
    """The newest ``capacity`` samples of one series."""

    __slots__ = ("_t", "_v", "capacity", "count", "rejected")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._t = np.empty(capacity, dtype=np.float64)
        self._v = np.empty(capacity, dtype=np.float64)
        self.count = 0  # samples ever written
        self.rejected = 0  # samples refused because they were not newer than the last one

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    @property
    def last_time(self) -> float:
        return float(self._t[(self.count - 1) % self.capacity]) if self.count else float("-inf")

    @property
    def first_time(self) -> float:
        """The oldest sample's time still held (inf when empty)."""
        if not self.count:
            return math.inf
        return float(self._t[0] if self.count <= self.capacity else self._t[self.count % self.capacity])

    @property
    def last_value(self) -> float:
        return float(self._v[(self.count - 1) % self.capacity]) if self.count else float("nan")

    def append(self, t: np.ndarray, v: np.ndarray) -> int:
        """Append samples in time order; returns how many were kept."""
        if t.size == 1:  # the common case (one collection): scalar writes, no slicing
            t0 = t[0]
            last = self.count - 1
            if self.count and t0 <= self._t[last % self.capacity]:
                self.rejected += 1
                return 0
            i = self.count % self.capacity
            self._t[i] = t0
            self._v[i] = v[0]
            self.count += 1
            return 1
        if t.size == 0:
            return 0
        if t.size > 1 and np.any(np.diff(t) <= 0):
            keep = np.concatenate(([True], t[1:] > np.maximum.accumulate(t)[:-1]))
            self.rejected += int(t.size - keep.sum())
            t, v = t[keep], v[keep]
        if self.count and t[0] <= self.last_time:
            newer = t > self.last_time
            self.rejected += int(t.size - newer.sum())
            t, v = t[newer], v[newer]
        n = t.size
        if n == 0:
            return 0
        if n >= self.capacity:
            t, v = t[-self.capacity:], v[-self.capacity:]
            start = (self.count + n - self.capacity) % self.capacity
            self._t[start:], self._t[:start] = t[: self.capacity - start], t[self.capacity - start:]
            self._v[start:], self._v[:start] = v[: self.capacity - start], v[self.capacity - start:]
        else:
            start = self.count % self.capacity
            first = min(n, self.capacity - start)
            self._t[start:start + first], self._v[start:start + first] = t[:first], v[:first]
            self._t[: n - first], self._v[: n - first] = t[first:], v[first:]
        self.count += n
        return n

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the held samples, oldest first."""
        size = len(self)
        if self.count <= self.capacity:
            return self._t[:size].copy(), self._v[:size].copy()
        start = self.count % self.capacity
        return (np.concatenate((self._t[start:], self._t[:start])),
                np.concatenate((self._v[start:], self._v[:start])))

    def _segments(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The held samples as one or two sorted (times, values) views, oldest first; nothing is copied."""
        if self.count <= self.capacity:
            size = len(self)
            return [(self._t[:size], self._v[:size])]
        start = self.count % self.capacity
        return [(self._t[start:], self._v[start:]), (self._t[:start], self._v[:start])]

    def spans(self, t0: float, t1: float = np.inf) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views (no copy) of the samples with ``t0 < t <= t1``, as one or two sorted pieces, oldest first."""
        out = []
        for t, v in self._segments():
            i, j = np.searchsorted(t, (t0, t1), side="right")
            if j > i:
                out.append((t[i:j], v[i:j]))
        return out

    def between(self, t0: float, t1: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the samples with ``t0 < t <= t1``, oldest first; only those are copied (a short range
        of a long buffer costs its own size, not the buffer's)."""
        pieces = self.spans(t0, t1)
        if not pieces:
            return np.empty(0), np.empty(0)
        return np.concatenate([t for t, _ in pieces]), np.concatenate([v for _, v in pieces])

    def since(self, t0: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples strictly after ``t0``, oldest first."""
        return self.between(t0)


class Store:
    """Ring buffers per series with a capacity and a time window; thread-safe appends and queries."""

    def __init__(self, capacity: int = 36_000, window: float = 600.0) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError("capacity must be >= 1 and window > 0")
        self.capacity = capacity
        self.window_seconds = window
        self._buffers: dict[SeriesKey, RingBuffer] = {}
        self._info: dict[SeriesKey, SeriesInfo] = {}
        self._sources: dict[SeriesKey, str] = {}
        self._lock = threading.RLock()
        self.samples_appended = 0
        self.history: History | None = None  # samples on disk, when the service keeps history

    # -- writing --------------------------------------------------------------------------------------
    def append(self, batch: Batch) -> int:
        """Write ``batch``; returns the number of samples kept."""
        kept = 0
        masks: list[np.ndarray | None] | None = None
        with self._lock:
            for i, key in enumerate(batch.keys):
                buf = self._buffer(key, batch.source, batch.info.get(key))
                before = buf.last_time
                n = buf.append(batch.time, batch.values[i])
                kept += n
                if n != batch.time.size and self.history is not None:
                    masks = masks or [None] * len(batch.keys)
                    masks[i] = kept_mask(batch.time, before)
            self.samples_appended += kept
            if self.history is not None and kept:
                self.history.write(batch, masks)
        return kept

    def restore(self, seconds: float) -> dict[str, float]:
        """Fill the buffers with the newest ``seconds`` of history (nothing is logged again); returns, per
        source, the time of its newest sample on disk."""
        history = self.history
        if history is None or (span := history.span()) is None:
            return {}
        keys = history.keys()
        parts = history.raw(keys, span[1] - seconds, span[1])
        last: dict[str, float] = {}
        with self._lock:
            for key, (t, v) in zip(keys, parts, strict=True):
                source = history.source_of(key)
                self._buffer(key, source, history.info(key)).append(t, v)
                if t.size:
                    last[source] = max(last.get(source, -math.inf), float(t[-1]))
        return last

    def _buffer(self, key: SeriesKey, source: str, info: SeriesInfo | None) -> RingBuffer:
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = RingBuffer(self.capacity)
            self._sources[key] = source
            self._info.setdefault(key, info or SeriesInfo())
        elif info is not None:
            self._info[key] = info
        return buf

    def describe(self, source: str, info: dict[SeriesKey, SeriesInfo]) -> None:
        """Declare series (and what they measure) before their first sample arrives."""
        with self._lock:
            for key, value in info.items():
                self._buffer(key, source, value)

    # -- reading --------------------------------------------------------------------------------------
    def __contains__(self, key: SeriesKey) -> bool:
        return key in self._buffers

    def __len__(self) -> int:
        return len(self._buffers)

    def keys(self, metric: str | None = None, source: str | None = None) -> list[SeriesKey]:
        """Known series, optionally of one metric name and/or one source, in first-seen order."""
        with self._lock:
            return [k for k in self._buffers
                    if (metric is None or k.name == metric) and (source is None or self._sources[k] == source)]

    def info(self, key: SeriesKey) -> SeriesInfo:
        return self._info.get(key, SeriesInfo())

    def source_of(self, key: SeriesKey) -> str:
        return self._sources[key]

    def size(self, key: SeriesKey) -> int:
        return len(self._buffers[key])

    def latest(self, key: SeriesKey) -> tuple[float, float]:
        """(time, value) of the newest sample, (-inf, nan) when none."""
        buf = self._buffers[key]
        with self._lock:
            return buf.last_time, buf.last_value

    def latest_many(self, keys: Sequence[SeriesKey]) -> tuple[np.ndarray, np.ndarray]:
        """Time and value of the newest sample of each of ``keys`` (-inf and NaN where none), under one
        hold of the lock: what alert rules evaluate."""
        t = np.full(len(keys), -np.inf)
        v = np.full(len(keys), np.nan)
        with self._lock:
            buffers = self._buffers
            for i, key in enumerate(keys):
                buf = buffers.get(key)
                if buf is not None and buf.count:
                    j = (buf.count - 1) % buf.capacity
                    t[i], v[i] = buf._t[j], buf._v[j]
        return t, v

    def since(self, key: SeriesKey, t0: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples of ``key`` strictly after ``t0``."""
        with self._lock:
            return self._buffers[key].since(t0)

    def window(self, key: SeriesKey, seconds: float | None = None, now: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Samples of ``key`` in the last ``seconds`` (the store's window by default) before ``now``."""
        with self._lock:
            buf = self._buffers[key]
            end = buf.last_time if now is None else now
            return buf.since(end - (seconds or self.window_seconds))

    def aligned(self, keys: Sequence[SeriesKey], seconds: float | None = None, now: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Several series on the union of their times: (time, values[len(keys), n]), NaN where absent."""
        with self._lock:
            ends = [self._buffers[k].last_time for k in keys if k in self._buffers]
            if not ends:
                return np.empty(0), np.empty((len(keys), 0))
            end = max(ends) if now is None else now
            return self.between(keys, end - (seconds or self.window_seconds), end)

    def between(self, keys: Sequence[SeriesKey], start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Several series from ``start`` (excluded) to ``end`` (included) on the union of their times:
        (time, values[len(keys), n]), NaN where a series has no sample."""
        if self._from_disk(keys, start) is not None:
            return align(self._parts(keys, start, end))
        with self._lock:
            spans = [self._buffers[k].spans(start, end) if k in self._buffers else [] for k in keys]
            shared = shared_times(spans)
            if shared is not None:  # one source's series: one time column, each series copied once
                return shared, stack_values(spans, shared.size)
            parts = [(np.concatenate([t for t, _ in p]), np.concatenate([v for _, v in p])) if p
                     else (np.empty(0), np.empty(0)) for p in spans]
        return align(parts)

    def query(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """``keys`` from ``start`` to ``end`` at pixel resolution: the range is cut into ``columns`` equal
        columns and each becomes the exact min and max of what is stored in it (one row for a lone sample,
        two at the times of its first and last samples otherwise); a gap (every series NaN) stays a row of
        its own, so lines break there. What :mod:`~dashboard.metrics.decimate` does to the live window,
        for any range the store holds."""
        if not end > start or columns < 1:
            raise ValueError(f"query: expected start < end and columns >= 1, got {start}, {end}, {columns}")
        width = (end - start) / columns
        cut = self._from_disk(keys, start)
        if cut is not None:
            return self._query_with_history(keys, start, end, columns, cut)
        with self._lock:  # series of one source: read in place, a series at a time (no copy of them all)
            spans = [self._buffers[k].spans(start, end) if k in self._buffers else [] for k in keys]
            t = shared_times(spans)
            if t is not None:
                rows = Rows(spans)
                rows_t, rows_v, _ = minmax(t, rows, buckets(t, width, rows.gaps(t.size), origin=start))
                return rows_t, rows_v
        t, v = self.between(keys, start, end)
        return decimate(t, v, start, width)

    # -- ranges older than memory ---------------------------------------------------------------------
    def grid(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int
             ) -> tuple[str, float, float, int]:
        """Where :meth:`query`'s columns lie: (what answers them: ``memory``, or the history's ``raw`` tier or
        aggregate tier for a range that begins before memory, the first column's start, their width, their
        number). An aggregate tier's columns snap to its buckets (``History.grid``)."""
        if self._from_disk(keys, start) is None:
            return "memory", start, (end - start) / columns, columns
        assert self.history is not None
        return self.history.grid(start, end, columns)

    def _from_disk(self, keys: Sequence[SeriesKey], start: float) -> float | None:
        """With history, the time from which memory holds every one of ``keys`` when ``start`` is older
        than that (a series on disk but not in memory: inf); None when memory answers alone."""
        if self.history is None:
            return None
        with self._lock:
            cuts = [self._buffers[k].first_time if k in self._buffers else math.inf
                    for k in keys if self.history.known(k)]
        cut = max(cuts, default=-math.inf)
        return cut if start < cut else None

    def _parts(self, keys: Sequence[SeriesKey], start: float, end: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per series, its samples with ``start < t <= end``: from disk before its oldest one in memory."""
        assert self.history is not None
        with self._lock:
            cuts = [self._buffers[k].first_time if k in self._buffers else math.inf for k in keys]
        disk = self.history.raw(keys, start, min(end, max(cuts)))
        parts = []
        for key, cut, (t, v) in zip(keys, cuts, disk, strict=True):
            older = int(np.searchsorted(t, cut))  # disk answers in time order: a view, not a copy
            t, v = t[:older], v[:older]
            if cut <= end:
                with self._lock:
                    mt, mv = self._buffers[key].between(max(start, np.nextafter(cut, -np.inf)), end)
                t, v = np.concatenate((t, mt)), np.concatenate((v, mv))
            parts.append((t, v))
        return parts

    def _query_with_history(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int,
                            cut: float) -> tuple[np.ndarray, np.ndarray]:
        """``query`` for a range that begins before memory. Columns narrower than the finest aggregate tier:
        every sample (from disk before ``cut``, from memory after), decimated once. Wider ones: the columns
        before ``cut`` from the coarsest tier that fits, the rest from memory, on the same column grid."""
        assert self.history is not None
        width = (end - start) / columns
        split_col = columns if not math.isfinite(cut) else min(columns, math.ceil((cut - start) / width))
        split = start + split_col * width
        tiered = self.history.columns(keys, start, split, split_col) if split_col else None
        if tiered is None:
            return decimate_parts(self._parts(keys, start, end), start, width)
        if split_col == columns:
            return tiered
        with self._lock:
            recent = [self._buffers[k].between(np.nextafter(split, -np.inf), end) if k in self._buffers
                      else (np.empty(0), np.empty(0)) for k in keys]
        t, v = decimate_parts(recent, start, width)
        return np.concatenate((tiered[0], t)), np.hstack((tiered[1], v))

    def stats(self) -> dict[str, int]:
        """Counters for status displays and tests."""
        with self._lock:
            return {
                "series": len(self._buffers),
                "samples_appended": self.samples_appended,
                "samples_rejected": sum(b.rejected for b in self._buffers.values()),
            }

    def __repr__(self) -> str:
        return f"<Store series={len(self._buffers)} capacity={self.capacity} window={self.window_seconds}s>"
