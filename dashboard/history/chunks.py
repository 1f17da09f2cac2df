"""The chunk side of a :class:`~dashboard.history.History`: writing a chunk whole, reading one (moved aside
when unreadable), retention, and the compaction of a finished period's small chunks. A mixin: the state
(the folder, the lock, the chunk index per tier, the retention) is the history's.
"""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .converter import Converter, convert_segment, write_chunk
from .files import COMPACT_ROWS, Chunk
from .retention import Retention
from .tiers import PERIODS, TIERS

log = logging.getLogger("dashboard.history")

#: Chunks of a tier's current period merged into one once there are this many (a finished period's are
#: merged at once).
OPEN_PERIOD_CHUNKS = 16
#: Segments of at least this many samples are converted in a process of their own: the numpy work of a
#: fast source's conversion, in a thread, took the GIL from the event loop often enough to add 10-20 ms to
#: the page's latency at 300,000 points/s (``benchmarks/streaming.py``, dashboard-history).
PROCESS_ROWS = 200_000
#: Only chunks smaller than this are merged: a fast source's chunks are large enough that a file's own
#: overhead is nothing, and merging them again and again (a sort and a rewrite of millions of rows every
#: 16 segments) cost the server as much CPU as collecting.
SMALL_CHUNK_BYTES = 256 * 1024


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
    _converter: Converter

    def _move_aside(self, path: Path, reason: str) -> None:
        target = self.folder / "corrupt" / f"{path.parent.name}-{path.name}"
        try:
            shutil.move(path, target)
        except OSError as exc:
            log.error("history: %s is unreadable (%s) and could not be moved aside: %s", path, reason, exc)
            return
        self.moved_aside.append(f"{path}: {reason}")
        log.warning("history: %s moved aside to %s: %s", path, target, reason)

    def _convert(self, segment: Path, batches: list[pa.RecordBatch]) -> None:
        """Write a segment's samples as a raw chunk and their aggregates as a chunk in each coarser tier: in a
        process of its own when the segment is large (:data:`PROCESS_ROWS`, :mod:`.converter`), else here."""
        written = None
        if sum(b.num_rows for b in batches) >= PROCESS_ROWS:
            try:
                written = self._converter.convert(self.folder, segment)
            except OSError as exc:
                log.warning("history: converting %s in a process failed (%s); converting it here", segment, exc)
        if written is None:
            written = convert_segment(self.folder, segment, batches)
        with self._lock:
            for tier, chunk in written:
                self._chunks[tier].append(chunk)
                self._chunks[tier].sort()
            self._pending.pop(segment, None)

    def _write_chunk(self, tier: str, table: pa.Table, t0: float, t1: float, seq: int) -> Chunk:
        return write_chunk(self.folder, tier, table, t0, t1, seq)

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

    def _groups(self, tier: str) -> list[list[Chunk]]:
        """The small chunks to merge, per period of the tier: all of a finished period's, and those of the
        current one once there are :data:`OPEN_PERIOD_CHUNKS` (a coarse tier's period lasts weeks, and a
        chunk a minute would leave thousands of files to open)."""
        with self._lock:
            chunks = list(self._chunks[tier])
        if len(chunks) < 2:
            return []
        period = PERIODS[tier]
        current = chunks[-1].t0 // period
        small = [c for c in chunks if c.size < SMALL_CHUNK_BYTES]  # a large chunk's overhead is nothing
        groups = [list(group) for _, group in itertools.groupby(small, key=lambda c: c.t0 // period)]
        return [g for g in groups if len(g) >= (OPEN_PERIOD_CHUNKS if g[0].t0 // period >= current else 2)]

    def _merge(self, tier: str, group: list[Chunk]) -> None:
        tables, rows = [], 0
        for chunk in group:
            try:
                table = pq.read_table(chunk.path)
            except (OSError, pa.ArrowException):
                return  # moved aside or retired meanwhile: the next round takes the rest
            tables.append(table)
            rows += table.num_rows
            if rows > COMPACT_ROWS:
                return
        table = pa.concat_tables(tables)
        key = "time" if tier == "raw" else "t"
        table = table.sort_by([("series", "ascending"), (key, "ascending")])
        with self._lock:
            seq = self._seq
            self._seq += 1
        merged = self._write_chunk(tier, table, min(c.t0 for c in group), max(c.t1 for c in group), seq)
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
            with pq.ParquetFile(chunk.path) as file:
                table = file.read(columns=None if columns is None else list(columns))
        except FileNotFoundError:  # retired meanwhile
            return None
        except (OSError, pa.ArrowException) as exc:
            with self._lock:
                if chunk in self._chunks[tier]:
                    self._chunks[tier].remove(chunk)
            self._move_aside(chunk.path, f"unreadable ({type(exc).__name__}: {exc})")
            return None
        masks = [] if every else [pc.is_in(table.column("series"), pa.array(list(ids), pa.int32()))]
        if not (chunk.t0 > start and chunk.t1 <= end):
            masks += [pc.greater(table.column(column), start), pc.less_equal(table.column(column), end)]
        return table.filter(functools.reduce(pc.and_, masks)) if masks else table

