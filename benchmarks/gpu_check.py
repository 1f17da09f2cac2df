"""GPU source check on a machine with an NVIDIA GPU: real NVML readings for a minute while a load runs.

    python benchmarks/gpu_check.py [--seconds 60] [--load-from 15 --load-to 45]

Opens :class:`dashboard.sources.gpu.GpuSource` (the code the dashboard runs), collects once a second, and
in the middle of the minute runs a matrix-multiply load on GPU 0 with torch (when torch is installed).
Prints one line per reading and a summary that compares utilization, power and memory with and without
the load; exits 1 if NVML finds no GPU, if a reading is missing or outside its physical range, or if the
load did not show in utilization. The output of a run is kept in ``benchmarks/results/gpu_check.txt``.

It imports only the GPU source and what it needs (numpy, param, nvidia-ml-py), not the whole package, so
that it runs on a GPU machine with only those installed (``--wheels DIR`` adds pure-Python wheels there).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_gpu_module() -> types.ModuleType:
    """``dashboard.sources.gpu`` without running the package's ``__init__`` (which loads panel, pandas...)."""
    for name in ("dashboard", "dashboard.core", "dashboard.metrics", "dashboard.sources"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(ROOT / name.replace(".", "/"))]
            sys.modules[name] = package
    return importlib.import_module("dashboard.sources.gpu")


def _load(stop: threading.Event, started: threading.Event) -> str:
    try:
        import torch
    except ImportError:
        return "torch is not installed: no load"
    if not torch.cuda.is_available():
        return "torch sees no CUDA device: no load"
    a = torch.randn(8192, 8192, device="cuda:0")
    b = torch.randn(8192, 8192, device="cuda:0")
    started.set()
    n = 0
    while not stop.is_set():
        a = (a @ b).tanh_()
        n += 1
        if n % 8 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return f"torch: {n} matmuls of 8192x8192 on {torch.cuda.get_device_name(0)}"


RANGES = {
    "gpu_utilization_percent": (0, 100),
    "gpu_memory_utilization_percent": (0, 100),
    "gpu_temperature_celsius": (5, 110),
    "gpu_power_watts": (1, 2000),
    "gpu_memory_used_bytes": (0, 1 << 44),
    "gpu_memory_total_bytes": (1 << 30, 1 << 44),
}


async def run(seconds: float, load_from: float, load_to: float) -> int:
    gpu = _load_gpu_module()
    reason = gpu.gpu_status()
    print(f"gpu_status(): {reason or 'a GPU is here'}")
    if reason:
        return 1
    source = gpu.GpuSource(interval=1.0)
    await source.initialize()
    keys = list(source.series)
    print(f"series declared: {len(keys)}")
    for key in keys:
        print(f"  {key}  [{source.series[key].unit}]")
    stop, started = threading.Event(), threading.Event()
    load_result: list[str] = []
    loader = threading.Thread(target=lambda: load_result.append(_load(stop, started)), daemon=True)
    rows: list[tuple[float, bool, dict]] = []
    t0 = time.monotonic()
    try:
        while (elapsed := time.monotonic() - t0) < seconds:
            if elapsed >= load_from and not loader.is_alive() and not load_result:
                loader.start()
            if elapsed >= load_to:
                stop.set()
            batch = await source.collect()
            loaded = started.is_set() and not stop.is_set()
            values = {k: float(batch.values[i, 0]) for i, k in enumerate(batch.keys)}
            rows.append((elapsed, loaded, values))
            print(f"t={elapsed:5.1f}s load={'yes' if loaded else 'no ':3} " + "  ".join(
                f"{k.name.removeprefix('gpu_')}[{k.label('gpu')}]={v:,.1f}" for k, v in values.items()
                if k.label("gpu") == "0"))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - elapsed)))
    finally:
        stop.set()
        if loader.is_alive():
            loader.join(timeout=30)
        await source.shutdown()
    print(load_result[0] if load_result else "no load ran")
    return summarize(rows, keys)


def _median(xs: list[float]) -> float:
    return xs[len(xs) // 2] if xs else float("nan")


def summarize(rows: list[tuple[float, bool, dict]], keys: list) -> int:
    problems = []
    for _t, _loaded, values in rows:
        for key in keys:
            low, high = RANGES.get(key.name, (float("-inf"), float("inf")))
            v = values.get(key)
            if v is None or not (low <= v <= high):
                problems.append(f"{key} = {v} outside [{low}, {high}]")
    util = [k for k in keys if k.name == "gpu_utilization_percent" and k.label("gpu") == "0"]
    print("\nsummary (GPU 0, median of the readings)")
    for key in [k for k in keys if k.label("gpu") == "0"]:
        idle = sorted(v[key] for _t, loaded, v in rows if not loaded and key in v)
        busy = sorted(v[key] for _t, loaded, v in rows if loaded and key in v)
        print(f"  {key.name:34s} idle {_median(idle):>14,.1f}   under load {_median(busy):>14,.1f}")
    if util:
        busy = sorted(v[util[0]] for _t, loaded, v in rows if loaded)
        if busy and busy[len(busy) // 2] < 50:
            problems.append(f"utilization under load was {busy[len(busy) // 2]:.0f}%, expected >= 50%")
    print(f"readings: {len(rows)}; problems: {len(problems)}")
    for p in problems[:20]:
        print(f"  {p}")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--load-from", type=float, default=15.0)
    parser.add_argument("--load-to", type=float, default=45.0)
    parser.add_argument("--wheels", default=None, help="a folder of pure-Python wheels to import from")
    args = parser.parse_args()
    if args.wheels:
        sys.path[:0] = [str(p) for p in Path(args.wheels).glob("*.whl")]
    raise SystemExit(asyncio.run(run(args.seconds, args.load_from, args.load_to)))


if __name__ == "__main__":
    main()
