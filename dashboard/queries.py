"""The service's queries for notebooks and routes: its series, its samples as pandas, its sources' status and
a snapshot (a mixin of :class:`~dashboard.service.MetricsService`, which has ``store``, ``sources`` and
``window``). Read-only: nothing here writes to the store."""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd

from .metrics.frames import to_epoch, to_frame
from .metrics.model import SeriesKey


class Querying:
    """What a notebook asks the service (a mixin)."""

    store: Any
    sources: dict[str, Any]
    window: float

    def keys(self, metric: str | None = None, source: str | None = None, **labels: str) -> list[SeriesKey]:
        """Known series, filtered by metric name, source and label values."""
        return [k for k in self.store.keys(metric, source) if k.matches(labels=labels)]

    def frame(self, metric: str | None = None, seconds: float | None = None, wide: bool = False,
              source: str | None = None, start: Any = None, end: Any = None, columns: int | None = None,
              **labels: str) -> pd.DataFrame:
        """Samples as a pandas DataFrame: tidy (time, metric, labels, value) or ``wide``. The store's window
        (or the last ``seconds``) by default; with ``start`` and/or ``end`` (epoch seconds, ISO 8601 text or
        a datetime) every stored sample in that range, both ends included: exactly what a plot zoomed to
        that range is drawn from; with ``columns`` too, what it draws (min and max per pixel column, where
        ``frame.attrs["grid"]`` says)."""
        bounds = {"start": None if start is None else to_epoch(start), "end": None if end is None else to_epoch(end)}
        return to_frame(self.store, self.keys(metric, source, **labels), seconds, wide, columns=columns, **bounds)

    def snapshot(self, path: Any, start: Any = None, end: Any = None, window: float | None = None) -> Any:
        """Write a snapshot of this service's default dashboard (:meth:`MetricsDashboard.save
        <dashboard.ui.layout.MetricsDashboard.save>`: one HTML file that opens offline); the path."""
        layout = importlib.import_module("dashboard.ui.layout")  # the layer above, loaded when asked for
        system = any(type(s).__name__ == "SystemSource" for s in self.sources.values())
        if window is None and start is None and end is None:
            window = self.window
        return layout.MetricsDashboard(service=self, system=system).save(path, start, end, window)

    def status(self) -> pd.DataFrame:
        """One row per source: state, reason, last success and error, counts."""
        return pd.DataFrame([s.status() for s in self.sources.values()])
