"""History against Prometheus: the same samples in this project's history and in Prometheus 2.42's TSDB.

    python benchmarks/history_prometheus.py [--hours 48] [--zooms 30]

The data set, generated with a fixed seed: 100 series at 1 Hz for ``--hours`` (17.28 M samples for 48 h):
40 CPU-like gauges with one decimal (0-100 %), 30 memory gauges (whole bytes, pages of 4 KiB), 20 counters
(whole numbers, never falling) and 10 noisy floats (every bit random).

Both systems get the same samples, exact and at 4 significant digits (``dashboard serve``'s default):

* **Prometheus**: an OpenMetrics file of the samples, turned into TSDB blocks by ``promtool tsdb
  create-blocks-from openmetrics`` with blocks as long as the data (its CPU is the child's user + system
  seconds), then a real Prometheus server on loopback started on those blocks (from Debian's
  ``prometheus`` package), queried over HTTP as Grafana would for a zoom: ``min_over_time`` and
  ``max_over_time`` at 1,200 steps, two queries.
* **This project**: ``History(folder, precision=...)`` fed the samples as a 1 Hz server writes them, one
  batch a second (and, for comparison, one batch a minute), at data time (its clock follows the data); its
  CPU is the process's CPU seconds while writing and until ``close()`` (the worker's threads included). A
  zoom is ``MetricsService(history=folder, read_only=True).store.query(keys, start, end, 1200)`` in
  process, min and max per column in one call.

Bytes per sample are the files on disk (Prometheus: its blocks' chunks, index and metadata; the history:
the raw tier, then all seven tiers) over the samples written. Start to first answer: a new process (or
server) opened on the folder until it answers one zoom of every series.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashboard.history import History
from dashboard.history.files import round_significant
from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey

START = 1_800_000_000.0
FAMILIES = (("cpu_percent", 40, "gauge"), ("memory_bytes", 30, "gauge"), ("requests_total", 20, "counter"),
            ("noise", 10, "gauge"))


@dataclass
class DataSet:
    """``values[i, j]``: series ``i`` at ``START + j`` seconds."""

    keys: tuple[SeriesKey, ...]
    kinds: tuple[str, ...]
    values: np.ndarray

    @property
    def samples(self) -> int:
        return int(self.values.size)

    def rounded(self, precision: int | None) -> DataSet:
        if precision is None:
            return self
        out = self.values.copy()
        gauges = np.asarray([k != "counter" for k in self.kinds])
        out[gauges] = round_significant(out[gauges], precision)  # counters stay exact, as the history keeps them
        return DataSet(self.keys, self.kinds, out)


def dataset(hours: float, seed: int = 22) -> DataSet:
    """The 100 series, generated with ``seed``."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600)
    cpu = np.clip(50 + rng.normal(0, 0.8, (40, n)).cumsum(axis=1), 0, 100).round(1)
    memory = 8e9 + 4096.0 * rng.integers(-3, 4, (30, n)).cumsum(axis=1)
    counters = rng.poisson(rng.uniform(1, 500, (20, 1)), (20, n)).cumsum(axis=1).astype(np.float64)
    noise = rng.normal(100, 15, (10, n))
    keys, kinds = [], []
    for name, count, kind in FAMILIES:
        keys += [SeriesKey.of(name, instance=f"host-{len(keys) + i}") for i in range(count)]  # unique:
        kinds += [kind] * count  # (min_over_time drops the name)
    return DataSet(tuple(keys), tuple(kinds), np.vstack([cpu, memory, counters, noise]))


# -- this project ------------------------------------------------------------------------------------------
def write_history(data: DataSet, folder: Path, precision: int | None, batch_seconds: int) -> dict[str, float]:
    """Write every sample through a :class:`History`, ``batch_seconds`` a batch; CPU seconds and bytes."""
    info = {k: SeriesInfo(kind=kind) for k, kind in zip(data.keys, data.kinds, strict=True)}
    clock = [START]
    n = data.values.shape[1]
    began = time.process_time()
    history = History(folder, precision=precision, clock=lambda: clock[0])
    for j in range(0, n, batch_seconds):
        t = START + np.arange(j, min(n, j + batch_seconds), dtype=np.float64)
        clock[0] = float(t[-1])
        history.write(Batch("bench", data.keys, t, data.values[:, j:j + batch_seconds], info))
    history.close()
    cpu = time.process_time() - began
    raw = _bytes(folder / "raw")
    total = sum(_bytes(p) for p in folder.iterdir() if p.is_dir() and p.name not in ("wal", "corrupt"))
    return {"cpu": cpu, "raw": raw / data.samples, "all": total / data.samples}


