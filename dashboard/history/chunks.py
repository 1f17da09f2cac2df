"""The chunk side of a :class:`~dashboard.history.History`: writing a chunk whole, reading one (moved aside
when unreadable), retention, and the compaction of a finished period's small chunks. A mixin: the state
(the folder, the lock, the chunk index per tier, the retention) is the history's.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from .files import (
    COMPACT_ROWS,
    LOG_SCHEMA,
    TIER_SCHEMA,
    Chunk,
    number,
    read_parquet,
    rows_of,
    write_parquet,
)
from .retention import Retention
from .tiers import PERIODS, TIERS, aggregate, coarsen

log = logging.getLogger("dashboard.history")

#: Chunks of a tier's current period merged into one once there are this many (a finished period's are
#: merged at once).
OPEN_PERIOD_CHUNKS = 16
#: Only chunks smaller than this are merged while their period lasts: a fast source's chunks are large
#: enough that a file's own overhead is nothing, and merging them again and again (a sort and a rewrite of
#: millions of rows every 16 segments) cost the server as much CPU as collecting.
SMALL_CHUNK_BYTES = 256 * 1024
#: A finished period's chunks are merged once, when they hold at most this many bytes together (more is
#: a fast source's: its chunks are large already, and reading them all again each round would cost more).
MERGE_BYTES = 64 << 20


class ChunkFiles:
    """Chunk files per tier (mixed into :class:`~dashboard.history.History`)."""

    folder: Path
    retention: Retention
    moved_aside: list[str]
    _lock: threading.RLock
    _chunks: dict[str, list[Chunk]]
    _seq: int
    _merged_away: list[Path]  # chunks merged into others, deleted at the next compaction
    _pending: dict[Path, list[pa.RecordBatch]]
    _clock: Callable[[], float]
    read_only: bool

    def _move_aside(self, path: Path, reason: str) -> None:
        if self.read_only:  # read without writing: skipped, left where it is
            log.warning("history: %s is unreadable (%s); skipped (the history is open read-only)", path, reason)
            return
        target = self.folder / "corrupt" / f"{path.parent.name}-{path.name}"
        try:
            shutil.move(path, target)
        except OSError as exc:
            log.error("history: %s is unreadable (%s) and could not be moved aside: %s", path, reason, exc)
            return
        self.moved_aside.append(f"{path}: {reason}")
        log.warning("history: %s moved aside to %s: %s", path, target, reason)

    def _convert(self, segment: Path, batches: list[pa.RecordBatch]) -> None:
        """Write a segment's samples as a raw chunk and their aggregates as a chunk in each coarser tier."""
        written = convert_segment(self.folder, segment, batches)
        with self._lock:
            for tier, chunk in written:
                self._chunks[tier].append(chunk)
                self._chunks[tier].sort()
            self._pending.pop(segment, None)

    def _retire(self) -> None:
        """Delete the chunks past each tier's age, then the oldest while a tier is over its size."""
        now = self._clock()
        for tier in TIERS:
            with self._lock:
                chunks = self._chunks[tier]
                old = [c for c in chunks if c.t1 < now - self.retention.seconds[tier]]
                kept = [c for c in chunks if c not in old]
                total = sum(c.size for c in kept)
                while kept and total > self.retention.bytes[tier]:
                    total -= kept[0].size
                    old.append(kept.pop(0))
                self._chunks[tier] = kept
            for chunk in old:
                chunk.path.unlink(missing_ok=True)

    def _compact(self) -> None:
        """Merge the small chunks of each finished period of each tier into one (at most
        :data:`COMPACT_ROWS` rows): a minute's chunk of a slow source is mostly a file's own overhead, and
        queries over long ranges open fewer files. The merged chunk is written whole before the small ones
        leave the index (a crash in between leaves the samples twice, which queries count once); their
        files are deleted at the next round, so that a query that listed them a moment before still reads
        them."""
        doomed, self._merged_away = self._merged_away, []
        for path in doomed:
            path.unlink(missing_ok=True)
        for tier in TIERS:
            for group in self._groups(tier):
                self._merge(tier, group)

    def _compact_tails(self) -> None:
        """At a clean stop: merge the small chunks still apart in each aggregate tier's current period (fewer
        than :data:`OPEN_PERIOD_CHUNKS`), so that every bucket there is one row."""
        for tier in list(TIERS)[1:]:
            with self._lock:
                chunks = list(self._chunks[tier])
            if not chunks:
                continue
            current = chunks[-1].t0 // PERIODS[tier]
            tail = [c for c in chunks if c.t0 // PERIODS[tier] >= current and c.size < SMALL_CHUNK_BYTES]
            if len(tail) >= 2:
                self._merge(tier, tail)

    def _groups(self, tier: str) -> list[list[Chunk]]:
        """The chunks to merge, per period of the tier: all of a finished period's (up to :data:`MERGE_BYTES`),
        and the small ones of the current period once there are :data:`OPEN_PERIOD_CHUNKS` (a coarse tier's
        period lasts weeks, and a chunk a minute would leave thousands of files to open)."""
        with self._lock:
            chunks = list(self._chunks[tier])
        if len(chunks) < 2:
            return []
        period = PERIODS[tier]
        current = chunks[-1].t0 // period
        out = []
        for span, group in itertools.groupby(chunks, key=lambda c: c.t0 // period):
            members = list(group)
            if span >= current:  # still growing: its small chunks, 16 at a time
                members = [c for c in members if c.size < SMALL_CHUNK_BYTES]
                if len(members) >= OPEN_PERIOD_CHUNKS:
                    out.append(members)
            elif len(members) >= 2 and sum(c.size for c in members) <= MERGE_BYTES:
                out.append(members)  # over: once (a fast source's hour is too large to be worth it)
        return out

    def _merge(self, tier: str, group: list[Chunk]) -> None:
        tables, rows = [], 0
        for chunk in group:
            try:
                table = read_parquet(chunk.path, None if tier == "raw" else TIER_SCHEMA.names)
            except (OSError, pa.ArrowException):
                return  # moved aside or retired meanwhile: the next round takes the rest
            tables.append(table)
            rows += table.num_rows
            if rows > COMPACT_ROWS:
                return
        table = pa.concat_tables(tables)
        key = "time" if tier == "raw" else "t"
        table = table.sort_by([("series", "ascending"), (key, "ascending")])
        if tier != "raw":  # the pieces of a bucket (one per segment that had samples in it) as one row
            rows = {name: table.column(name).to_numpy() for name in table.column_names}
            table = pa.table(coarsen(rows, TIERS[tier]), schema=TIER_SCHEMA)
        with self._lock:
            seq = self._seq
            self._seq += 1
        merged = write_chunk(self.folder, tier, table, min(c.t0 for c in group), max(c.t1 for c in group), seq)
        with self._lock:
            self._chunks[tier] = sorted([c for c in self._chunks[tier] if c not in group] + [merged])
        self._merged_away += [chunk.path for chunk in group]

    def _holds(self, tier: str, start: float) -> bool:
        with self._lock:
            chunks = self._chunks[tier]
            return bool(chunks) and chunks[0].t0 <= start + TIERS[tier]

    def _overlapping(self, tier: str, start: float, end: float) -> list[Chunk]:
        with self._lock:
            return [c for c in self._chunks[tier] if c.t1 >= start and c.t0 <= end]

    def _read(self, tier: str, chunk: Chunk, ids: dict[int, int], column: str, start: float, end: float,
              columns: Sequence[str] | None = None, every: bool = False) -> pa.Table | None:
        """The rows of ``chunk`` of series ``ids`` with ``start < column <= end`` (``every``: ``ids`` are all
        the series there are, so no filter on them; a chunk inside the range needs none on time either)."""
        if not ids:
            return None
        try:  # the file read whole, then filtered here: pyarrow's dataset filters cost more than they save
            table = read_parquet(chunk.path, columns)
        except FileNotFoundError:  # retired meanwhile
            return None
        except (OSError, pa.ArrowException) as exc:
            with self._lock:
                if chunk in self._chunks[tier]:
                    self._chunks[tier].remove(chunk)
            self._move_aside(chunk.path, f"unreadable ({type(exc).__name__}: {exc})")
            return None
        inside = chunk.t0 > start and chunk.t1 <= end
        return rows_of(table, None if every else ids, column, None if inside else start, end)


def convert_segment(folder: Path, segment: Path, batches: list[pa.RecordBatch]) -> list[tuple[str, Chunk]]:
    """A segment's samples as a raw chunk and a chunk of aggregates in each coarser tier, written in
    ``folder``: (tier, chunk) of each."""
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    series = table.column("series").to_numpy()
    t = table.column("time").to_numpy()
    v = table.column("value").to_numpy()
    order = np.argsort(series, kind="stable")  # a radix sort: a series' samples are logged in time order
    series, t, v = series[order], t[order], v[order]
    same = series[1:] == series[:-1]
    if not (t[1:][same] > t[:-1][same]).all():  # not so (a log written otherwise): by time as well
        order = np.lexsort((t, series))
        series, t, v = series[order], t[order], v[order]
    seq = number(segment)
    first, last = float(t.min()), float(t.max())
    samples = pa.table({"series": series, "time": t, "value": v}, schema=LOG_SCHEMA)
    written = [("raw", write_chunk(folder, "raw", samples, first, last, seq, fast=True))]
    rows = None
    for tier in list(TIERS)[1:]:  # the finest from the samples, each coarser one from the one below
        rows = aggregate(series, t, v, TIERS[tier], ordered=True) if rows is None else coarsen(rows, TIERS[tier])
        table = pa.table(rows, schema=TIER_SCHEMA)
        for part in _by_period(table, rows["t"], PERIODS[tier]):  # (compaction merges a period's chunks:
            times = part.column("t").to_numpy()  # a bucket's pieces must all be in chunks of its period)
            written.append((tier, write_chunk(folder, tier, part, float(times.min()),
                                              float(times.max() + TIERS[tier]), seq)))
    return written


def _by_period(table: pa.Table, t: np.ndarray, period: float) -> list[pa.Table]:
    """``table``'s rows split by the period their bucket starts in (each part sorted as the whole)."""
    span = np.floor(t / period)
    if span.min() == span.max():
        return [table]
    return [table.filter(pa.array(span == value)) for value in np.unique(span)]


def write_chunk(folder: Path, tier: str, table: pa.Table, t0: float, t1: float, seq: int, fast: bool = False
                ) -> Chunk:
    """``table`` as a chunk of ``tier``, whole or absent: written to a temporary name, synced, renamed."""
    path = folder / tier / Chunk.name(t0, t1, seq)
    temporary = path.with_suffix(".tmp")
    write_parquet(table, temporary, tier, fast)
    fd = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return Chunk(t0, t1, seq, path, path.stat().st_size)
