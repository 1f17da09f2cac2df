"""History on disk: a write-ahead log, Parquet chunk files in three tiers, retention, recovery.

A data folder holds::

    series.jsonl        the catalog: series number -> name, labels, source, unit (catalog.py)
    wal/NNNN.arrow      the open log segment: Arrow IPC stream messages, one per batch written
    raw/T0-T1-N.parquet samples (series, time, value), zstd, sorted by series then time
    minute/, hour/      aggregates (min, max with their times, sum, count, first gap) per series and bucket
    corrupt/            files found unreadable at start or when read, moved aside (never deleted)

Writing: every batch the store keeps goes to the open segment as one ``write`` on its file descriptor, in
the caller's thread, before the batch is published: a process that is killed loses nothing the store
accepted (the operating system holds the written bytes). The segment is ``fsync``-ed every
``sync_interval`` by a worker thread, which bounds what a machine crash can lose. A segment is closed when
it reaches ``segment_bytes`` or ``segment_seconds``; the worker turns it into one raw chunk and its
minute and hour aggregates (each written to a temporary name, synced, then renamed: a chunk is whole or
absent), then deletes it. Until then its samples are answered from memory.

At start, segments left by a crash are converted the same way; a segment cut short (the process died in
the middle of a write) keeps every whole message, and the file is moved into ``corrupt/`` with a log line
naming it and the reason. A chunk that cannot be read is moved aside when found, and the query goes on
with the rest.

Errors (a full disk, a read-only folder) never reach the collection loop: the history logs them once, its
``status`` says ``error: ...`` and the samples of that time stay in memory only; a new segment is tried every
``retry_interval`` seconds, and writing resumes when it works.

This module is part of the storage layer: it never imports panel or bokeh.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import itertools
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..metrics.model import Batch, SeriesInfo, SeriesKey
from .catalog import Catalog
from .tiers import PERIODS, TIERS, aggregate, columns_from_rows

log = logging.getLogger("dashboard.history")

LOG_SCHEMA = pa.schema([("series", pa.int32()), ("time", pa.float64()), ("value", pa.float64())])
TIER_SCHEMA = pa.schema([("series", pa.int32()), ("t", pa.float64()), ("tmin", pa.float64()),
                         ("tmax", pa.float64()), ("min", pa.float64()), ("max", pa.float64()),
                         ("sum", pa.float64()), ("count", pa.int64()), ("tgap", pa.float64())])
#: Parquet encodings: floats split by byte before zstd (their exponents and high bytes compress well).
RAW_ENCODING = {"series": "DELTA_BINARY_PACKED", "time": "BYTE_STREAM_SPLIT", "value": "BYTE_STREAM_SPLIT"}

#: Default retention per tier, in seconds (raw a week, 10 s a month, minutes 90 days, 10 minutes a year,
#: hours two years).
DEFAULT_RETENTION = {"raw": 7 * 86400.0, "10s": 30 * 86400.0, "minute": 90 * 86400.0, "10min": 365 * 86400.0,
                     "hour": 730 * 86400.0}
#: Share of ``max_bytes`` each tier may use when only a total is given.
DISK_SHARES = {"raw": 0.6, "10s": 0.15, "minute": 0.1, "10min": 0.08, "hour": 0.07}
#: The aggregate columns a drawing reads (``sum`` is kept for averages, not read to draw).
DRAWN = ("series", "t", "tmin", "tmax", "min", "max", "count", "tgap")
#: Most rows in one compacted chunk.
COMPACT_ROWS = 8_000_000


@dataclass(frozen=True)
class Retention:
    """How long (seconds) and how many bytes each tier keeps; the oldest chunks go first."""

    seconds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETENTION))
    bytes: dict[str, float] = field(default_factory=lambda: {t: float("inf") for t in TIERS})

    @classmethod
    def of(cls, seconds: dict[str, float] | float | None = None,
           max_bytes: dict[str, float] | float | None = None) -> Retention:
        """From a raw-tier time (the coarser tiers keep their defaults, or at least as long) or one per tier,
        and a total size (split over the tiers by :data:`DISK_SHARES`) or one per tier."""
        ages = dict(DEFAULT_RETENTION)
        if isinstance(seconds, (int, float)):
            ages["raw"] = float(seconds)
            names = list(TIERS)
            for finer, coarser in itertools.pairwise(names):  # a coarser tier keeps at least as long
                ages[coarser] = max(ages[coarser], ages[finer])
        elif seconds:
            ages.update({k: float(v) for k, v in seconds.items()})
        sizes = {t: float("inf") for t in TIERS}
        if isinstance(max_bytes, (int, float)):
            sizes = {t: float(max_bytes) * share for t, share in DISK_SHARES.items()}
        elif max_bytes:
            sizes.update({k: float(v) for k, v in max_bytes.items()})
        for name in (*ages, *sizes):
            if name not in TIERS:
                raise ValueError(f"history retention: unknown tier {name!r} (tiers: {', '.join(TIERS)})")
        for tier in TIERS:
            if not ages[tier] > 0 or not sizes[tier] > 0:
                raise ValueError(f"history retention: the {tier} tier must keep more than 0 (got "
                                 f"{ages[tier]:g} s, {sizes[tier]:g} bytes)")
        return cls(ages, sizes)

    @classmethod
    def parse(cls, retention: str | None = None, max_disk: str | None = None) -> Retention:
        """From the command line's texts: ``--retention 7d`` (the raw tier) or ``raw=7d,minute=90d,hour=2y``
        and ``--max-disk 1GiB`` (split 70/20/10) or ``raw=800MiB,...``."""
        from ..viewurl import parse_duration

        def duration(text: str) -> float:
            text = text.strip().lower()
            return float(text[:-1]) * 365 * 86400 if re.fullmatch(r"\d+(\.\d+)?y", text) else parse_duration(text)

        return cls.of(_per_tier(retention, duration) if retention else None,
                      _per_tier(max_disk, parse_size) if max_disk else None)


SIZE_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12,
              "tb": 1e12, "kib": 1024.0, "mib": 1024.0**2, "gib": 1024.0**3, "tib": 1024.0**4}


def parse_size(text: str) -> float:
    """Bytes from ``"500MB"``, ``"1GiB"``, ``"1.5g"`` or a plain number; ValueError naming the text otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in SIZE_UNITS:
        raise ValueError(f"expected a size such as 500MB or 1GiB, got {text!r}")
    return float(match.group(1)) * SIZE_UNITS[unit]


