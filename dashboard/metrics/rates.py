"""Counters turned into per-second rates, with counter resets handled.

A counter only grows; its rate over an interval is ``(v1 - v0) / (t1 - t0)``. When a counter goes *down*
the process behind it restarted (or the counter wrapped): as Prometheus does, the increase over that
interval is taken to be the new value itself. The first sample of a series has no rate (NaN), and a NaN
sample (a gap) resets the history so no rate is computed across an outage.
"""

from __future__ import annotations

import numpy as np

from .model import Batch, SeriesInfo, SeriesKey


class RateConverter:
    """Keeps the last raw sample of each counter and converts batches of raw counters into rates."""

    def __init__(self) -> None:
        self._last: dict[SeriesKey, tuple[float, float]] = {}
        self.resets = 0

    def convert(self, batch: Batch) -> Batch:
        """The same batch with every counter series (per ``batch.info``) replaced by its rate."""
        counters = [i for i, k in enumerate(batch.keys) if batch.info.get(k, SeriesInfo()).kind == "counter"]
        if not counters or len(batch) == 0:
            return batch
        values = batch.values.copy()
        for i in counters:
            values[i] = self._rate(batch.keys[i], batch.time, batch.values[i])
        return Batch(batch.source, batch.keys, batch.time, values, batch.info)

    def _rate(self, key: SeriesKey, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        prev_t, prev_v = self._last.get(key, (np.nan, np.nan))
        times = np.concatenate(([prev_t], t))
        raw = np.concatenate(([prev_v], v))
        increase = np.diff(raw)
        reset = increase < 0
        self.resets += int(reset.sum())
        increase = np.where(reset, raw[1:], increase)
        dt = np.diff(times)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(dt > 0, increase / dt, np.nan)
        self._last[key] = (float(t[-1]), float(v[-1]))
        return rate

    def forget(self, key: SeriesKey | None = None) -> None:
        """Drop the history of ``key`` (or of every series), e.g. after an outage."""
        if key is None:
            self._last.clear()
        else:
            self._last.pop(key, None)
