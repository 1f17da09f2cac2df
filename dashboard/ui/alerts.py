"""Alerts where the data is: :class:`AlertList` (state, since, summary, value of each alert, and page
notifications when one fires or resolves) and :class:`AlertMarks` (a plot's thresholds as dashed lines,
and the time each of its alerts was pending as a light band and firing as a strong one, drawn like the
outage bands, from the ``ALERTS`` series).

Every string here can come from a source (label values reach summaries): the list is HTML built with
:func:`html.escape` in a ``Div`` that never typesets ``$$...$$``; notifications (Panel renders their
message as HTML) get escaped text; the bands' hover fields are escaped by Bokeh.
"""

from __future__ import annotations

import html
import logging
import math
import time
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Div, HoverTool, HSpan, Quad

from ..alerts.engine import AlertEvent
from ..alerts.rules import alerts_key
from ..metrics.model import SeriesKey
from ..units import format_value
from .base import LiveComponent
from .feed import Feed
from .flow import FILL
from .glyphs import bare

log = logging.getLogger("dashboard.alerts")

COLUMNS = ("state", "since", "name", "summary", "value", "severity")
_STYLE = (
    "<style>table.dashboard-alerts{border-collapse:collapse;font:13px sans-serif;width:100%}"
    ".dashboard-alerts th,.dashboard-alerts td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}"
    ".dashboard-alerts td.state-firing{color:#d62728;font-weight:bold}"
    ".dashboard-alerts td.state-pending{color:#ff7f0e;font-weight:bold}"
    ".dashboard-alerts td.state-resolved{color:#2ca02c}</style>"
)
#: Band colours and opacities: pending light, firing strong.
BANDS = {"pending": ("#ff7f0e", 0.12), "firing": ("#d62728", 0.3)}


class AlertList(LiveComponent):
    """The service's alerts (not inactive ones), newest change first; notifications on the page when one
    fires or resolves (``notify``)."""

    min_height = param.Integer(default=40, bounds=(0, 4000), allow_None=True, doc="Least height in pixels.")

    notify = param.Boolean(default=True, doc="Show a page notification when an alert fires or resolves.")

    def rows(self, now: float | None = None) -> list[dict[str, str]]:
        """The list's rows as strings (before escaping)."""
        now = time.time() if now is None else now
        engine = self.service._alert_engine
        alerts = engine.alerts() if engine is not None else []
        alerts.sort(key=lambda a: -a.machine.since)
        return [{"state": a.state.value, "since": _ago(a.machine.since, now), "name": a.rule.name,
                 "summary": a.summary, "value": self._value(a.key, a.value), "severity": a.rule.severity}
                for a in alerts]

    def _value(self, key: SeriesKey, value: float) -> str:
        """An alert's value as the plot of its metric shows it: in the series' unit, formatted alike."""
        if math.isnan(value):
            return ""
        store = self.service.store
        return format_value(value, store.info(key).unit if key in store else "")

    def _build(self, feed: Feed) -> _AlertListView:
        return _AlertListView(self)


def render_alerts(rows: list[dict[str, str]], rules: bool = True) -> str:
    """The HTML table of ``rows``; every cell is escaped (nothing at all without ``rules``)."""
    if not rules:
        return ""
    if not rows:
        return '<div class="dashboard-alerts-none" style="font:13px sans-serif;color:#777">No alerts.</div>'
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}-{html.escape(r[c], quote=True)}">{html.escape(r[c])}</td>'
                         for c in COLUMNS) + "</tr>" for r in rows)
    return f'{_STYLE}<table class="dashboard-alerts"><tr>{head}</tr>{body}</table>'


class _AlertListView:
    """One viewer's alert list, and its page's notifications."""

    while_paused = True  # state, not data

    def __init__(self, component: AlertList) -> None:
        self.component = component
        self.model = Div(text=self._text(), disable_math=True, sizing_mode="stretch_width", stylesheets=[FILL])
        self.notifications = pn.state.notifications if component.notify else None  # this viewer's, if any
        self._last = time.monotonic()

    def accepts(self, key: SeriesKey) -> bool:
        return False

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        raise AssertionError("AlertList shows no series")

    def refresh(self, feed: Feed, events: list[Any]) -> None:
        changes = [e for e in events if isinstance(e, AlertEvent)]
        now = time.monotonic()
        if not changes and now - self._last < 1.0:
            return
        self._last = now
        text = self._text()
        if text != self.model.text:
            self.model.text = text
        for event in changes:
            self._notify(event)

    def _text(self) -> str:
        engine = self.component.service._alert_engine
        return render_alerts(self.component.rows(), rules=engine is not None and bool(engine.groups))

    def _notify(self, event: AlertEvent) -> None:
        area = self.notifications
        if area is None or event.state not in ("firing", "resolved"):
            return
        message = html.escape(f"{event.name} {event.state}: {event.summary}")  # Panel renders it as HTML
        try:
            if event.state == "firing":
                area.error(message, duration=10_000)
            else:
                area.success(message, duration=5_000)
        except Exception:  # a page that went away: its notifications with it
            log.debug("alerts: notification not shown", exc_info=True)


