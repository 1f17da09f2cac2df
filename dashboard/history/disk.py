"""History on disk: a write-ahead log, Parquet chunk files in seven tiers, retention, recovery.

A data folder holds::

    series.jsonl        the catalog: series number -> name, labels, source, unit (catalog.py)
    wal/NNNN.arrow      the open log segment: Arrow IPC stream messages, one per batch written
    raw/T0-T1-N.parquet samples (series, time, value), zstd, sorted by series then time
    10s/, 30s/, minute/, 5min/, 15min/, hour/
                        aggregates (min, max with their times, sum, count, first gap) per series and bucket
    corrupt/            files found unreadable at start or when read, moved aside (never deleted)

Writing: every batch the store keeps goes to the open segment as one ``write`` on its file descriptor, in
the caller's thread, before the batch is published: a process that is killed loses nothing the store
accepted (the operating system holds the written bytes). The segment is ``fsync``-ed every
``sync_interval`` (5 s) by a worker thread, which bounds what a machine crash can lose (a killed process
loses nothing either way; Prometheus's own log syncs only when it cuts a segment). Syncing every second
cost a 1 Hz server 18 s of CPU over 48 h (about 105 us a sync), a third of its writing. A segment is closed when
it reaches ``segment_bytes`` or ``segment_seconds``; the worker turns it into one raw chunk and its
aggregates in each tier (each written to a temporary name, synced, then renamed: a chunk is whole or
absent), then deletes it. Until then its samples are answered from memory.

At start, segments left by a crash are converted the same way; a segment cut short (the process died in
the middle of a write) keeps every whole message, and the file is moved into ``corrupt/`` with a log line
naming it and the reason. A chunk that cannot be read is moved aside when found, and the query goes on
with the rest.

Reading alone (``read_only=True``: a folder copied for analysis, or one whose dashboard has stopped)
changes no byte: segments are read into memory instead of converted, and nothing is retired, compacted,
moved aside or written; a shared lock keeps a dashboard from starting to write meanwhile.

Errors (a full disk, a read-only folder) never reach the collection loop: the history logs them once, its
``status`` says ``error: ...`` and the samples of that time stay in memory only; a new segment is tried every
``retry_interval`` seconds, and writing resumes when it works.

This module is part of the storage layer: it never imports panel or bokeh.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..metrics.model import Batch, SeriesInfo
from .catalog import Catalog
from .chunks import ChunkFiles
from .files import LOG_SCHEMA, Chunk, number, parse_precision, read_segment, round_significant, sync, write_all
from .queries import Queries
from .retention import Retention
from .tiers import TIERS
from .worker import SegmentWorker

log = logging.getLogger("dashboard.history")


def _column(values: np.ndarray, dtype: type) -> pa.Array:
    """``values`` as an Arrow array without a copy (``pa.array`` costs a batch of a hundred samples more
    than the rest of its log write)."""
    values = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(pa.from_numpy_dtype(dtype), values.size, [None, pa.py_buffer(values)])


class HistoryInUse(RuntimeError):
    """Another process holds the data folder."""


class History(ChunkFiles, Queries, SegmentWorker):
    """Samples of every series on disk, in tiers, with retention; see the module's text."""

    def __init__(self, folder: str | os.PathLike[str], retention: Retention | None = None, *,
                 precision: int | None = None, segment_bytes: int = 8 << 20, segment_seconds: float = 1800.0,
                 sync_interval: float = 5.0, retry_interval: float = 5.0,
                 clock: Callable[[], float] = time.time, read_only: bool = False, max_lag: float = 30.0) -> None:
        self.folder = Path(folder).expanduser()
        #: Read without writing (see :meth:`_open_read_only`): no byte of the folder changes.
        self.read_only = read_only
        self.samples_unwritten = 0  # offered to a read-only history: in memory only
        self.retention = retention or Retention()
        #: Significant digits kept of each value (None: every bit). What is stored is what is drawn: gauges
        #: and counters' per-second rates, never a counter's raw reading.
        self.precision = parse_precision(precision)
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self.sync_interval = sync_interval
        self.retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._start_workers(max_lag)
        self.error = ""  # the last write error, "" while writing works
        self.samples_written = 0
        self.samples_lost = 0  # accepted while the disk failed: in memory only
        self.moved_aside: list[str] = []
        self._numbered: dict[str, tuple[Any, np.ndarray, list[int], Any]] = {}  # per source, see _numbers
        self.closed = False
        self._fd = -1
        self._segment: Path | None = None
        self._segment_size = 0
        self._segment_opened = 0.0
        self._last_sync = 0.0
        self._retry_at = 0.0
        self._seq = 0
        self._pending: dict[Path, list[pa.RecordBatch]] = {}  # segments not yet in chunks, for queries
        self._chunks: dict[str, list[Chunk]] = {tier: [] for tier in TIERS}
        self._merged_away: list[Path] = []
        self._lock_fd = -1
        self.catalog = Catalog(self.folder / "series.jsonl")
        if read_only:
            self._opened = self._open_read_only()
        else:
            self._opened = self._try_open(self._clock())

    def _try_open(self, now: float) -> bool:
        """Open the folder; a folder that cannot be written (read-only, full) is an error shown by
        :meth:`status`, tried again by later writes, never a crash."""
        try:
            self._open()
        except OSError as exc:
            self._failed(exc, now, 0)
            return False
        return True

    # -- opening and recovery -----------------------------------------------------------------------------
    def _open(self) -> None:
        for sub in ("wal", *TIERS, "corrupt"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self._lock_folder()
        if not self.catalog.keys:  # read at construction; again only if the folder could not be read then
            self.catalog = Catalog(self.folder / "series.jsonl")
        self._chunks = {tier: [] for tier in TIERS}
        for tier in TIERS:
            for path in sorted((self.folder / tier).glob("*.parquet")):
                chunk = Chunk.parse(path)
                if chunk is None:
                    self._move_aside(path, "its name is not T0_T1_N.parquet")
                else:
                    self._chunks[tier].append(chunk)
                    self._seq = max(self._seq, chunk.seq + 1)
            for path in (self.folder / tier).glob("*.tmp"):
                path.unlink(missing_ok=True)  # a chunk whose writing was cut short: its segment still exists
            self._chunks[tier].sort()
        segments = sorted((self.folder / "wal").glob("*.arrow"))
        self._seq = max([self._seq, *(number(path) + 1 for path in segments)])
        for path in segments:
            self._recover(path)
        self._retire()

    def _open_read_only(self) -> bool:
        """Open the folder to read it, changing nothing: no folder made, no lock written (a shared one is
        taken, so that no dashboard starts writing meanwhile), no segment converted (they are read into
        memory), nothing retired, compacted or moved aside. HistoryInUse while a dashboard writes to it;
        FileNotFoundError for a folder that is not there."""
        if not (self.folder / "series.jsonl").is_file():
            raise FileNotFoundError(f"history: {self.folder} is not a data folder (no series.jsonl)")
        if (self.folder / "lock").exists():
            self._flock(os.O_RDONLY, fcntl.LOCK_SH, "is being written by a dashboard (pid {owner}); read a copy "
                                                    "of it, or open it read-only once that one has stopped")
        for tier in TIERS:
            chunks = [Chunk.parse(path) for path in sorted((self.folder / tier).glob("*.parquet"))]
            self._chunks[tier] = sorted(c for c in chunks if c is not None)
        for path in sorted((self.folder / "wal").glob("*.arrow")):
            if self._converted(number(path)):
                continue  # (the writer was stopped before deleting it)
            batches, problem = read_segment(path)
            if problem:
                log.warning("history: %s: %s (its whole messages are read)", path, problem)
            self._pending[path] = batches
        return True

    def _lock_folder(self) -> None:
        """One process per data folder: a second one would interleave its log with ours."""
        if self._lock_fd >= 0:
            return
        self._flock(os.O_RDWR | os.O_CREAT, fcntl.LOCK_EX,
                    "is in use by another dashboard (pid {owner}); give each dashboard its own --data-dir")
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)

    def _flock(self, flags: int, mode: int, refusal: str) -> None:
        """Open the folder's lock file with ``flags`` and take ``mode`` (shared or exclusive) without
        waiting; HistoryInUse with ``refusal`` (its ``{owner}``: the pid written there) when it is held."""
        self._lock_fd = os.open(self.folder / "lock", flags, 0o644)
        try:
            fcntl.flock(self._lock_fd, mode | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(self._lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise HistoryInUse(f"history: {self.folder} " + refusal.format(owner=owner)) from None

    def _converted(self, seq: int) -> bool:
        """Whether log segment ``seq`` is in chunks of every tier already."""
        return all(any(c.seq == seq for c in self._chunks[tier]) for tier in TIERS)

    def _recover(self, path: Path) -> None:
        """Turn a segment left by the last run into chunks; keep every whole message of one cut short."""
        seq = number(path)
        if self._converted(seq):
            path.unlink(missing_ok=True)  # converted, then killed before deleting it
            return
        batches, problem = read_segment(path)
        if batches:
            self._convert(path, batches)
        if problem:
            self._move_aside(path, problem)
        else:
            path.unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------------------
    def write(self, batch: Batch, keep: Sequence[np.ndarray | None] | None = None) -> None:
        """Log ``batch`` (``keep``: per series, a mask of the samples the store kept, None for all). Never
        raises: a failure is logged once and shown by :meth:`status`; writing is tried again later."""
        n = sum(batch.time.size if m is None else int(m.sum()) for m in keep) if keep is not None else \
            batch.sample_count
        if n == 0:
            return
        if self.read_only:
            if not self.samples_unwritten:
                log.warning("history: %s is open read-only; new samples are kept in memory only", self.folder)
            self.samples_unwritten += n
            return
        if self.closed:  # a write racing the history's close: counted, never a traceback in the collection
            if not self.samples_lost:
                log.warning("history: %s is closed; samples written after it are kept in memory only", self.folder)
            self.samples_lost += n
            return
        now = self._clock()
        if self.error and now < self._retry_at:
            self.samples_lost += n
            return
        if not self._opened:
            self._opened = self._try_open(now)
            if not self._opened:
                self.samples_lost += n
                return
        try:
            record = self._record(batch, keep)
            self._append(record, now)
        except OSError as exc:
            self._failed(exc, now, n)
            return
        self.samples_written += n
        if self.error:
            log.warning("history: writing to %s works again (%d samples were kept in memory only)",
                        self.folder, self.samples_lost)
            self.error = ""

    def _record(self, batch: Batch, keep: Sequence[np.ndarray | None] | None) -> pa.RecordBatch:
        ids, counters = self._numbers(batch)
        rows = self._rounded(batch, counters)
        if keep is None or all(m is None for m in keep):
            one = batch.time.size == 1  # a 1 Hz source's every batch: no tile nor repeat
            series = ids if one else np.repeat(ids, batch.time.size)
            times = np.full(len(ids), batch.time[0]) if one else np.tile(batch.time, len(ids))
            values = rows.reshape(-1)
        else:
            parts = [(i, batch.time if m is None else batch.time[m], rows[row] if m is None else rows[row][m])
                     for row, (i, m) in enumerate(zip(ids, keep, strict=True))]
            series = np.concatenate([np.full(t.size, i, dtype=np.int32) for i, t, _ in parts])
            times = np.concatenate([t for _, t, _ in parts])
            values = np.concatenate([v for _, _, v in parts])
        return pa.RecordBatch.from_arrays([_column(series, np.int32), _column(times, np.float64),
                                           _column(values, np.float64)], schema=LOG_SCHEMA)

    def _numbers(self, batch: Batch) -> tuple[np.ndarray, list[int]]:
        """The catalog's numbers of ``batch``'s series, and the rows that are counters. A source sends the
        same series batch after batch: they are looked up once per source while its keys stay the same
        (a hundred lookups a second were most of a 1 Hz server's write)."""
        known = self._numbered.get(batch.source)
        if known is not None and (known[0] is batch.keys or known[0] == batch.keys) and \
                (known[3] is batch.info or not (known[3] or batch.info)):
            return known[1], known[2]
        infos = [batch.info.get(k) or SeriesInfo() for k in batch.keys]
        ids = np.asarray([self.catalog.number(k, batch.source, i) for k, i in zip(batch.keys, infos, strict=True)],
                         dtype=np.int32)
        counters = [row for row, info in enumerate(infos) if info.kind == "counter"]
        self._numbered[batch.source] = (batch.keys, ids, counters, batch.info)
        return ids, counters

    def _rounded(self, batch: Batch, counters: list[int]) -> np.ndarray:
        """``batch``'s values to the history's precision, but a counter's exactly: a raw reading rounded to a
        few digits loses its increments (12,345,678 + 1 is 12,350,000 either way)."""
        if self.precision is None:
            return batch.values
        rows = round_significant(batch.values, self.precision)
        if counters:
            rows[counters] = batch.values[counters]
        return rows

    def _append(self, record: pa.RecordBatch, now: float) -> None:
        with self._lock:
            if self._fd >= 0 and now - self._segment_opened >= self.segment_seconds:
                self._close_segment()
            if self._fd < 0:
                self._start_segment(now)
            data = record.serialize()
            write_all(self._fd, data)
            self._pending[self._segment].append(record)  # type: ignore[index]
            self._segment_size += data.size
            if self._segment_size >= self.segment_bytes:
                self._close_segment()
            elif now - self._last_sync >= self.sync_interval:
                self._last_sync = now
                self._worker.submit(sync, self._fd)

    def _start_segment(self, now: float) -> None:
        path = self.folder / "wal" / f"{self._seq:08d}.arrow"
        self._seq += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, LOG_SCHEMA.serialize())
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._segment, self._segment_size = fd, path, os.fstat(fd).st_size
        self._segment_opened = self._last_sync = now
        self._pending[path] = []

    def _close_segment(self) -> None:
        """Hand the open segment to the workers (:meth:`SegmentWorker._queue_segment`)."""
        fd, path, self._fd, self._segment = self._fd, self._segment, -1, None
        if path is not None:
            self._queue_segment(fd, path)

    def _failed(self, exc: BaseException, now: float, lost: int) -> None:
        with self._lock:
            if self._fd >= 0:  # a message may be cut short: this segment takes no more
                self._close_segment()
            self.samples_lost += lost
            first = not self.error
            self.error = f"{type(exc).__name__}: {exc}"
            self._retry_at = now + self.retry_interval
        if first:
            log.error("history: writing to %s failed (%s); samples stay in memory only, retrying every %gs",
                      self.folder, self.error, self.retry_interval)

    # -- status and closing -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What a status table shows: state (``ok`` or ``error: ...``), bytes and chunks per tier, counts."""
        with self._lock:
            sizes = {tier: sum(c.size for c in chunks) for tier, chunks in self._chunks.items()}
            files = {tier: len(chunks) for tier, chunks in self._chunks.items()}
        state = "read-only" if self.read_only else f"error: {self.error}" if self.error else "ok"
        waiting, lag = self.backlog()
        return {"folder": str(self.folder), "state": state, "samples_unwritten": self.samples_unwritten,
                "backlog_segments": waiting, "backlog_seconds": lag, "caught_up": self.caught_up,
                "bytes": sizes, "chunks": files, "series": len(self.catalog.keys),
                "samples_written": self.samples_written, "samples_lost": self.samples_lost,
                "moved_aside": list(self.moved_aside)}

    def flush(self) -> None:
        """Close the open segment and wait until every segment is in chunks (tests, shutdown)."""
        if self.read_only:
            return
        with self._lock:
            if self._fd >= 0:
                self._close_segment()
        self._drain()

    def close(self) -> None:
        """Convert what is logged and stop the worker; idempotent."""
        if self.closed:
            return
        self.flush()
        if not self.read_only:
            self._worker.submit(self._compact_tails).result()  # every bucket one row (a clean stop)
        self.closed = True
        self._stop_workers()
        if self.read_only:
            self._merged_away = []
        for path in self._merged_away:  # no query reads them any more
            path.unlink(missing_ok=True)
        self.catalog.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the folder's lock

    def __repr__(self) -> str:
        return f"<History {str(self.folder)!r} {'error' if self.error else 'ok'}>"

