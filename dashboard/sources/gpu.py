"""``GpuSource``: NVIDIA GPUs through NVML (``nvidia-ml-py``): utilization, memory, temperature, power.

One series per GPU and reading, labelled ``gpu`` (the index) and ``model`` (the name NVML reports):
``gpu_utilization_percent``, ``gpu_memory_utilization_percent``, ``gpu_memory_used_bytes``,
``gpu_memory_total_bytes``, ``gpu_temperature_celsius``, ``gpu_power_watts``. Readings a GPU does not
support (power on some boards) are found at open and left out, not reported as errors each time.

:func:`gpu_status` says whether NVML finds a GPU here; the default dashboard adds this source only when it
does, and asking for it where it cannot run raises :class:`~dashboard.errors.SourceUnavailable` with
NVML's own reason. NVML calls block briefly; they run in a worker thread. ``nvml`` is injectable (tests
pass a scripted NVML namespace; NVML cannot be made to show a GPU on a machine without one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import param

from ..errors import SourceUnavailable
from ..metrics.model import Batch, SeriesKey
from .base import Source, source_type

#: (metric, unit, help, reader) for each reading; a reader takes (nvml, handle) and returns a float.
READINGS: list[tuple[str, str, str, Callable[[Any, Any], float]]] = [
    ("gpu_utilization_percent", "%", "time a kernel was running",
     lambda n, h: float(n.nvmlDeviceGetUtilizationRates(h).gpu)),
    ("gpu_memory_utilization_percent", "%", "time memory was being read or written",
     lambda n, h: float(n.nvmlDeviceGetUtilizationRates(h).memory)),
    ("gpu_memory_used_bytes", "B", "device memory in use", lambda n, h: float(n.nvmlDeviceGetMemoryInfo(h).used)),
    ("gpu_memory_total_bytes", "B", "device memory", lambda n, h: float(n.nvmlDeviceGetMemoryInfo(h).total)),
    ("gpu_temperature_celsius", "°C", "core temperature",
     lambda n, h: float(n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU))),
    ("gpu_power_watts", "W", "board power draw", lambda n, h: n.nvmlDeviceGetPowerUsage(h) / 1000.0),
]


def _load_nvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:  # pragma: no cover - nvidia-ml-py is a dependency
        raise SourceUnavailable(f"GPU source: nvidia-ml-py is not installed ({exc})") from None
    return pynvml


def gpu_status(nvml: Any = None) -> str | None:
    """None when NVML finds at least one GPU here, else the reason it does not."""
    try:
        nvml = nvml or _load_nvml()
        nvml.nvmlInit()
    except SourceUnavailable as exc:
        return str(exc)
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return f"NVML is not available here: {exc or type(exc).__name__}"
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except Exception as exc:
        return f"NVML could not count GPUs: {exc}"
    finally:
        nvml.nvmlShutdown()
    return None if count > 0 else "NVML found no GPU"


@source_type("gpu")
class GpuSource(Source):
    """Per-GPU readings through NVML."""

    interval = param.Number(default=1.0, bounds=(0.05, 3600), doc="Seconds between two readings.")

    def __init__(self, nvml: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self._nvml = nvml
        self._readers: list[tuple[SeriesKey, Any, Callable[[Any, Any], float]]] = []
        self._open = False

    async def _initialize(self) -> None:
        await asyncio.to_thread(self._open_nvml)

    def _open_nvml(self) -> None:
        reason = None
        nvml = self._nvml = self._nvml or _load_nvml()
        try:
            nvml.nvmlInit()
        except Exception as exc:
            reason = f"NVML is not available here: {exc or type(exc).__name__}"
        if reason:
            raise SourceUnavailable(f"{self.name}: {reason}")
        self._open = True
        count = int(nvml.nvmlDeviceGetCount())
        if count == 0:
            raise SourceUnavailable(f"{self.name}: NVML found no GPU")
        self._readers = []
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            model = _text(nvml.nvmlDeviceGetName(handle))
            for metric, unit, help_text, read in READINGS:
                try:
                    read(nvml, handle)
                except Exception:  # NVMLError_NotSupported and kin: this board lacks the reading
                    continue
                key = self.declare(metric, unit, "gauge", help_text, gpu=index, model=model)
                self._readers.append((key, handle, read))

    async def _collect(self) -> Batch:
        values = await asyncio.to_thread(self._read)
        return self.make_batch(time.time(), values)

    def _read(self) -> dict[SeriesKey, float]:
        out = {}
        for key, handle, read in self._readers:
            try:
                out[key] = read(self._nvml, handle)
            except Exception:  # a reading failing now (GPU fell off the bus): a gap for it, not for all
                out[key] = float("nan")
        return out

    async def _shutdown(self) -> None:
        if self._open:
            self._open = False
            await asyncio.to_thread(self._nvml.nvmlShutdown)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
