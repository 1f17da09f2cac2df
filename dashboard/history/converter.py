"""A process of its own that turns large log segments into chunks.

A fast source's segment (hundreds of thousands of samples) is sorted, aggregated and compressed with
numpy and pyarrow; in a thread of the server's process that work took the GIL from the event loop often
enough to add 10-20 ms to the page's latency at 300,000 points/s. So the history hands such a segment to
a Python process running :func:`serve`: one request per line on its stdin (the folder and the
segment's path, JSON), one answer per line on its stdout (the chunks written, or the error). The child
reads the segment's file itself, so nothing large crosses the pipe. It is started on first use with the
interpreter's own executable (not ``multiprocessing``, whose spawn re-imports the parent's ``__main__``:
a user's script would run again), and ends when its stdin closes: when the history closes, or when the
server dies, even by SIGKILL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from .files import FAST_SAMPLES_PER_SECOND, LOG_SCHEMA, TIER_SCHEMA, Chunk, number, read_segment, write_parquet
from .tiers import TIERS, aggregate, coarsen


class Converter:
    """The server's handle on the converter process: started on first use, one request at a time."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-c", "from dashboard.history.converter import serve; serve()"]
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def convert(self, folder: Path, segment: Path) -> list[tuple[str, Chunk]]:
        """Convert ``segment`` of the history in ``folder``: (tier, chunk) of each chunk written. OSError
        when the process cannot (the caller converts it itself then)."""
        with self._lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps({"folder": str(folder), "segment": str(segment)}) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except (OSError, ValueError) as exc:
                raise OSError(f"the converter process is gone ({exc})") from None
        if not line:
            raise OSError(f"the converter process ended (exit status {process.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise OSError(answer["error"])
        return [(tier, Chunk(t0, t1, seq, Path(path), size)) for tier, t0, t1, seq, path, size in answer["chunks"]]

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                             bufsize=1)
        return self._process

    def close(self) -> None:
        """End the process (it finishes the request it is on)."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def serve() -> None:
    """The process's loop: a request per line of stdin, an answer per line of stdout, until stdin closes."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            written = convert_segment(Path(request["folder"]), Path(request["segment"]))
            answer: dict = {"chunks": [[tier, c.t0, c.t1, c.seq, str(c.path), c.size] for tier, c in written]}
        except Exception as exc:  # answered, never a dead process: the server converts it itself then
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def convert_segment(folder: Path, segment: Path, batches: list[pa.RecordBatch] | None = None
                    ) -> list[tuple[str, Chunk]]:
    """A segment's samples (``batches``, or its file's whole messages) as a raw chunk and a chunk of
    aggregates in each coarser tier, written in ``folder``: (tier, chunk) of each. A function of files only,
    so that a process of its own can run it."""
    if batches is None:
        batches, _ = read_segment(segment)
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
    fast = t.size > FAST_SAMPLES_PER_SECOND * max(last - first, 1.0)
    samples = pa.table({"series": series, "time": t, "value": v}, schema=LOG_SCHEMA)
    written = [("raw", write_chunk(folder, "raw", samples, first, last, seq, fast))]
    rows = None
    for tier in list(TIERS)[1:]:  # the finest from the samples, each coarser one from the one below
        rows = aggregate(series, t, v, TIERS[tier], ordered=True) if rows is None else coarsen(rows, TIERS[tier])
        written.append((tier, write_chunk(folder, tier, pa.table(rows, schema=TIER_SCHEMA), float(rows["t"].min()),
                                          float(rows["t"].max() + TIERS[tier]), seq)))
    return written


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
