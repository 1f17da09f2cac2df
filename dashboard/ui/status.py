"""``SourceStatus``: a table of every source's connection state, last sample and last error.

The table is a Bokeh ``Div`` of HTML built here, and every string in it (source names, states, error
messages: all of which can come from a remote peer) is escaped with :func:`html.escape` at this one
boundary. (Bokeh's ``DataTable`` would escape too, but in Bokeh 3.9 its grid does not redraw when its
source's data change.) It refreshes when a source changes state (the service publishes a ``SourceEvent``)
and at most every ``refresh_seconds`` otherwise.
"""

from __future__ import annotations

import html
import time

import param
from bokeh.models import ColumnDataSource, Div

from ..metrics.model import SeriesKey
from ..service import SourceEvent
from .base import LiveComponent
from .feed import Feed
from .flow import FILL

COLUMNS = ("source", "state", "health", "last_sample", "collections", "failures", "dropped", "last_error")
TITLES = ("source", "state", "data", "last sample", "collections", "failures", "dropped", "last error")
#: Counters of what a source could not keep (samples over a series cap, unreadable rows, left-out series).
DROPPED = ("overflow", "dropped_series", "dropped_rows")

_STYLE = (
    "<style>table.dashboard-status{border-collapse:collapse;font:13px sans-serif;width:100%}"
    ".dashboard-status th,.dashboard-status td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}"
    ".dashboard-status td.state-connected{color:#2ca02c;font-weight:bold}"
    ".dashboard-status td.state-retrying,.dashboard-status td.state-connecting{color:#ff7f0e;font-weight:bold}"
    ".dashboard-status td.state-circuit_open,.dashboard-status td.state-error{color:#d62728;font-weight:bold}"
    ".dashboard-status td.health-error{color:#d62728}.dashboard-status td.health-no-data{color:#7f7f7f}</style>"
)


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    return f"{max(0.0, now - t):.0f} s ago"


def _history_row(data: dict[str, list[str]], status: dict) -> None:
    """The history's row: ``ok`` or ``error``, bytes on disk, samples kept in memory only, the error."""
    state = status["state"]
    error = state.removeprefix("error: ") if state.startswith("error: ") else ""
    health = f"{sum(status['bytes'].values()) / 1e6:.1f} MB on disk"
    if status.get("backlog_segments"):
        health += f", {status['backlog_segments']} log segment(s) to convert ({status['backlog_seconds']:.0f} s)"
    values = {"source": "history", "state": "error" if error else state,
              "health": health,
              "last_sample": "", "collections": str(status["samples_written"]), "failures": "",
              "dropped": str(status["samples_lost"]), "last_error": error}
    for column in COLUMNS:
        data[column].append(values[column])


def render_rows(rows: dict[str, list[str]]) -> str:
    """The HTML table of ``rows``; every cell is escaped."""
    head = "".join(f"<th>{html.escape(t)}</th>" for t in TITLES)
    body = []
    for i in range(len(rows["source"])):
        cells = []
        for column in COLUMNS:
            value = html.escape(rows[column][i], quote=True)
            css = ""
            if column in ("state", "health"):
                css = f' class="{column}-{html.escape(rows[column][i].replace(" ", "-"), quote=True)}"'
            cells.append(f"<td{css}>{value}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'{_STYLE}<table class="dashboard-status"><tr>{head}</tr>{"".join(body)}</table>'


class SourceStatus(LiveComponent):
    """State, last sample and last error of each source of the service."""

    min_height = param.Integer(default=120, bounds=(0, 4000), allow_None=True,
                               doc="Least height in pixels (the table grows with its sources).")

    refresh_seconds = param.Number(default=1.0, bounds=(0.05, 60),
                                   doc="Longest time between two refreshes while data flows.")

    def rows(self, now: float | None = None) -> dict[str, list[str]]:
        """The table's columns as lists of strings (what the viewer shows, before escaping)."""
        now = time.time() if now is None else now
        data: dict[str, list[str]] = {c: [] for c in COLUMNS}
        for source in self.service.sources.values():
            data["source"].append(source.name)
            data["state"].append(source.connection)
            data["health"].append(source.health)
            data["dropped"].append(str(sum(getattr(source, name, 0) for name in DROPPED)))
            data["last_sample"].append(_ago(source.last_success, now))
            data["collections"].append(str(source.collections))
            data["failures"].append(str(source.failures))
            data["last_error"].append(source.last_error)
        engine = self.service._alert_engine
        for receiver in engine.receivers.values() if engine is not None else ():
            row = receiver.status()
            for column in COLUMNS:
                value = row.get(column, "")
                data[column].append(_ago(value, now) if column == "last_sample" else str(value))
        if self.service.history is not None:
            _history_row(data, self.service.history.status())
        return data

    def _build(self, feed: Feed) -> _StatusView:
        return _StatusView(self)


class _StatusView:
    """One viewer's status table."""

    while_paused = True  # it shows state, not data: it follows source events while the viewer is paused

    def __init__(self, component: SourceStatus) -> None:
        self.component = component
        self.model = Div(text=render_rows(component.rows()), disable_math=True, stylesheets=[FILL])  # $$..$$ stays text
        self._last_refresh = time.monotonic()

    def accepts(self, key: SeriesKey) -> bool:
        return False

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        raise AssertionError("SourceStatus shows no series")

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        now = time.monotonic()
        if not events and now - self._last_refresh < self.component.refresh_seconds:
            return
        self._last_refresh = now
        text = render_rows(self.component.rows())
        if text != self.model.text:
            self.model.text = text
