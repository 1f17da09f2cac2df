"""The view's controls: Panel widgets bound to a dashboard's view params, the same in a notebook and a page.

Window, back to live (shown while a range is held, with that range), pause, refresh rate, time zone and
theme. Each widget writes its param and follows it, so a change made in Python (``dash.window = 3600``), by
a zoom in a plot or by the URL shows in the controls too. A served page puts them in its template's header
(:mod:`dashboard.ui.page`); a notebook shows them above the plots.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import panel as pn

from ..units import format_duration, time_zones
from ..viewurl import check_zone
from .flow import escape_markdown, wrap

#: The windows the selector offers (any other is added while it is in use).
WINDOWS = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "1 h": 3600.0, "6 h": 21600.0, "24 h": 86400.0,
           "7 d": 604800.0}

#: The refresh rates the selector offers (seconds; 0 as fast as the feed allows, "off" never).
REFRESH = {"auto": 0.0, "1 s": 1.0, "5 s": 5.0, "30 s": 30.0, "off": -1.0}


def window_options(current: float) -> dict[str, float]:
    """The window selector's choices, with ``current`` among them."""
    options = dict(WINDOWS)
    if current not in options.values():
        options[format_duration(current)] = current
    return dict(sorted(options.items(), key=lambda item: item[1]))


def format_range(start: float, end: float, timezone: str | None) -> str:
    """``start`` to ``end`` (epoch seconds) as text in ``timezone`` (the machine's when None)."""
    zone = zoneinfo.ZoneInfo(timezone) if timezone else None
    a = dt.datetime.fromtimestamp(start, zone).astimezone(zone)
    b = dt.datetime.fromtimestamp(end, zone).astimezone(zone)
    fmt = "%H:%M:%S" if b - a < dt.timedelta(days=1) and a.date() == b.date() else "%Y-%m-%d %H:%M:%S"
    return f"{a:%Y-%m-%d %H:%M:%S} to {b.strftime(fmt)} {b.strftime('%Z')}"


class ViewControls:
    """The widgets of one dashboard's view params."""

    def __init__(self, dash: Any) -> None:
        """Controls of ``dash`` (a :class:`~dashboard.ui.layout.MetricsDashboard`)."""
        self.dash = dash
        seconds = dash.window or dash.service.window
        self.window = pn.widgets.Select(label="Window", options=window_options(seconds), value=seconds, width=100,
                                        css_classes=["dashboard-window"])
        self.live = pn.widgets.Button(label="Back to live", color="primary", width=110,
                                      visible=not dash.live, css_classes=["dashboard-live"])
        self.held = pn.widgets.StaticText(value="", visible=not dash.live, css_classes=["dashboard-held"])
        self.pause = pn.widgets.Toggle.from_param(dash.param.paused, label=_pause_label(dash.paused), width=80,
                                                  css_classes=["dashboard-pause"])
        self.refresh = pn.widgets.Select(label="Refresh", options=REFRESH, value=_refresh_value(dash.refresh),
                                         width=80, css_classes=["dashboard-refresh"])
        # not restricted to the list: the box commits what was typed on Enter and on leaving it, and an unknown
        # zone is refused with a warning (a restricted box silently drops it)
        self.timezone = pn.widgets.AutocompleteInput(
            label="Time zone", options=sorted(time_zones()), value=dash.timezone or "",
            placeholder="browser's", restrict=False, case_sensitive=False, min_characters=1, width=150,
            css_classes=["dashboard-timezone"])
        self.zone_error = pn.pane.Alert("", alert_type="warning", visible=False, margin=(0, 5),
                                        css_classes=["dashboard-timezone-error"])
        self.theme = pn.widgets.Select.from_param(dash.param.theme, label="Theme", width=80,
                                                  css_classes=["dashboard-theme"])
        self._following = False  # set while the widgets show the params (their events are not the user's)
        self.window.param.watch(self._window_chosen, "value")
        self.live.on_click(lambda _event: setattr(dash, "live", True))
        self.refresh.param.watch(lambda e: self._set(refresh=None if e.new < 0 else e.new), "value")
        self.timezone.param.watch(self._zone_chosen, "value")
        dash.param.watch(self._follow, ["window", "live", "start", "end", "refresh", "timezone", "paused"])
        self._follow()

    def widgets(self) -> list[Any]:
        return [self.held, self.live, self.window, self.refresh, self.pause, self.timezone, self.theme,
                self.zone_error]

    def row(self) -> pn.Row:
        """The controls in one row that wraps on a narrow screen."""
        return wrap(*self.widgets(), css_classes=["dashboard-controls"])

    def _set(self, **values: Any) -> None:
        if not self._following:
            self.dash.param.update(**values)

    def _zone_chosen(self, event: Any) -> None:
        """A zone typed or picked: applied if it is one (as the URL's ``tz``), else refused with a warning
        naming it, the box back at the zone in use."""
        if self._following:
            return
        zone = event.new.strip()
        try:
            zone = check_zone(zone) if zone else ""
        except ValueError as exc:
            self.zone_error.object = escape_markdown(f"tz: {exc}")
            self.zone_error.visible = True
            self._follow()
            return
        self.zone_error.visible = False
        self._set(timezone=zone or None)

    def _window_chosen(self, event: Any) -> None:
        if self._following:
            return
        if event.new != (self.dash.window or self.dash.service.window) or not self.dash.live:
            self.dash.window = event.new

    def _follow(self, *_events: Any) -> None:
        """Show the dashboard's params."""
        self._following = True
        try:
            self._show(self.dash)
        finally:
            self._following = False

    def _show(self, dash: Any) -> None:
        seconds = dash.window or dash.service.window
        if seconds not in self.window.options.values():
            self.window.options = window_options(seconds)
        self.window.value = seconds
        self.live.visible = self.held.visible = not dash.live
        if not dash.live and dash.start is not None and dash.end is not None:
            self.held.value = f"Held: {format_range(dash.start, dash.end, dash.timezone)}"
        self.refresh.value = _refresh_value(dash.refresh)
        self.timezone.value = dash.timezone or ""
        self.pause.name = _pause_label(dash.paused)


def _pause_label(paused: bool) -> str:
    return "Resume" if paused else "Pause"


def _refresh_value(refresh: float | None) -> float:
    if refresh is None:
        return -1.0
    return refresh if refresh in REFRESH.values() else 0.0