def _per_tier(text: str, parse: Callable[[str], float]) -> dict[str, float] | float:
    """``"7d"`` (one value) or ``"raw=7d,minute=90d"`` (per tier)."""
    if "=" not in text:
        return parse(text)
    out = {}
    for item in text.split(","):
        tier, _, value = item.partition("=")
        out[tier.strip()] = parse(value)
    return out


@dataclass(frozen=True, order=True)
class Chunk:
    """One Parquet file of a tier: its time span, sequence number and size."""

    t0: float
    t1: float
    seq: int
    path: Path = field(compare=False)
    size: int = field(compare=False, default=0)

    @classmethod
    def parse(cls, path: Path) -> Chunk | None:
        try:
            a, b, n = path.stem.split("_")
            return cls(int(a) / 1e6, int(b) / 1e6, int(n), path, path.stat().st_size)
        except (ValueError, OSError):
            return None

    @staticmethod
    def name(t0: float, t1: float, seq: int) -> str:
        return f"{round(t0 * 1e6):017d}_{round(t1 * 1e6):017d}_{seq:08d}.parquet"


class HistoryInUse(RuntimeError):
    """Another process holds the data folder."""


class History:
    """Samples of every series on disk, in tiers, with retention; see the module's text."""

    def __init__(self, folder: str | os.PathLike[str], retention: Retention | None = None, *,
                 segment_bytes: int = 8 << 20, segment_seconds: float = 60.0, sync_interval: float = 1.0,
                 retry_interval: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder).expanduser()
        self.retention = retention or Retention()
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self.sync_interval = sync_interval
        self.retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dashboard-history")
        self.error = ""  # the last write error, "" while writing works
        self.samples_written = 0
        self.samples_lost = 0  # accepted while the disk failed: in memory only
        self.moved_aside: list[str] = []
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
        self._lock_fd = -1
        self.catalog = Catalog(self.folder / "series.jsonl")
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
        for path in sorted((self.folder / "wal").glob("*.arrow")):
            self._seq = max(self._seq, _number(path) + 1)
        for path in sorted((self.folder / "wal").glob("*.arrow")):
            self._recover(path)
        self._retire()

    def _lock_folder(self) -> None:
        """One process per data folder: a second one would interleave its log with ours."""
        if self._lock_fd >= 0:
            return
        self._lock_fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(self._lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise HistoryInUse(f"history: {self.folder} is in use by another dashboard (pid {owner}); "
                               "give each dashboard its own --data-dir") from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)

    def _recover(self, path: Path) -> None:
        """Turn a segment left by the last run into chunks; keep every whole message of one cut short."""
        seq = _number(path)
        if all(any(c.seq == seq for c in self._chunks[tier]) for tier in TIERS):
            path.unlink(missing_ok=True)  # converted, then killed before deleting it
            return
        batches, problem = read_segment(path)
        if batches:
            self._convert(path, batches)
        if problem:
            self._move_aside(path, problem)
        else:
            path.unlink(missing_ok=True)

    def _move_aside(self, path: Path, reason: str) -> None:
        target = self.folder / "corrupt" / f"{path.parent.name}-{path.name}"
        try:
            shutil.move(path, target)
        except OSError as exc:
            log.error("history: %s is unreadable (%s) and could not be moved aside: %s", path, reason, exc)
            return
        self.moved_aside.append(f"{path}: {reason}")
        log.warning("history: %s moved aside to %s: %s", path, target, reason)

    # -- writing ------------------------------------------------------------------------------------------
    def write(self, batch: Batch, keep: Sequence[np.ndarray | None] | None = None) -> None:
        """Log ``batch`` (``keep``: per series, a mask of the samples the store kept, None for all). Never
        raises: a failure is logged once and shown by :meth:`status`; writing is tried again later."""
        n = sum(batch.time.size if m is None else int(m.sum()) for m in keep) if keep is not None else \
            batch.sample_count
        if n == 0:
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
        ids = [self.catalog.number(k, batch.source, batch.info.get(k) or SeriesInfo()) for k in batch.keys]
        if keep is None or all(m is None for m in keep):
            series = np.repeat(np.asarray(ids, dtype=np.int32), batch.time.size)
            times = np.tile(batch.time, len(ids))
            values = batch.values.reshape(-1)
        else:
            parts = [(i, batch.time if m is None else batch.time[m], batch.values[row] if m is None
                      else batch.values[row][m]) for row, (i, m) in enumerate(zip(ids, keep, strict=True))]
            series = np.concatenate([np.full(t.size, i, dtype=np.int32) for i, t, _ in parts])
            times = np.concatenate([t for _, t, _ in parts])
            values = np.concatenate([v for _, _, v in parts])
        return pa.record_batch([pa.array(series), pa.array(times), pa.array(values)], schema=LOG_SCHEMA)

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
                self._worker.submit(_sync, self._fd)

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
        """Hand the open segment to the worker (which syncs, converts and deletes it)."""
        fd, path, self._fd, self._segment = self._fd, self._segment, -1, None
        if path is None:
            return
        batches = self._pending[path]
        self._worker.submit(self._finish_segment, fd, path, batches)

    def _finish_segment(self, fd: int, path: Path, batches: list[pa.RecordBatch]) -> None:
        try:
            _sync(fd)
            os.close(fd)
            if batches:
                self._convert(path, batches)
            path.unlink(missing_ok=True)
            self._retire()
            self._compact()
        except OSError as exc:  # the chunk could not be written: the segment stays, converted at next start
            self._failed(exc, self._clock(), 0)
            with self._lock:
                self._pending.pop(path, None)
        except Exception:
            log.exception("history: converting %s failed; it stays for the next start", path)

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

    # -- chunks -------------------------------------------------------------------------------------------
    def _convert(self, segment: Path, batches: list[pa.RecordBatch]) -> None:
        """Write a segment's samples as a raw chunk and its aggregates as minute and hour chunks."""
        table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
        series = table.column("series").to_numpy()
        t = table.column("time").to_numpy()
        v = table.column("value").to_numpy()
        order = np.lexsort((t, series))
        series, t, v = series[order], t[order], v[order]
        seq = _number(segment)
        written = [("raw", self._write_chunk("raw", pa.table({"series": series, "time": t, "value": v},
                                                             schema=LOG_SCHEMA), float(t.min()),
                                             float(t.max()), seq))]
        for tier in list(TIERS)[1:]:
            rows = aggregate(series, t, v, TIERS[tier])
            written.append((tier, self._write_chunk(tier, pa.table(rows, schema=TIER_SCHEMA),
                                                    float(rows["t"].min()),
                                                    float(rows["t"].max() + TIERS[tier]), seq)))
        with self._lock:
            for tier, chunk in written:
                self._chunks[tier].append(chunk)
                self._chunks[tier].sort()
            self._pending.pop(segment, None)

    def _write_chunk(self, tier: str, table: pa.Table, t0: float, t1: float, seq: int) -> Chunk:
        path = self.folder / tier / Chunk.name(t0, t1, seq)
        temporary = path.with_suffix(".tmp")
        encoding = RAW_ENCODING if tier == "raw" else None
        pq.write_table(table, temporary, compression="zstd", use_dictionary=encoding is None,
                       column_encoding=encoding, row_group_size=256 * 1024, write_statistics=True)
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        return Chunk(t0, t1, seq, path, path.stat().st_size)

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
        are deleted (a crash in between leaves the samples twice, which queries count once)."""
        for tier in TIERS:
            for group in self._groups(tier):
                self._merge(tier, group)

    def _groups(self, tier: str) -> list[list[Chunk]]:
        with self._lock:
            chunks = list(self._chunks[tier])
        if len(chunks) < 2:
            return []
        period = PERIODS[tier]
        newest = chunks[-1].t0
        groups: list[list[Chunk]] = []
        current: list[Chunk] = []
        for chunk in chunks[:-1]:  # the newest chunk's period may still grow
            span = chunk.t0 // period
            if (current and current[0].t0 // period != span) or span >= newest // period:
                groups.append(current)
                current = []
            if span < newest // period:
                current.append(chunk)
        groups.append(current)
        return [g for g in groups if len(g) > 1]

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
        for chunk in group:
            chunk.path.unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------------
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
        tables = [self._read("raw", c, ids, "time", start, end, None, every)
                  for c in self._overlapping("raw", start, end)]
        tables += self._pending_tables(ids, start, end)
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
        return [_joined(p) for p in pieces]

    def aggregates(self, tier: str, keys: Sequence[SeriesKey], start: float, end: float
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Aggregate rows of ``tier`` whose bucket meets ``(start, end]``, of every one of ``keys``: (the
        index in ``keys`` of each row's series, the rows' columns); the open log's samples are aggregated
        on the fly."""
        ids = {self.catalog.ids[k]: i for i, k in enumerate(keys) if k in self.catalog.ids}
        width = TIERS[tier]
        every = len(ids) == len(self.catalog.ids)
        tables = [self._read(tier, c, ids, "t", start - width, end, DRAWN, every)
                  for c in self._overlapping(tier, start, end)]
        pending = [p for p in self._pending_tables(ids, start - width, end) if p.num_rows]
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

    def columns(self, keys: Sequence[SeriesKey], start: float, end: float, columns: int
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """``keys`` over ``(start, end]`` at pixel resolution from an aggregate tier, or None when the raw
        samples are what the range needs (the caller decimates those)."""
        width = (end - start) / columns
        tier = self.tier_for(width, start)
        if tier == "raw":
            return None
        row, rows = self.aggregates(tier, keys, start, end)
        return columns_from_rows(row, rows, len(keys), start, width, columns)

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
        filters = [] if every else [("series", "in", list(ids))]
        if not (chunk.t0 > start and chunk.t1 <= end):
            filters += [(column, ">", start), (column, "<=", end)]
        try:
            table = pq.read_table(chunk.path, columns=None if columns is None else list(columns),
                                  filters=filters or None)
        except FileNotFoundError:  # retired meanwhile
            return None
        except (OSError, pa.ArrowException) as exc:
            with self._lock:
                if chunk in self._chunks[tier]:
                    self._chunks[tier].remove(chunk)
            self._move_aside(chunk.path, f"unreadable ({type(exc).__name__}: {exc})")
            return None
        return table

    def _pending_tables(self, ids: dict[int, int], start: float, end: float) -> list[pa.Table]:
        with self._lock:
            batches = [b for bs in self._pending.values() for b in bs]
        if not batches or not ids:
            return []
        table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
        mask = pc.and_(pc.is_in(table.column("series"), pa.array(list(ids), pa.int32())),
                       pc.and_(pc.greater(table.column("time"), start), pc.less_equal(table.column("time"), end)))
        return [table.filter(mask)]

    # -- status and closing -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What a status table shows: state (``ok`` or ``error: ...``), bytes and chunks per tier, counts."""
        with self._lock:
            sizes = {tier: sum(c.size for c in chunks) for tier, chunks in self._chunks.items()}
            files = {tier: len(chunks) for tier, chunks in self._chunks.items()}
        return {"folder": str(self.folder), "state": f"error: {self.error}" if self.error else "ok",
                "bytes": sizes, "chunks": files, "series": len(self.catalog.keys),
                "samples_written": self.samples_written, "samples_lost": self.samples_lost,
                "moved_aside": list(self.moved_aside)}

    def flush(self) -> None:
        """Close the open segment and wait until every segment is in chunks (tests, shutdown)."""
        with self._lock:
            if self._fd >= 0:
                self._close_segment()
        self._worker.submit(lambda: None).result()

    def close(self) -> None:
        """Convert what is logged and stop the worker; idempotent."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self._worker.shutdown(wait=True)
        self.catalog.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the folder's lock

    def __repr__(self) -> str:
        return f"<History {str(self.folder)!r} {'error' if self.error else 'ok'}>"


def read_segment(path: Path) -> tuple[list[pa.RecordBatch], str]:
    """Every whole message of a log segment, and what was wrong with the rest ("" when nothing)."""
    batches: list[pa.RecordBatch] = []
    try:
        with pa.ipc.open_stream(pa.OSFile(str(path))) as reader:
            for batch in reader:
                batches.append(batch)
    except (OSError, pa.ArrowException) as exc:
        kept = sum(b.num_rows for b in batches)
        if path.stat().st_size == 0 and not batches:
            return [], ""
        return batches, f"cut short or corrupt after {kept} samples ({type(exc).__name__}: {exc})"
    return batches, ""


def _joined(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One series' pieces (chunks in time order, then the open log) as one time-sorted pair; a sample
    logged twice (a segment converted again after a crash, chunks merged while a query ran) counts once."""
    if not pieces:
        return np.empty(0), np.empty(0)
    t = pieces[0][0] if len(pieces) == 1 else np.concatenate([p[0] for p in pieces])
    v = pieces[0][1] if len(pieces) == 1 else np.concatenate([p[1] for p in pieces])
    if t.size > 1 and not (t[1:] > t[:-1]).all():
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        fresh = np.concatenate(([True], t[1:] > t[:-1]))
        t, v = t[fresh], v[fresh]
    return t, v


def write_all(fd: int, data: Any) -> None:
    """Write every byte of ``data``; a short write is followed by another, which raises the reason (a full
    disk answers ENOSPC then)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _number(path: Path) -> int:
    try:
        return int(path.stem.split("_")[-1])
    except ValueError:
        return 0


def _sync(fd: int) -> None:
    with contextlib.suppress(OSError):  # closed meanwhile (the segment was handed on): its own sync follows
        os.fsync(fd)