def history_zooms(folder: Path, keys: tuple[SeriesKey, ...], ranges: list[tuple[float, float]],
                  columns: int) -> dict[int, list[float]]:
    """Seconds per zoom over every series and over one, in process."""
    from dashboard.service import MetricsService

    svc = MetricsService([], capacity=1000, history=History(folder, read_only=True))
    svc.store.query(keys, ranges[0][0], ranges[0][1], columns)  # pyarrow's first read: the server's start
    times: dict[int, list[float]] = {len(keys): [], 1: []}
    for lo, hi in ranges:
        for n in times:
            began = time.perf_counter()
            svc.store.query(keys[:n], lo, hi, columns)
            times[n].append(time.perf_counter() - began)
    svc.close_history()
    return times


FIRST_ANSWER = """
import sys, time
began = time.perf_counter()
from dashboard.history import History
from dashboard.service import MetricsService
from dashboard.metrics.model import SeriesKey
svc = MetricsService([], capacity=1000, history=History(sys.argv[1], read_only=True))
keys = list(svc.history.catalog.keys)
svc.store.query(keys, float(sys.argv[2]), float(sys.argv[3]), 1200)
print(time.perf_counter() - began)
"""


def history_first_answer(folder: Path, lo: float, hi: float) -> float:
    out = subprocess.run([sys.executable, "-c", FIRST_ANSWER, str(folder), str(lo), str(hi)],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


# -- Prometheus --------------------------------------------------------------------------------------------
def openmetrics(data: DataSet, path: Path) -> None:
    """The samples as an OpenMetrics file, one metric family after another, each series in time order."""
    seconds = [repr(START + j) for j in range(data.values.shape[1])]
    with open(path, "w") as out:
        row = 0
        for name, count, kind in FAMILIES:
            out.write(f"# TYPE {name} {kind}\n")
            for _ in range(count):
                key = data.keys[row]
                labels = ",".join(f'{k}="{v}"' for k, v in key.labels)
                metric = f"{name}{{{labels}}}"
                values = data.values[row].tolist()
                out.write("".join(f"{metric} {v!r} {t}\n" for v, t in zip(values, seconds, strict=True)))
                row += 1
        out.write("# EOF\n")


def promtool(openmetrics_path: Path, blocks: Path, hours: float) -> dict[str, float]:
    """``promtool tsdb create-blocks-from openmetrics``: the child's CPU seconds and the blocks' bytes. Its
    blocks may span the whole data set (``--max-block-duration``): with the default 2 h it reads the file
    once per block (five times the CPU over 48 h) and writes an index per block, where a server compacts
    them later; the larger blocks are Prometheus at its best on both counts."""
    span = f"{2 * math.ceil(hours / 2)}h"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={span}",
                    str(openmetrics_path), str(blocks)], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "bytes": _bytes(blocks)}


