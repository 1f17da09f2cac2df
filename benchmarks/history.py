"""History on disk: bytes per sample, the storage formats compared, restore at start, zoom from disk.

    python benchmarks/history.py [--system-seconds 180] [--days 30] [--series 100] [--zooms 50]

1. **Bytes per sample** of the raw tier for two real recordings: this machine's system source (the default
   dashboard's series) collected at its own interval for ``--system-seconds``, and the synthetic source's
   4 series at 1 kHz for 60 s: the raw chunks as the history wrote them, then the samples as one chunk of
   the history's own writer with every bit and at 4 significant digits (``dashboard serve``'s default
   ``--precision``), and in the other formats considered (Parquet without byte-stream split, Arrow
   IPC/Feather with zstd, DuckDB when it is installed), with their write rate and the time to read one
   series back: the comparison the README shows.
2. **Restore**: a service opened on a folder whose last window holds 1,000,000 samples (100 series, 10,000
   each); seconds from ``MetricsService(history=...)`` to the buffers filled, median of 5.
3. **Zoom from disk**: ``--days`` of ``--series`` series at 1 Hz generated into a data folder (259 M samples
   for 30 days of 100), then ``--zooms`` random ranges (1 minute to the whole span, log-uniform) queried
   at 1,200 pixel columns for all the series at once through the store, as a held plot asks; median, p95
   and worst seconds. One query over the whole span runs first, untimed: a process's first Parquet read
   loads pyarrow's readers and thread pool, a cost of the server's start, not of a zoom. The process keeps
   freed memory as ``dashboard serve`` does (:mod:`dashboard.core.memory`).

4. **Write cost** (``--parts write``): CPU seconds per second of a 300,000 samples/s stream written
   through a history as ``dashboard serve`` keeps it (its worker thread included).

5. **Backlog under load** (``--parts backlog``): both cores kept busy by two busy loops, a history is fed
   a minute of 100 series at 1 Hz every second (one log segment each, 60 times real time) for
   ``--backlog-seconds``; the largest ``wal/`` backlog (segments, and how long the oldest waited) with the
   catch-up thread (``max_lag`` 30 s, the default) and without it (the nice-19 worker alone), side by side.

``--parts bytes,restore,write,zoom,backlog`` runs some of them (all but backlog by default).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from dashboard.core.memory import keep_freed_memory
from dashboard.history import History
from dashboard.history.files import LOG_SCHEMA, round_significant, write_parquet
from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.synthetic import waves
from dashboard.sources.system import SystemSource


def record_system(seconds: float, folder: Path) -> int:
    """The system source collected at its interval for ``seconds`` into a history; samples written."""
    async def run() -> int:
        svc = MetricsService([SystemSource()], history=History(folder, segment_seconds=1e9))
        async with svc:
            await asyncio.sleep(seconds)
        written = svc.history.samples_written
        svc.close_history()
        return written

    return asyncio.run(run())


def record_synthetic(seconds: float, folder: Path) -> int:
    """The synthetic source's 4 series at 1 kHz for ``seconds`` (generated at once, the source's own waves)."""
    keys = tuple(SeriesKey.of("synthetic", wave=str(i)) for i in range(4))
    history = History(folder, segment_seconds=1e9, segment_bytes=1 << 40)
    svc = MetricsService([], capacity=10_000, history=history)
    for lo in range(0, int(seconds * 1000), 10_000):
        t, values = waves(np.arange(lo, lo + 10_000, dtype=np.float64), 1000.0, 1_800_000_000.0, 4)
        svc._write(Batch("synthetic", keys, t, values))
    written = history.samples_written
    svc.close_history()
    return written


def raw_table(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted((folder / "raw").glob("*.parquet"))])


def formats(table: pa.Table, out: Path) -> list[tuple[str, float, float, float]]:
    """(format, bytes/sample, write M samples/s, read one series seconds) for each format considered: the
    history's own raw chunks (every bit, and 4 significant digits as ``dashboard serve`` keeps them), then
    the other formats of the same samples kept whole."""
    n = table.num_rows
    one = int(table.column("series")[0].as_py())
    rows = []

    def measure(name: str, write, read) -> None:
        began = time.perf_counter()
        size = write()
        wrote = time.perf_counter() - began
        began = time.perf_counter()
        read()
        rows.append((name, size / n, n / wrote / 1e6, time.perf_counter() - began))

    rounded = table.set_column(2, "value", pa.array(round_significant(table.column("value").to_numpy(), 4)))
    for name, samples in (("every bit", table), ("4 significant digits", rounded)):
        chunk = out / f"chunk-{name.split()[0]}.parquet"
        measure(f"Parquet, zstd 9, byte-stream split (chosen), {name}",
                lambda samples=samples, chunk=chunk: (write_parquet(samples, chunk, "raw"), chunk.stat().st_size)[1],
                lambda chunk=chunk: pq.read_table(chunk, filters=[("series", "==", one)]))
    plain = out / "plain.parquet"
    measure("Parquet, zstd, dictionary (pyarrow's default encodings)",
            lambda: (pq.write_table(table, plain, compression="zstd"), plain.stat().st_size)[1],
            lambda: pq.read_table(plain, filters=[("series", "==", one)]))
    arrow = out / "data.feather"
    measure("Arrow IPC (Feather v2), zstd",
            lambda: (feather.write_feather(table, arrow, compression="zstd"), arrow.stat().st_size)[1],
            lambda: feather.read_table(arrow).filter(pa.compute.equal(table.column("series"), one)))
    try:
        import duckdb
    except ImportError:
        return rows
    db = out / "data.duckdb"

    def duck_write() -> int:
        con = duckdb.connect(str(db))
        con.register("samples", table)
        con.execute("CREATE TABLE s AS SELECT * FROM samples ORDER BY series, time")
        con.execute("CHECKPOINT")
        con.close()
        return db.stat().st_size

    def duck_read() -> None:
        con = duckdb.connect(str(db), read_only=True)
        con.execute(f"SELECT time, value FROM s WHERE series = {one}").fetchnumpy()
        con.close()

    measure(f"DuckDB {duckdb.__version__} table", duck_write, duck_read)
    return rows


def restore_seconds(folder: Path, repeats: int = 5) -> tuple[float, int]:
    keys = tuple(SeriesKey.of("restore", i=str(i)) for i in range(100))
    history = History(folder, segment_seconds=1e9, segment_bytes=1 << 40)
    t = 1_800_000_000.0 + np.arange(10_000.0)
    history.write(Batch("bench", keys, t, np.random.default_rng(0).standard_normal((100, t.size))))
    history.close()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        svc = MetricsService([], window=10_000, capacity=20_000, history=folder)
        times.append(time.perf_counter() - began)
        restored = sum(svc.store.size(k) for k in keys)
        svc.close_history()
    return statistics.median(times), restored


def generate(folder: Path, days: int, series: int) -> tuple[History, tuple[SeriesKey, ...], float, float]:
    """``days`` of ``series`` random walks at 1 Hz, as the server lays them out: one log segment an hour
    turned into chunks, then the finished periods compacted."""
    keys = tuple(SeriesKey.of("fleet_metric", host=str(i)) for i in range(series))
    history = History(folder, segment_seconds=1e12, segment_bytes=1 << 40)
    start = 1_800_000_000.0
    rng = np.random.default_rng(2)
    ids = np.repeat(np.asarray([history.catalog.number(k, "bench", SeriesInfo()) for k in keys], np.int32), 3600)
    level = np.zeros((series, 1))
    for hour in range(days * 24):
        t = start + hour * 3600 + np.arange(3600.0)
        v = level + rng.standard_normal((series, t.size)).cumsum(axis=1)
        level = v[:, -1:]
        batch = pa.record_batch([pa.array(ids), pa.array(np.tile(t, series)), pa.array(v.reshape(-1))],
                                schema=LOG_SCHEMA)
        history._convert(folder / "wal" / f"{hour:08d}.arrow", [batch])
        if hour % 24 == 23:
            print(f"  day {hour // 24 + 1}/{days} written", file=sys.stderr, flush=True)
    history._compact()
    return history, keys, start, start + days * 86400


def zooms(folder: Path, days: int, series: int, count: int, columns: int = 1200) -> dict[int, list[float]]:
    """Seconds per query for ``count`` random ranges, for a plot of every series and for one of 4."""
    history, keys, first, last = generate(folder, days, series)
    history.close()
    keep_freed_memory()  # as dashboard serve does
    svc = MetricsService([], capacity=1000, history=folder)
    svc.store.query(keys, first, last, columns)  # the process's first read loads pyarrow's readers: not a zoom
    rng = np.random.default_rng(3)
    times: dict[int, list[float]] = {len(keys): [], 4: []}
    for _ in range(count):
        span = float(np.exp(rng.uniform(np.log(60.0), np.log(last - first))))
        lo = float(rng.uniform(first, last - span))
        for n in times:
            began = time.perf_counter()
            svc.store.query(keys[:n], lo, lo + span, columns)
            times[n].append(time.perf_counter() - began)
    svc.close_history()
    return times


def write_cpu(folder: Path, seconds: int = 90, rate: float = 300_000.0) -> float:
    """CPU seconds per second of a ``rate`` samples/s stream (the synthetic source's 4 series, in 50 ms
    batches) written through a history kept as ``dashboard serve`` keeps it, its worker included: the
    history's own cost, without a server or a browser."""
    from dashboard.cli import SERVE_PRECISION

    keys = tuple(SeriesKey.of("synthetic", wave=str(i)) for i in range(4))
    clock = [1_800_000_000.0]
    history = History(folder, precision=SERVE_PRECISION, clock=lambda: clock[0])
    rows = int(rate / 4 / 20)
    began = time.process_time()
    for i in range(20 * seconds):
        t, v = waves(np.arange(i * rows, (i + 1) * rows, dtype=np.float64), rate / 4, 1_800_000_000.0, 4)
        clock[0] = float(t[-1])
        history.write(Batch("synthetic", keys, t, v))
        if i % 20 == 0:
            time.sleep(0.05)  # the worker's turn, as a collection loop gives it
    history.close()
    return (time.process_time() - began) / seconds


