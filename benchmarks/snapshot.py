"""Snapshot size and time: the default dashboard over an hour, for machines of 2 to 64 cores.

    python benchmarks/snapshot.py [--cores 2,16,64] [--repeats 3]

The store holds an hour at 1 Hz of this machine's own system series (their real names and labels), with
``cpu_core_percent`` widened to ``--cores`` cores, values drawn at random (the worst case for the file:
every pixel column has a different min and max). ``dash.save()`` writes the snapshot; the table gives its
size and the median seconds it took.
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

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.system import SystemSource
from dashboard.ui import MetricsDashboard

HOUR = 3600


def this_machine() -> Batch:
    source = SystemSource()

    async def read() -> Batch:
        async with source:
            return await source.collect()

    return asyncio.run(read())


def service(first: Batch, cores: int) -> tuple[MetricsService, float]:
    keys = [k for k in first.keys if k.name != "cpu_core_percent"]
    keys += [SeriesKey.of("cpu_core_percent", core=str(c)) for c in range(cores)]
    info = {**first.info, **{k: SeriesInfo("%") for k in keys if k.name == "cpu_core_percent"}}
    svc = MetricsService([SystemSource()], window=HOUR, capacity=2 * HOUR)
    end = time.time()
    t = np.arange(end - HOUR + 1, end + 1, 1.0)
    values = np.random.default_rng(1).random((len(keys), t.size)) * 100
    svc._write(Batch("system", tuple(keys), t, values, info))
    return svc, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2,16,64")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    first = this_machine()
    print(f"`python {' '.join(sys.argv)}`\n")
    print("| cores | series | file | seconds to write (median) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for cores in (int(c) for c in args.cores.split(",")):
            svc, end = service(first, cores)
            dash = MetricsDashboard(service=svc)
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                path = dash.save(Path(folder) / f"{cores}.html", window=HOUR, end=end)
                seconds.append(time.perf_counter() - started)
            size = path.stat().st_size
            print(f"| {cores} | {len(svc.store.keys())} | {size / 1e6:.2f} MB | {statistics.median(seconds):.2f} |")


if __name__ == "__main__":
    main()
