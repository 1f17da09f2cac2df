"""``SourceStatus``: a table of every source's connection state, last sample and last error.

The table is a Bokeh ``DataTable`` whose ``StringFormatter`` writes cells as text nodes, so an error
message or source name carrying markup is shown literally. It refreshes when a source changes state
(the service publishes a ``SourceEvent``) and at most once a second otherwise.
"""

from __future__ import annotations

import time

import param
from bokeh.models import ColumnDataSource, DataTable, StringFormatter, TableColumn

from ..metrics.model import SeriesKey
from ..service import SourceEvent
from .base import LiveComponent
from .feed import Feed

COLUMNS = ("source", "state", "last_sample", "collections", "failures", "last_error")


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    return f"{max(0.0, now - t):.1f} s ago"


class SourceStatus(LiveComponent):
    """State, last sample and last error of each source of the service."""

    height = param.Integer(default=140, bounds=(60, 2000), doc="Height in pixels.")

    refresh_seconds = param.Number(default=1.0, bounds=(0.05, 60),
                                   doc="Longest time between two refreshes while data flows.")

    def rows(self, now: float | None = None) -> dict[str, list[str]]:
        """The table's columns as lists of strings (what the viewer shows)."""
        now = time.time() if now is None else now
        data: dict[str, list[str]] = {c: [] for c in COLUMNS}
        for source in self.service.sources.values():
            data["source"].append(source.name)
            data["state"].append(source.connection)
            data["last_sample"].append(_ago(source.last_success, now))
            data["collections"].append(str(source.collections))
            data["failures"].append(str(source.failures))
            data["last_error"].append(source.last_error)
        return data

    def _build(self, feed: Feed) -> _StatusView:
        return _StatusView(self)


class _StatusView:
    """One viewer's status table."""

    def __init__(self, spec: SourceStatus) -> None:
        self.spec = spec
        self.source = ColumnDataSource(data=spec.rows())
        state_formatter = StringFormatter(font_style="bold")
        columns = [
            TableColumn(field="source", title="source", width=120),
            TableColumn(field="state", title="state", width=110, formatter=state_formatter),
            TableColumn(field="last_sample", title="last sample", width=110),
            TableColumn(field="collections", title="collections", width=90),
            TableColumn(field="failures", title="failures", width=80),
            TableColumn(field="last_error", title="last error", width=400),
        ]
        self.model = DataTable(source=self.source, columns=columns, index_position=None,
                               height=spec.height, sizing_mode="stretch_width", selectable=False,
                               sortable=False)
        self._last_refresh = time.monotonic()

    def accepts(self, key: SeriesKey) -> bool:
        return False

    def add_series(self, key: SeriesKey, source: ColumnDataSource, column: str) -> None:
        raise AssertionError("SourceStatus shows no series")

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        now = time.monotonic()
        if not events and now - self._last_refresh < self.spec.refresh_seconds:
            return
        self._last_refresh = now
        rows = self.spec.rows()
        if rows != dict(self.source.data):
            self.source.data = rows
