"""Synthetic signals at a chosen rate: for demos, load tests and the streaming benchmarks.

Each collection returns every sample scheduled since the last one, at exact times ``start + i / rate``
(wall clock), so a sample's time is when it was due: a viewer that draws it later than that is late by
exactly the difference. Values are smooth waves with a little deterministic noise, one series per
``wave`` label.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import param

from ..metrics.model import Batch, SeriesKey
from .base import Source, source_type


def waves(index: np.ndarray, rate: float, start: float, series: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``index`` (float array) of ``series`` waves at ``rate``: (times, values[series, n])."""
    t = start + index / rate
    phase = (index / rate)[None, :] * (2 * np.pi / 10.0)
    k = np.arange(series, dtype=np.float64)[:, None]
    noise = (np.sin(index * 12.9898 + k * 78.233) * 43758.5453) % 1.0
    return t, 50.0 + 40.0 * np.sin(phase * (k + 1) + k) + 5.0 * noise


@source_type("synthetic")
class SyntheticSource(Source):
    """``series`` waves sampled ``rate`` times per second each."""

    interval = param.Number(default=0.05, bounds=(0.01, 3600), doc="Seconds between two collections.")

    rate = param.Number(default=10.0, bounds=(0.1, 10_000_000), doc="Samples per second of each series.")

    series_count = param.Integer(default=4, bounds=(1, 256), doc="How many series (waves) to produce.")

    metric = param.String(default="synthetic", doc="Metric name of the series (each has a `wave` label).")

    max_batch = param.Integer(
        default=1_000_000, bounds=(1, None),
        doc="Most samples per series in one collection; older due samples are skipped (and counted).")

    def __init__(self, clock: Any = time.time, start: float | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._clock = clock
        self._keys: tuple[SeriesKey, ...] = ()
        self._start = start  # wall time of sample 0 (the time of opening by default)
        self._next = 0  # index of the next sample due
        self.skipped = 0

    async def _initialize(self) -> None:
        self.series.clear()
        self._keys = tuple(self.declare(self.metric, help="a synthetic wave", wave=str(i))
                           for i in range(self.series_count))
        if self._start is None:
            self._start = self._clock()
        self._next = max(self._next, math.floor((self._clock() - self._start) * self.rate))

    async def _collect(self) -> Batch:
        due = math.floor((self._clock() - (self._start or 0.0)) * self.rate) + 1
        first = max(self._next, due - self.max_batch)
        self.skipped += first - self._next
        self._next = max(self._next, due)
        t, values = waves(np.arange(first, due, dtype=np.float64), self.rate, self._start, len(self._keys))
        return Batch(self.name, self._keys, t, values, self.series)
