"""This machine through psutil: CPU (total and per core), memory, swap, disk and network I/O, load, processes.

Features are detected when the source opens: a machine without disk counters, swap or a load average
still works and simply lacks those series. CPU percentages are computed from ``cpu_times`` deltas kept by
this source (``psutil.cpu_percent`` keeps one hidden global state that any other caller would disturb),
and byte counters become rates over ``time.monotonic()``. The first reading is taken at open, so the
first collection already has rates.

The process table (a walk of ``/proc``, the slowest call here) is read at most once per
``slow_interval`` through a :class:`~dashboard.core.cache.TTLCache`.

``psutil`` is a constructor argument (``psutil_module=``), so tests can hand in another implementation
of the same functions; the default is the real module.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import ModuleType
from typing import Any

import param
import psutil

from ..core.cache import TTLCache
from ..metrics.model import Batch, SeriesKey
from .base import Source, source_type

PERCENT = "%"
PRIME_SECONDS = 0.1


@source_type("system")
class SystemSource(Source):
    """CPU, memory, swap, disk and network I/O, load average and process count of this machine."""

    slow_interval = param.Number(
        default=5.0, bounds=(0, 3600), doc="Seconds between two reads of the process table.")

    per_cpu = param.Boolean(default=True, doc="Also collect the load of each logical CPU.")

    def __init__(self, psutil_module: ModuleType | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._ps = psutil_module or psutil
        self._cache = TTLCache(ttl=self.slow_interval, maxsize=4)
        self._cpu_prev: list[Any] | None = None
        self.features: dict[str, bool] = {}

    async def _initialize(self) -> None:
        await asyncio.to_thread(self._detect)
        wall, elapsed, values = await asyncio.to_thread(self._read)
        self.make_batch(wall, values, elapsed=elapsed)  # primes CPU times and counter rates
        await asyncio.sleep(PRIME_SECONDS)  # let at least one clock tick of CPU time pass

    def _detect(self) -> None:
        ps = self._ps
        self.series.clear()
        self.rates.forget()
        self._cpu_prev = None
        ncpu = len(ps.cpu_times(percpu=True)) if self.per_cpu else 0
        self.features = {
            "per_cpu": ncpu > 0,
            "swap": ps.swap_memory().total > 0,
            "disk": ps.disk_io_counters() is not None,
            "net": ps.net_io_counters() is not None,
            "load": hasattr(ps, "getloadavg") or hasattr(os, "getloadavg"),
        }
        self.declare("cpu_percent", PERCENT, help="CPU busy time, all cores")
        for i in range(ncpu):
            self.declare("cpu_core_percent", PERCENT, help="CPU busy time of one core", cpu=str(i))
        self.declare("memory_percent", PERCENT, help="Memory in use", type="ram")
        if self.features["swap"]:
            self.declare("memory_percent", PERCENT, help="Swap in use", type="swap")
        self.declare("memory_used_bytes", "B", help="Memory in use")
        if self.features["disk"]:
            self.declare("disk_io_bytes", "B/s", "counter", help="Disk throughput", direction="read")
            self.declare("disk_io_bytes", "B/s", "counter", help="Disk throughput", direction="write")
        if self.features["net"]:
            self.declare("network_io_bytes", "B/s", "counter", help="Network throughput", direction="sent")
            self.declare("network_io_bytes", "B/s", "counter", help="Network throughput", direction="received")
        if self.features["load"]:
            for period in ("1m", "5m", "15m"):
                self.declare("load_average", "", help="Run-queue length", period=period)
        self.declare("process_count", "", help="Processes")

    async def _collect(self) -> Batch:
        wall, elapsed, values = await asyncio.to_thread(self._read)
        return self.make_batch(wall, values, elapsed=elapsed)

    def _read(self) -> tuple[float, float, dict[SeriesKey, float]]:
        ps = self._ps
        values: dict[SeriesKey, float] = {}
        self._read_cpu(values)
        mem = ps.virtual_memory()
        values[SeriesKey.of("memory_percent", type="ram")] = float(mem.percent)
        values[SeriesKey.of("memory_used_bytes")] = float(mem.total - mem.available)
        if self.features.get("swap"):
            values[SeriesKey.of("memory_percent", type="swap")] = float(ps.swap_memory().percent)
        if self.features.get("disk"):
            disk = ps.disk_io_counters()
            if disk is not None:
                values[SeriesKey.of("disk_io_bytes", direction="read")] = float(disk.read_bytes)
                values[SeriesKey.of("disk_io_bytes", direction="write")] = float(disk.write_bytes)
        if self.features.get("net"):
            net = ps.net_io_counters()
            if net is not None:
                values[SeriesKey.of("network_io_bytes", direction="sent")] = float(net.bytes_sent)
                values[SeriesKey.of("network_io_bytes", direction="received")] = float(net.bytes_recv)
        if self.features.get("load"):
            loadavg = getattr(ps, "getloadavg", None) or os.getloadavg
            for period, value in zip(("1m", "5m", "15m"), loadavg(), strict=True):
                values[SeriesKey.of("load_average", period=period)] = float(value)
        values[SeriesKey.of("process_count")] = float(
            self._cache.get_or_compute("pids", lambda: len(ps.pids())))
        return time.time(), time.monotonic(), values

    def _read_cpu(self, values: dict[SeriesKey, float]) -> None:
        per_cpu = self._ps.cpu_times(percpu=True)
        prev = self._cpu_prev
        if prev is not None and len(prev) == len(per_cpu) and _total(per_cpu[0]) == _total(prev[0]):
            return  # not one clock tick since the last read: keep the baseline, report nothing
        self._cpu_prev = per_cpu
        if prev is None or len(prev) != len(per_cpu):
            return
        busy_total = all_total = 0.0
        for i, (before, after) in enumerate(zip(prev, per_cpu, strict=True)):
            busy, total = _busy(after) - _busy(before), _total(after) - _total(before)
            busy_total += busy
            all_total += total
            if self.features.get("per_cpu"):
                values[SeriesKey.of("cpu_core_percent", cpu=str(i))] = _percent(busy, total)
        values[SeriesKey.of("cpu_percent")] = _percent(busy_total, all_total)


def _total(times: Any) -> float:
    # On Linux guest time is already counted in user time.
    return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _busy(times: Any) -> float:
    return _total(times) - getattr(times, "idle", 0.0) - getattr(times, "iowait", 0.0)


def _percent(busy: float, total: float) -> float:
    return float("nan") if total <= 0 else max(0.0, min(100.0, 100.0 * busy / total))
