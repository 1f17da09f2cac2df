"""A zoom's answer on the server: one store query at pixel resolution, over random ranges of a long window.

    python benchmarks/zoom_query.py [--zooms 50] [--columns 1200]

Fills a store with 1 h of 4 series at 1 kHz (14.4 million samples; each ring buffer wraps once), then
answers ``--zooms`` random ranges, from 1 s to the whole hour, with ``Store.query`` (exact min and max per
pixel column of what is stored, gaps kept) and a whole-window query (a window change to 1 h). Prints the
median, p95 and worst seconds per query and the rows each answer holds. This is the server-side half of a
zoom (issue 10 asks at most 100 ms p95); reaching the pixels in a browser is measured separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from dashboard.metrics.model import Batch, SeriesKey
from dashboard.metrics.store import Store

SERIES, RATE, SECONDS = 4, 1000, 3600


def filled_store() -> tuple[Store, tuple[SeriesKey, ...], float, float]:
    keys = tuple(SeriesKey.of("synthetic", wave=str(i)) for i in range(SERIES))
    n = RATE * SECONDS
    store = Store(capacity=n, window=SECONDS)
    rng = np.random.default_rng(0)
    start = 1_700_000_000.0
    for lo in range(0, n + n // 10, 500_000):  # 10% more than the capacity: the buffers wrap
        t = start + np.arange(lo, lo + 500_000) / RATE
        store.append(Batch("synthetic", keys, t, rng.standard_normal((SERIES, t.size)).cumsum(axis=1)))
    t_last = store.latest(keys[0])[0]
    return store, keys, t_last - SECONDS, t_last


def timed(store: Store, keys: tuple[SeriesKey, ...], lo: float, hi: float, columns: int) -> tuple[float, int]:
    began = time.perf_counter()
    t, _ = store.query(keys, lo, hi, columns)
    return time.perf_counter() - began, t.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zooms", type=int, default=50)
    parser.add_argument("--columns", type=int, default=1200)
    args = parser.parse_args()
    store, keys, first, last = filled_store()
    rng = np.random.default_rng(1)
    zooms, rows = [], []
    for _ in range(args.zooms):
        span = float(np.exp(rng.uniform(np.log(1.0), np.log(SECONDS))))
        lo = float(rng.uniform(first, last - span))
        seconds, n = timed(store, keys, lo, lo + span, args.columns)
        zooms.append(seconds)
        rows.append(n)
    whole = [timed(store, keys, first, last, args.columns)[0] for _ in range(5)]
    p95 = float(np.percentile(zooms, 95))
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}; {SERIES} series x {RATE} Hz x {SECONDS} s "
          f"= {SERIES * RATE * SECONDS:,} samples; {args.columns} pixel columns")
    print("| query | median (ms) | p95 (ms) | worst (ms) | rows drawn |\n|---|---|---|---|---|")
    print(f"| {args.zooms} random zooms, 1 s to 1 h | {statistics.median(zooms) * 1000:.1f} | {p95 * 1000:.1f} "
          f"| {max(zooms) * 1000:.1f} | {min(rows):,} to {max(rows):,} |")
    print(f"| the whole hour (a window change) | {statistics.median(whole) * 1000:.1f} | "
          f"{float(np.percentile(whole, 95)) * 1000:.1f} | {max(whole) * 1000:.1f} | |")


if __name__ == "__main__":
    main()