class AlertMarks:
    """A plot's alert thresholds (dashed lines) and pending/firing bands (on the outage bands' 0-1 range)."""

    def __init__(self, fig: Any) -> None:
        self.lines = ColumnDataSource(data={"y": np.empty(0)})
        bare(fig, self.lines, HSpan(y="y", line_color="#d62728", line_dash="dashed", line_width=1, line_alpha=0.7))
        self.bands = ColumnDataSource(data={"x0": np.empty(0), "x1": np.empty(0), "color": [], "alpha": [],
                                            "text": []})
        band = bare(fig, self.bands, Quad(left="x0", right="x1", bottom=0, top=1, fill_color="color",
                                          fill_alpha="alpha", line_alpha=0), y_range_name="outages", level="underlay")
        fig.add_tools(HoverTool(renderers=[band], tooltips=[("alert", "@text")], description="Alerts",
                                name="alerts"))
        self.drawn: tuple[int, Any] = (-1, None)
        self.open: list[int] = []  # bands still open: their end follows the clock

    def update(self, service: Any, metric: str | None, keys: list[SeriesKey], between: tuple[float, float]) -> None:
        """Redraw when the alerts or the view changed; otherwise move the open bands' ends to now."""
        engine = service._alert_engine
        if engine is None or not keys:
            return
        mark = (engine.version, between[0] if math.isfinite(between[1]) else ("live", len(keys)))
        now = time.time()
        if mark == self.drawn:
            if self.open:
                self.bands.patch({"x1": [(i, now * 1000.0) for i in self.open]})
            return
        self.drawn = mark
        rules = [r for r in engine.rules() if r.metric == metric and any(r.matches(k) for k in keys)]
        self.lines.data = {"y": np.array(sorted({y for r in rules for y in r.threshold()}), dtype=float)}
        bands: dict[str, list[Any]] = {"x0": [], "x1": [], "color": [], "alpha": [], "text": []}
        self.open = []
        active = {(a.rule.name, a.key, a.state.value) for a in engine.alerts()}
        for rule in rules:
            for key in (k for k in keys if rule.matches(k)):
                for state, (colour, alpha) in BANDS.items():
                    alert_key = alerts_key(rule.name, key, state)
                    on = (rule.name, key, state) in active
                    for start, end in _intervals(service.store, alert_key, between, now, on):
                        if end == now:
                            self.open.append(len(bands["x0"]))
                        bands["x0"].append(start * 1000.0)
                        bands["x1"].append(end * 1000.0)
                        bands["color"].append(colour)
                        bands["alpha"].append(alpha)
                        bands["text"].append(f"{rule.name} {state} "
                                             f"({', '.join(f'{k}={v}' for k, v in key.labels)})")
        self.bands.data = {**bands, "x0": np.array(bands["x0"], dtype=float),
                           "x1": np.array(bands["x1"], dtype=float)}


def _intervals(store: Any, key: SeriesKey, between: tuple[float, float], now: float, on: bool
               ) -> list[tuple[float, float]]:
    """The spans within ``between`` during which an ALERTS series was 1 (a span open at the end runs to
    now; one whose start is before the range starts with it; ``on``: the alert is in that state now)."""
    if key not in store:
        return []
    t, v = store.between([key], between[0], min(between[1], now))
    if not t.size:
        return [(between[0], now)] if on else []
    out: list[tuple[float, float]] = []
    start = between[0] if v.size and v[0][0] == 0.0 else None  # it was on when the range began
    for ti, vi in zip(t, v[0], strict=True):
        if vi == 1.0 and start is None:
            start = ti
        elif vi == 0.0 and start is not None:
            out.append((float(start), float(ti)))
            start = None
    if start is not None:
        out.append((float(start), now))
    return out


def _ago(t: float, now: float) -> str:
    seconds = max(0.0, now - t)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))
