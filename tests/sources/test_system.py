"""The system source against the real psutil, and on a machine without disks, swap or load average."""

from __future__ import annotations

import types
from collections import namedtuple

import numpy as np
import psutil

from dashboard.metrics.model import SeriesKey
from dashboard.sources.system import SystemSource


async def test_collects_real_metrics_of_this_machine():
    src = SystemSource()
    await src.initialize()
    try:
        batch = await src.collect()
    finally:
        await src.shutdown()
    values = {k: batch.column(k)[0] for k in batch.keys}
    ncpu = psutil.cpu_count()
    assert 0 <= values[SeriesKey.of("cpu_percent")] <= 100
    cores = [k for k in batch.keys if k.name == "cpu_core_percent"]
    assert len(cores) == ncpu and all(0 <= values[k] <= 100 for k in cores)
    assert 0 < values[SeriesKey.of("memory_percent", type="ram")] < 100
    assert values[SeriesKey.of("process_count")] > 1
    if src.features["net"]:
        sent = values[SeriesKey.of("network_io_bytes", direction="sent")]
        assert np.isfinite(sent) and sent >= 0, "the first collection already has a rate (primed at open)"
    assert batch.info[SeriesKey.of("memory_percent", type="ram")].unit == "%"
    assert abs(batch.time[0] - __import__("time").time()) < 5


Times = namedtuple("Times", "user system idle")


def bare_machine(busy: list[float]):
    """A psutil-shaped namespace for a machine with no disks, no swap, no load average, one NIC."""
    state = {"n": 0}

    def cpu_times(percpu=False):
        state["n"] += 1
        b = busy[min(state["n"] - 1, len(busy) - 1)]
        return [Times(b, 0.0, 100.0 * state["n"] - b)]

    return types.SimpleNamespace(
        cpu_times=cpu_times,
        virtual_memory=lambda: types.SimpleNamespace(percent=50.0, total=1000, available=500),
        swap_memory=lambda: types.SimpleNamespace(total=0, percent=0.0),
        disk_io_counters=lambda: None,
        net_io_counters=lambda: types.SimpleNamespace(bytes_sent=1000 * state["n"], bytes_recv=0),
        pids=lambda: [1, 2, 3],
    )


async def test_a_machine_without_disks_swap_or_load_still_works(monkeypatch):
    monkeypatch.delattr("os.getloadavg")
    src = SystemSource(psutil_module=bare_machine([0.0, 50.0, 100.0]))
    await src.initialize()
    batch = await src.collect()
    names = {k.name for k in batch.keys}
    assert "disk_io_bytes" not in names and "load_average" not in names
    assert SeriesKey.of("memory_percent", type="swap") not in batch.keys
    assert src.features == {"per_cpu": True, "swap": False, "disk": False, "net": True, "load": False}
    assert batch.column(SeriesKey.of("memory_percent", type="ram"))[0] == 50.0
    assert batch.column(SeriesKey.of("process_count"))[0] == 3
    await src.shutdown()


async def test_cpu_percent_comes_from_time_deltas():
    # busy time grows by 50 of 100 units between the priming read and the first collection
    src = SystemSource(psutil_module=bare_machine([0.0, 0.0, 50.0]))
    await src.initialize()
    batch = await src.collect()
    assert batch.column(SeriesKey.of("cpu_percent"))[0] == 50.0
    assert batch.column(SeriesKey.of("cpu_core_percent", cpu="0"))[0] == 50.0
    await src.shutdown()