class Prometheus:
    """A Prometheus server on loopback over ``blocks`` (no scrape targets), for queries."""

    def __init__(self, blocks: Path, config: Path) -> None:
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={blocks}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=100y",
             "--query.max-samples=200000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def zoom(self, selector: str, lo: float, hi: float, columns: int) -> int:
        """Min and max per step over ``lo``..``hi``: two HTTP queries, as a client reads them; the series."""
        step = (hi - lo) / columns
        series = 0
        for fn in ("min_over_time", "max_over_time"):
            window = f"{max(1, round(1000 * step))}ms"  # (a duration is a whole number of its unit)
            query = urllib.parse.urlencode({"query": f"{fn}({selector}[{window}])", "start": lo + step,
                                            "end": hi, "step": f"{step:.3f}"})
            url = f"{self.url}/api/v1/query_range?{query}"
            with urllib.request.urlopen(url, timeout=600) as answer:
                series = len(json.loads(answer.read())["data"]["result"])
        return series

    def first_answer(self, selector: str, lo: float, hi: float, deadline: float = 120.0) -> float:
        """Seconds from the server's start until it answers a zoom of every series."""
        while time.perf_counter() - self.started < deadline:
            try:
                if self.zoom(selector, lo, hi, 1200):
                    return time.perf_counter() - self.started
            except urllib.error.HTTPError as exc:
                if exc.code != 503:  # (503: still loading its blocks)
                    raise
            except OSError:  # not listening yet
                pass
            time.sleep(0.01)
        raise TimeoutError(f"Prometheus on port {self.port} did not answer within {deadline} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def prometheus_zooms(server: Prometheus, ranges: list[tuple[float, float]], columns: int) -> dict[int, list[float]]:
    every = '{__name__=~"cpu_percent|memory_bytes|requests_total|noise"}'
    one = 'cpu_percent{instance="host-0"}'  # (one series)
    times: dict[int, list[float]] = {100: [], 1: []}
    for lo, hi in ranges:
        for n, selector in ((100, every), (1, one)):
            began = time.perf_counter()
            got = server.zoom(selector, lo, hi, columns)
            times[n].append(time.perf_counter() - began)
            assert got == n, f"Prometheus answered {got} series for {selector}, expected {n}"
    return times


# -- the run ---------------------------------------------------------------------------------------------
def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _ms(times: list[float]) -> str:
    return f"{1000 * statistics.median(times):.0f} / {1000 * float(np.percentile(times, 95)):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--zooms", type=int, default=30)
    parser.add_argument("--columns", type=int, default=1200)
    args = parser.parse_args()
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        sys.exit("needs promtool and prometheus on PATH (Debian: apt-get install prometheus)")
    data = dataset(args.hours)
    end = START + data.values.shape[1] - 1
    rng = np.random.default_rng(3)
    ranges = []
    for _ in range(args.zooms):
        span = float(np.exp(rng.uniform(np.log(60.0), np.log(end - START))))
        lo = float(rng.uniform(START, end - span))
        ranges.append((lo, lo + span))
    print(f"{data.samples:,} samples ({len(data.keys)} series x {args.hours:g} h at 1 Hz)", file=sys.stderr)
    rows: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="history-prometheus-") as tmp:
        root = Path(tmp)
        prom: dict[str, dict[str, float]] = {}
        ours: dict[str, dict[str, float]] = {}
        for label, precision in (("exact", None), ("4 digits", 4)):
            values = data.rounded(precision)
            text = root / f"samples-{precision}.om"
            openmetrics(values, text)
            prom[label] = promtool(text, root / f"prometheus-{precision}", args.hours)
            text.unlink()
            print(f"promtool {label}: {prom[label]}", file=sys.stderr)
            ours[label] = write_history(data, root / f"history-{precision}-60", precision, 60)
            print(f"history {label}, one-minute batches: {ours[label]}", file=sys.stderr)
        ours["1 s"] = write_history(data, root / "history-4-1", 4, 1)
        print(f"history 4 digits, one-second batches: {ours['1 s']}", file=sys.stderr)
        server = Prometheus(root / "prometheus-None", root / "prometheus.yml")
        try:
            prom_start = server.first_answer('{__name__=~".+"}', START, end)
            prom_zooms = prometheus_zooms(server, ranges, args.columns)
        finally:
            server.stop()
        our_start = statistics.median(history_first_answer(root / "history-None-60", START, end) for _ in range(3))
        our_zooms = history_zooms(root / "history-None-60", data.keys, ranges, args.columns)
    n = data.samples
    rows["bytes/sample, exact"] = (f"{prom['exact']['bytes'] / n:.2f}",
                                   f"raw tier {ours['exact']['raw']:.2f}, all tiers {ours['exact']['all']:.2f}")
    rows["bytes/sample, 4 significant digits"] = (
        f"{prom['4 digits']['bytes'] / n:.2f}",
        f"raw tier {ours['4 digits']['raw']:.2f}, all tiers {ours['4 digits']['all']:.2f}")
    rows[f"100-series zoom at {args.columns:,} columns, median / p95"] = (
        f"{_ms(prom_zooms[100])} (HTTP, two queries)", f"{_ms(our_zooms[len(data.keys)])} (in process)")
    rows["1-series zoom, median / p95"] = (_ms(prom_zooms[1]), _ms(our_zooms[1]))
    rows[f"write CPU for the {n / 1e6:.2f} M samples"] = (
        f"{prom['exact']['cpu']:.1f} s (promtool)",
        f"{ours['1 s']['cpu']:.1f} s in one-second batches, {ours['4 digits']['cpu']:.1f} s in one-minute "
        f"batches (4 digits)")
    rows["start to first answer"] = (f"{prom_start:.2f} s", f"{our_start:.2f} s")
    print(f"\n`python benchmarks/history_prometheus.py --hours {args.hours:g} --zooms {args.zooms}`\n")
    print("| | Prometheus 2.42 | this project |\n|---|---|---|")
    for name, (theirs, mine) in rows.items():
        print(f"| {name} | {theirs} | {mine} |")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
