"""Store throughput on one core: vectorized appends and window queries, medians of repeats.

    python benchmarks/store_throughput.py

Appends batches of ``rows`` timestamps x ``series`` series into a ``Store`` whose ring buffers hold
``capacity`` samples each (so the buffers wrap many times), then reads every series' window back.
Prints a Markdown table of samples per second (median of 5 repeats).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from dashboard.metrics.model import Batch, SeriesKey
from dashboard.metrics.store import Store


def append_rate(series: int, rows: int, batches: int, capacity: int) -> float:
    keys = tuple(SeriesKey.of("m", i=str(i)) for i in range(series))
    store = Store(capacity=capacity, window=1e9)
    values = np.random.default_rng(0).random((series, rows))
    prepared = [Batch("bench", keys, np.arange(b * rows, (b + 1) * rows, dtype=float), values)
                for b in range(batches)]
    start = time.perf_counter()
    for batch in prepared:
        store.append(batch)
    elapsed = time.perf_counter() - start
    assert store.samples_appended == series * rows * batches
    return series * rows * batches / elapsed


def window_rate(series: int, capacity: int, queries: int) -> float:
    keys = tuple(SeriesKey.of("m", i=str(i)) for i in range(series))
    store = Store(capacity=capacity, window=1e9)
    store.append(Batch("bench", keys, np.arange(capacity * 1.5), np.ones((series, int(capacity * 1.5)))))
    start = time.perf_counter()
    n = 0
    for q in range(queries):
        t, _ = store.window(keys[q % series], seconds=capacity / 2)
        n += t.size
    return n / (time.perf_counter() - start)


def main(repeats: int = 5) -> None:
    cases = [
        ("append: 4 series x 1 row per batch (one collection)", lambda: append_rate(4, 1, 20_000, 10_000)),
        ("append: 4 series x 50 rows per batch (50 ms at 1 kHz)", lambda: append_rate(4, 50, 5_000, 10_000)),
        ("append: 4 series x 1,000 rows per batch", lambda: append_rate(4, 1_000, 500, 100_000)),
        ("append: 100 series x 100 rows per batch", lambda: append_rate(100, 100, 200, 10_000)),
        ("window query: 4 series, 50,000-sample windows", lambda: window_rate(4, 100_000, 200)),
    ]
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}; medians of {repeats}")
    print("| case | samples/s |\n|---|---|")
    for name, run in cases:
        rate = statistics.median(run() for _ in range(repeats))
        print(f"| {name} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