def backlog(folder: Path, seconds: float, max_lag: float) -> dict[str, float]:
    """Feed a history a one-minute segment of 100 series every second for ``seconds`` while both cores are
    busy; its largest backlog and what was left at the end."""
    import multiprocessing

    keys = tuple(SeriesKey.of("gauge", i=str(i)) for i in range(100))
    info = dict.fromkeys(keys, SeriesInfo())
    clock = [1_800_000_000.0]
    busy = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(2)]
    for p in busy:
        p.start()
    history = History(folder, precision=4, segment_seconds=60.0, clock=lambda: clock[0], max_lag=max_lag)
    worst = (0, 0.0)
    try:
        start = time.monotonic()
        rng = np.random.default_rng(1)
        while time.monotonic() - start < seconds:
            t = clock[0] + np.arange(60.0)
            history.write(Batch("bench", keys, t, rng.normal(50, 10, (100, 60)), info))
            clock[0] += 60.0
            waiting, lag = history.backlog()
            worst = (max(worst[0], waiting), max(worst[1], lag))
            time.sleep(1.0)
        left = history.backlog()
    finally:
        for p in busy:
            p.terminate()
        history.close()
    return {"segments": worst[0], "lag": worst[1], "left": left[0], "caught_up": history.caught_up}


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system-seconds", type=float, default=180.0)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--zooms", type=int, default=50)
    parser.add_argument("--parts", default="bytes,restore,write,zoom")
    parser.add_argument("--backlog-seconds", type=float, default=120.0)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-history-") as tmp:
        root = Path(tmp)
        print(f"`python benchmarks/history.py --system-seconds {args.system_seconds:g} --days {args.days} "
              f"--series {args.series} --zooms {args.zooms} --parts {args.parts}`\n")
        recordings = (("system source", record_system, args.system_seconds),
                      ("synthetic, 4 series at 1 kHz", record_synthetic, 60.0))
        for name, record, seconds in recordings if "bytes" in parts else ():
            folder = root / name.split()[0]
            n = record(seconds, folder)
            table = raw_table(folder)
            on_disk = sum(p.stat().st_size for p in (folder / "raw").glob("*.parquet"))
            print(f"**{name}**, {seconds:g} s, {n:,} samples; the raw chunks the history wrote (every bit): "
                  f"{on_disk / n:.2f} bytes/sample\n")
            print("| format | bytes/sample | write (M samples/s) | read one series (ms) |\n|---|---|---|---|")
            for fmt, per, rate, read in formats(table, folder):
                print(f"| {fmt} | {per:.2f} | {rate:.1f} | {read * 1000:.1f} |")
            print()
        if "restore" in parts:
            median, restored = restore_seconds(root / "restore")
            print(f"Restore: {restored:,} samples in memory {median:.3f} s after MetricsService(history=...) "
                  "(median of 5)\n")
        if "write" in parts:
            print(f"Writing 300,000 samples/s (90 s of the synthetic source through History, 4 digits): "
                  f"{write_cpu(root / 'write'):.3f} s of CPU a second, waves generated included\n")
        if "backlog" in parts:
            print(f"Backlog with both cores busy, a one-minute segment of 100 series every second for "
                  f"{args.backlog_seconds:g} s:\n\n| worker | largest backlog (segments) | oldest waited (s) | "
                  "left at the end | converted by the catch-up thread |\n|---|---|---|---|---|")
            for name, lag in (("nice 19 alone", float("inf")), ("nice 19, catch-up after 30 s", 30.0)):
                r = backlog(root / f"backlog-{lag}", args.backlog_seconds, lag)
                print(f"| {name} | {r['segments']} | {r['lag']:.0f} | {r['left']} | {r['caught_up']} |")
            print()
        if "zoom" not in parts:
            return
        print(f"Zoom from disk, {args.days} days x {args.series} series at 1 Hz "
              f"({args.days * 86400 * args.series / 1e6:,.0f} M samples), {args.zooms} random ranges from a "
              "minute to the whole span, 1,200 columns:\n")
        for n, times in zooms(root / "zoom", args.days, args.series, args.zooms).items():
            times = sorted(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"- a plot of {n} series: median {statistics.median(times) * 1000:.0f} ms, "
                  f"p95 {p95 * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
