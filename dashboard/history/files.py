"""The files of a data folder: log segments (Arrow IPC stream messages) and chunks (Parquet), and the few
operations on them that must be exact: whole writes, whole messages read back, names that carry a chunk's
time span.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

LOG_SCHEMA = pa.schema([("series", pa.int32()), ("time", pa.float64()), ("value", pa.float64())])
TIER_SCHEMA = pa.schema([("series", pa.int32()), ("t", pa.float64()), ("tmin", pa.float64()),
                         ("tmax", pa.float64()), ("min", pa.float64()), ("max", pa.float64()),
                         ("count", pa.int64()), ("tgap", pa.float64())])
#: Parquet encodings: floats split by byte before compression (their exponents and high bytes compress
#: well). Raw chunks use zstd at level 9 (the most samples per byte: 4% smaller than level 3 at 4
#: significant digits, 8 M samples/s written on one core), level 1 for the fastest sources; aggregate
#: chunks use zstd at level 9 too (a fifth smaller than LZ4, a tenth slower to zoom through; with
#: dictionary encoding, pyarrow's default, they were 50% larger and slower than both).
RAW_ENCODING = {"series": "DELTA_BINARY_PACKED", "time": "BYTE_STREAM_SPLIT", "value": "BYTE_STREAM_SPLIT"}
#: An aggregate's other times are stored as offsets from its bucket's start ``t``: a few seconds, whose
#: bytes are almost all zero or alike, where the absolute times cost a fifth of the aggregates' bytes.
#: Exact both ways: the times of one bucket are multiples of the same unit in the last place. A chunk
#: written before (columns ``tmin``, ``tmax``, ``tgap``) is read as it is.
OFFSETS = {"tmin": "tmin_after_t", "tmax": "tmax_after_t", "tgap": "tgap_after_t"}
OFFSETS_BACK = {offset: name for name, offset in OFFSETS.items()}
TIER_ENCODING = {"series": "DELTA_BINARY_PACKED", "count": "DELTA_BINARY_PACKED",
                 **{name: "BYTE_STREAM_SPLIT" for name in ("t", "min", "max", *OFFSETS.values())}}
#: The aggregate columns a drawing reads (all of them).
DRAWN = ("series", "t", "tmin", "tmax", "min", "max", "count", "tgap")
#: Most rows in one compacted chunk.
COMPACT_ROWS = 8_000_000


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


def rows_of(table: pa.Table, ids: Iterable[int] | None, column: str, start: float | None, end: float
            ) -> pa.Table:
    """The rows of ``table`` whose series is one of ``ids`` (None: any) and whose ``column`` is in
    ``(start, end]`` (``start`` None: no bound on time)."""
    masks = [] if ids is None else [pc.is_in(table.column("series"), pa.array(list(ids), pa.int32()))]
    if start is not None:
        masks += [pc.greater(table.column(column), start), pc.less_equal(table.column(column), end)]
    return table.filter(functools.reduce(pc.and_, masks)) if masks else table


def write_parquet(table: pa.Table, path: Path, tier: str, fast: bool = False) -> None:
    """``table`` as a chunk file of ``tier`` (the encodings and compression above). ``fast``: raw samples at
    zstd's level 1, not 9, for a log segment's own chunk. A merge rewrites those of a finished hour at level
    9 (a segment's level 9 was a third of a 1 Hz server's conversion, paid again by the merge); a fast
    source's hour, too large to merge, stays at level 1 (about 6% more room than level 9; at 300,000
    samples/s level 9 cost the server a tenth of a core)."""
    raw = tier == "raw"
    level = (1 if fast else 9) if raw else 9
    if not raw:
        t = table.column("t")
        for name, offset in OFFSETS.items():
            index = table.column_names.index(name)
            table = table.set_column(index, offset, pc.subtract(table.column(name), t))
    pq.write_table(table, path, compression="zstd", compression_level=level,
                   use_dictionary=False, column_encoding=RAW_ENCODING if raw else TIER_ENCODING,
                   row_group_size=256 * 1024, write_statistics=True)


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """A chunk file's ``columns`` (None: all), an aggregate's times made absolute again."""
    with pq.ParquetFile(path) as file:
        stored = file.schema_arrow.names
        if not any(offset in stored for offset in OFFSETS.values()):
            return file.read(columns=None if columns is None else list(columns))
        wanted = stored if columns is None else [OFFSETS.get(name, name) for name in columns]
        table = file.read(columns=list(dict.fromkeys([*wanted, "t"])))
    t = table.column("t")
    for name, offset in OFFSETS.items():
        if offset in table.column_names:
            index = table.column_names.index(offset)
            table = table.set_column(index, name, pc.add(t, table.column(offset)))
    names = [n for n in stored if n not in OFFSETS] if columns is None else list(columns)
    return table.select([OFFSETS_BACK.get(n, n) for n in names])



def parse_precision(text: str | int | None) -> int | None:
    """``4`` (significant digits kept of gauges' values) or ``exact``/None (every bit); ValueError naming
    the text otherwise."""
    if text is None or str(text).strip().lower() == "exact":
        return None
    try:
        digits = int(str(text).strip())
    except ValueError:
        digits = 0
    if not 1 <= digits <= 15:
        raise ValueError(f"expected a number of significant digits from 1 to 15, or exact; got {text!r}")
    return digits


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` with at least ``digits`` significant decimal digits kept: the float64 mantissa rounded to
    the fewest bits that hold them (relative error at most 2**-(bits + 1), under half a unit of the last
    digit kept), the dropped bits zero, so that the compressor stores almost nothing for them. NaN and
    infinities are kept as they are; so is a value whose rounding would overflow."""
    bits = math.ceil(digits * math.log2(10))
    drop = 52 - bits
    if drop <= 0:
        return values
    raw = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    half, keep = np.uint64(1 << (drop - 1)), np.uint64(((1 << 64) - 1) ^ ((1 << drop) - 1))
    rounded = ((raw + half) & keep).view(np.float64)
    return np.where(np.isfinite(rounded), rounded, values)


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


def joined(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
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


def number(path: Path) -> int:
    try:
        return int(path.stem.split("_")[-1])
    except ValueError:
        return 0


def sync(fd: int) -> None:
    with contextlib.suppress(OSError):  # closed meanwhile (the segment was handed on): its own sync follows
        os.fsync(fd)
