"""GpuSource: readings through NVML. NVML cannot show a GPU on a machine without one, so the readings are
tested against a scripted NVML namespace; the real NVML of this machine is used for the "no GPU" path.
(``benchmarks/gpu_check.py`` runs the source against real GPUs; its output is in benchmarks/results.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dashboard.errors import SourceUnavailable
from dashboard.metrics.model import SeriesKey
from dashboard.service import MetricsService, default_sources
from dashboard.sources.gpu import GpuSource, gpu_status

from ..support import async_poll


class NVMLError(Exception):
    pass


class ScriptedNVML:
    """The calls GpuSource makes, answering for two GPUs; the second has no power reading."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, count: int = 2, fail_init: bool = False) -> None:
        self.count = count
        self.fail_init = fail_init
        self.open = 0
        self.util = [10, 90]

    def nvmlInit(self):
        if self.fail_init:
            raise NVMLError("Driver Not Loaded")
        self.open += 1

    def nvmlShutdown(self):
        self.open -= 1

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"<b>Tesla</b> X" if h == 0 else "A100"

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=self.util[h], memory=5)

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=2 << 30, total=16 << 30)

    def nvmlDeviceGetTemperature(self, h, sensor):
        return 50 + h

    def nvmlDeviceGetPowerUsage(self, h):
        if h == 1:
            raise NVMLError("Not Supported")
        return 123_456  # milliwatts


async def test_readings_per_gpu_with_unsupported_ones_left_out(leak_check):
    nvml = ScriptedNVML()
    src = GpuSource(nvml=nvml, interval=0.05)
    svc = MetricsService([src])
    async with svc:
        await async_poll(lambda: src.collections >= 2, timeout=5)
        nvml.util[1] = 95
        n = src.collections
        await async_poll(lambda: src.collections > n + 1, timeout=5)
    util1 = SeriesKey.of("gpu_utilization_percent", gpu="1", model="A100")
    assert svc.store.latest(util1)[1] == 95.0
    power0 = SeriesKey.of("gpu_power_watts", gpu="0", model="<b>Tesla</b> X")
    assert svc.store.latest(power0)[1] == pytest.approx(123.456)
    assert SeriesKey.of("gpu_power_watts", gpu="1", model="A100") not in svc.store, "no power on GPU 1"
    assert svc.store.info(SeriesKey.of("gpu_memory_used_bytes", gpu="0", model="<b>Tesla</b> X")).unit == "B"
    assert len(src.series) == 11 and src.failures == 0
    assert nvml.open == 0, "NVML shut down with the source"


async def test_no_gpu_is_a_clear_stop_not_a_retry_loop(leak_check):
    src = GpuSource(nvml=ScriptedNVML(count=0), interval=0.05)
    svc = MetricsService([src])
    async with svc:
        await async_poll(lambda: src.connection == "stopped", timeout=5)
    assert "NVML found no GPU" in src.reason and src.failures == 1


def test_gpu_status_and_the_default_dashboard_with_and_without_a_gpu():
    assert gpu_status(ScriptedNVML()) is None
    assert "Driver Not Loaded" in gpu_status(ScriptedNVML(fail_init=True))
    assert gpu_status(ScriptedNVML(count=0)) == "NVML found no GPU"
    assert [type(s).__name__ for s in default_sources(ScriptedNVML())] == ["SystemSource", "GpuSource"]
    assert [type(s).__name__ for s in default_sources(ScriptedNVML(count=0))] == ["SystemSource"]
    assert [type(s).__name__ for s in default_sources(ScriptedNVML(fail_init=True))] == ["SystemSource"]


def test_the_real_nvml_here_agrees_with_the_default_dashboard():
    """Which case runs depends on the machine (CI has no GPU: NVML's library is absent); both cases are
    tested above with a scripted NVML."""
    reason = gpu_status()
    names = [type(s).__name__ for s in default_sources()]
    assert ("GpuSource" in names) == (reason is None), "the GPU source only where NVML finds a GPU"
    assert reason is None or reason.startswith("NVML"), reason


async def test_asking_for_a_gpu_without_one_raises_a_clear_error():
    src = GpuSource(nvml=ScriptedNVML(fail_init=True))
    with pytest.raises(SourceUnavailable, match="gpu: NVML is not available here: Driver Not Loaded"):
        await src.initialize()
    await src.shutdown()
