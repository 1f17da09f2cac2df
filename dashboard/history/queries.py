"""The reading side of a :class:`~dashboard.history.History`: series, span, raw samples, aggregates and
pixel columns through the coarsest tier that fits. A mixin: the state is the history's. Every answer merges
the chunks with the log segments not yet converted (held in memory), so nothing written is missing from it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..metrics.model import SeriesInfo, SeriesKey
from .catalog import Catalog
from .files import DRAWN, LOG_SCHEMA, TIER_SCHEMA, Chunk, joined, rows_of
from .tiers import TIERS, aggregate, columns_from_rows


class Queries:
    """What a store asks of its history (mixed into :class:`~dashboard.history.History`)."""

    catalog: Catalog
    _lock: threading.RLock
    _chunks: dict[str, list[Chunk]]
    _pending: dict[Path, list[pa.RecordBatch]]

    def known(self, key: SeriesKey) -> bool:
        """Whether ``key`` has ever been written here."""
        return key in self.catalog.ids

    def keys(self) -> list[SeriesKey]:
        return list(self.catalog.keys)

    def source_of(self, key: SeriesKey) -> str:
        return self.catalog.sources[self.catalog.ids[key]]

    def info(self, key: SeriesKey) -> SeriesInfo:
        return self.catalog.info[self.catalog.ids[key]]

    def span(self) -> tuple[float, float] | None:
        """The oldest time any tier covers and the newest sample's time (None when empty)."""
        with self._lock:
            oldest = [chunks[0].t0 for chunks in self._chunks.values() if chunks]
            newest = [c.t1 for c in self._chunks["raw"]]
            for batches in self._pending.values():
                for b in batches:
                    if b.num_rows:
                        oldest.append(float(pc.min(b.column("time")).as_py()))
                        newest.append(float(pc.max(b.column("time")).as_py()))
        if not newest:
            return None
        return min(oldest), max(newest)

    def raw(self, keys: Sequence[SeriesKey], start: float, end: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every stored sample of each of ``keys`` with ``start < t <= end``, oldest first."""
        ids = {self.catalog.ids[k]: i for i, k in enumerate(keys) if k in self.catalog.ids}
        every = len(ids) == len(self.catalog.ids)
        with self._lock:  # one view: a segment converted meanwhile is in the chunks or in the log, never neither
            listed, batches = self._overlapping("raw", start, end), self._pending_batches()
        tables = [self._read("raw", c, ids, "time", start, end, None, every) for c in listed]
        tables += self._pending_tables(batches, ids, start, end)
        pieces: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in keys]
        numbers = np.asarray(sorted(ids), dtype=np.int32)
        for table in tables:  # a chunk is sorted by series then time: each series is one slice of it
            if table is None or not table.num_rows:
                continue
            series = table.column("series").to_numpy()
            t, v = table.column("time").to_numpy(), table.column("value").to_numpy()
            if (np.diff(series) < 0).any():  # the open log: in arrival order
                order = np.argsort(series, kind="stable")
                series, t, v = series[order], t[order], v[order]
            lows = np.searchsorted(series, numbers, side="left")
            highs = np.searchsorted(series, numbers, side="right")
            for number, lo, hi in zip(numbers.tolist(), lows.tolist(), highs.tolist(), strict=True):
                if hi > lo:
                    pieces[ids[number]].append((t[lo:hi], v[lo:hi]))
        return [joined(p) for p in pieces]

    def aggregates(self, tier: str, keys: Sequence[SeriesKey], start: float, end: float
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Aggregate rows of ``tier`` whose bucket meets ``(start, end]``, of every one of ``keys``: (the
        index in ``keys`` of each row's series, the rows' columns); the open log's samples are aggregated
        on the fly."""
        ids = {self.catalog.ids[k]: i for i, k in enumerate(keys) if k in self.catalog.ids}
        width = TIERS[tier]
        every = len(ids) == len(self.catalog.ids)
        with self._lock:  # one view (see raw)
            listed, batches = self._overlapping(tier, start, end), self._pending_batches()
        tables = [self._read(tier, c, ids, "t", start - width, end, DRAWN, every) for c in listed]
        pending = [p for p in self._pending_tables(batches, ids, start - width, end) if p.num_rows]
        if pending:
            table = pa.concat_tables(pending)
            rows = aggregate(table.column("series").to_numpy(), table.column("time").to_numpy(),
                             table.column("value").to_numpy(), width)
            tables.append(pa.table(rows, schema=TIER_SCHEMA).select(list(DRAWN)))
        tables = [t for t in tables if t is not None and t.num_rows]
        if not tables:
            return np.empty(0, np.int64), {name: np.empty(0) for name in DRAWN}
        table = pa.concat_tables(tables)
        columns = {name: table.column(name).to_numpy() for name in DRAWN}
        lookup = np.full(max(self.catalog.ids.values()) + 1, -1, dtype=np.int64)
        lookup[list(ids)] = list(ids.values())
        row = lookup[columns["series"]]
        mine = row >= 0
        if not mine.all():
            row, columns = row[mine], {name: values[mine] for name, values in columns.items()}
        return row, columns

    def tier_for(self, width: float, start: float) -> str:
        """The coarsest tier whose buckets fit in a pixel column ``width`` seconds wide and that still holds
        ``start`` (raw when none does)."""
        best = "raw"
        for tier, bucket in TIERS.items():
            if 0 < bucket <= width and self._holds(tier, start):
                best = tier
        return best

    def grid(self, start: float, end: float, columns: int) -> tuple[str, float, float, int]:
        """Where the columns of a query over ``(start, end]`` lie: (the tier read, the first column's start,
        the columns' width, their number). From a tier the columns snap to its bucket edges, a whole number
        of buckets each (the nearest to the width asked), so that no bucket straddles two columns and each
        column's min and max are its samples' own; the first starts at or before ``start``. From raw
        samples: the grid asked."""
        width = (end - start) / columns
        tier = self.tier_for(width, start)
        bucket = TIERS[tier]
        if tier == "raw":
            return tier, start, width, columns
        snapped = max(1, round(width / bucket)) * bucket
        first = math.floor(start / bucket) * bucket
        return tier, first, snapped, max(1, math.ceil((end - first) / snapped))

    def columns(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """``keys`` over ``(start, end]`` at pixel resolution from an aggregate tier, on the columns of
        :meth:`grid`: per series and column, the true min and max of its samples there, at their times,
        and NaN only where it has none; None when the raw samples are what the range needs (the caller
        decimates those)."""
        tier, first, width, n = self.grid(start, end, columns)
        if tier == "raw":
            return None
        row, rows = self.aggregates(tier, keys, first, end)
        return columns_from_rows(row, rows, len(keys), first, width, n)

    def _pending_batches(self) -> list[pa.RecordBatch]:
        """The batches of the log not yet in chunks (the open segment's and those being converted)."""
        with self._lock:
            return [b for bs in self._pending.values() for b in bs]

    def _pending_tables(self, batches: list[pa.RecordBatch], ids: dict[int, int], start: float, end: float
                        ) -> list[pa.Table]:
        if not batches or not ids:
            return []
        return [rows_of(pa.Table.from_batches(batches, schema=LOG_SCHEMA), ids, "time", start, end)]
