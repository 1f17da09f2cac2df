"""What one viewer looks at: live (the newest ``window`` seconds) or a held time range, paused or not, and how
often it is redrawn. :class:`ViewerControls` is the part of a :class:`~dashboard.ui.feed.Feed` that changes it.

* **Live** (the default): the viewer's plots share one x range that follows the newest data, and the feed
  streams the shared, decimated rows of its topics (:mod:`dashboard.ui.topics`).
* **Held** at ``(start, end)``: every column the viewer holds is replaced by the store's rows of that range
  at pixel resolution (exact min and max per pixel column, :meth:`~dashboard.metrics.store.Store.query`),
  and nothing more is streamed to it; the other viewers' shared decimation goes on untouched. A zoom, a pan
  or a box zoom in the browser holds the range it ends on (the plot sends a ``RangesUpdate``); a range that
  reaches the newest data, the reset tool or :meth:`go_live` returns to live, with the window the range
  spanned or the viewer's window, refilled from the topics (no gap: what came meanwhile is drawn).
* **Paused**: the rows stay as they are (state views still follow); resuming draws what came meanwhile.
* **Refresh**: ``0`` redraws as fast as the feed allows, a number of seconds at most that often, ``None``
  never (as paused).

The browser side of the x range is told what to do through the range's ``tags`` (``{"live": ms}`` or
``{"hold": [start_ms, end_ms]}``), read by a small ``CustomJS``: the range is not synchronised (its every
step while following would otherwise travel back to the server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bokeh.events import RangesUpdate, Reset
from bokeh.models import CustomJS, DataRange1d, Plot

from ..config import config

log = logging.getLogger("dashboard.feed")

#: The browser's half of the shared x range: hold a range the server chose, or follow the newest data again.
RANGE_JS = """
const view = xr.tags.length ? xr.tags[0] : null
if (view == null)
  return
if (view.hold != null) {
  xr.have_updated_interactively = true
  xr.setv({start: view.hold[0], end: view.hold[1]})
} else if (xr.have_updated_interactively) {
  // a change of follow_interval makes the range follow its data again (even after a zoom)
  xr.setv({follow_interval: null})
  xr.setv({follow_interval: view.live})
}
"""


class ViewerControls:
    """The view state of a feed (mixed into :class:`~dashboard.ui.feed.Feed`, whose columns, views, hub and
    flushes it uses)."""

    columns: dict[str, Any]
    views: list[Any]
    hub: Any
    service: Any
    _shared: dict[str, Any]

    paused: bool = False
    window: float | None = None  # seconds this viewer shows while live (None: the service's window)
    held: tuple[float, float] | None = None  # the range (epoch seconds) shown instead of the live window
    refresh: float | None = 0.0  # seconds between redraws at least (0: as fast as the feed allows; None: off)
    view_changes = 0  # how often the view changed (live, held, window)

    def _init_view(self) -> None:
        self._view_listeners: list[Callable[[Any], None]] = []
        self._held_shown: tuple[float, float] | None = None  # the held range the columns hold
        self._reset_from: tuple[float, float] | None = None  # the range the reset tool left
        self._range_tag = 0

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """Whether the viewer follows the newest data (not held at a range)."""
        return self.held is None

    @property
    def view_window(self) -> float:
        """Seconds of history this viewer holds and shows while live."""
        return self.window or self.service.window

    @property
    def frozen(self) -> bool:
        """Whether the viewer's rows stay as they are (paused, held, or refresh off)."""
        return self.paused or self.held is not None or self.refresh is None

    def view_range(self) -> tuple[float, float] | None:
        """The held range (epoch seconds), or None while live."""
        return self.held

    def on_view_change(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(feed)`` after each change of the view that came from the viewer (a zoom, a pan)."""
        self._view_listeners.append(callback)

    def newest(self) -> float | None:
        """Time of the newest row this viewer's topics hold (epoch seconds)."""
        times = [sc.topic.decimator.last_time for sc in self.columns.values() if sc.topic.decimator.end]
        return max(times) if times else None

    # -- changes ---------------------------------------------------------------------------------------------
    def set_window(self, seconds: float | None) -> None:
        """Show the last ``seconds`` (None: the service's window), live: every plot of the viewer is refilled
        at once from the store, decimated for that window, and follows it from then on."""
        seconds = seconds or None
        if seconds == self.window and self.held is None:
            return
        self.window = seconds
        self.held = self._held_shown = None
        for sc in self.columns.values():
            key = next(iter(sc.columns))
            sc.retarget(self.hub.topic(sc.topic.source, key, self.view_window), self.view_window)
        if self.columns:
            self._pace()
        self.hub.prune()
        self._view_changed()

    def go_live(self) -> None:
        """Follow the newest data again: every column is refilled from its topic (what came while the view
        was held is drawn), and the x range follows the window."""
        if self.held is None:
            return
        self.held = self._held_shown = None
        for sc in self.columns.values():
            sc.reset(self.view_window)
        self._view_changed()

    def hold(self, start: float, end: float) -> None:
        """Show ``start`` to ``end`` (epoch seconds) at pixel resolution from the store, and hold it."""
        self._reset_from = None
        if not end > start:
            raise ValueError(f"hold: expected start < end, got {start} and {end}")
        if self.held == (start, end):
            return
        self.held = (float(start), float(end))
        self._view_changed()

    def set_refresh(self, seconds: float | None) -> None:
        """Redraw at most every ``seconds`` (0: as fast as the feed allows; None: never, as paused)."""
        if seconds == self.refresh:
            return
        self.refresh = seconds
        if self.columns:
            self._pace()
        self._flush_now()

    def pause(self, paused: bool = True) -> None:
        """Freeze (or, with False, resume) every plot of this viewer; collection goes on. Resuming draws
        everything collected meanwhile (as far back as the window) in one flush."""
        if paused == self.paused:
            return
        self.paused = paused
        log.debug("feed %s", "paused" if paused else "resumed")
        if not paused:
            self._flush_now()

    def browser_range(self, start_ms: float, end_ms: float) -> None:
        """A zoom or a pan in the browser ended on ``start_ms`` to ``end_ms``: hold that range, or follow
        live with that span when it reaches the newest data."""
        start, end = start_ms / 1000.0, end_ms / 1000.0
        log.debug("browser range %.3f..%.3f (held %s, reset from %s)", start, end, self.held, self._reset_from)
        if not end > start or (start, end) == self._reset_from:
            return  # a reset sends the range it left, after (or before) its own event: not a zoom
        before = self._view_state()
        newest = self.newest()
        slack = max(2 * self.flush_interval, 0.02 * (end - start))
        if newest is not None and end >= newest - slack:
            span = min(max(end - start, 1.0), 7 * 86400.0)
            if self.held is None and abs(span - self.view_window) < 0.5:
                self._signal_range()  # a pan along the newest data: keep following
                return
            self.set_window(span)
        else:
            self.hold(start, end)
        self._tell_listeners(before)

    def browser_reset(self) -> None:
        """The reset tool: back to live."""
        log.debug("browser reset (held %s)", self.held)
        before = self._view_state()
        self._reset_from = self.held
        self.go_live()
        self._tell_listeners(before)

    def _view_state(self) -> tuple[Any, ...]:
        return self.held, self.window

    def _tell_listeners(self, before: tuple[Any, ...]) -> None:
        """Call the listeners if the view changed (every plot sharing the range sends the same event)."""
        if self._view_state() != before:
            for callback in list(self._view_listeners):
                callback(self)

    # -- the shared x range -----------------------------------------------------------------------------------
    def x_range(self) -> DataRange1d:
        """The x range every plot of this viewer shares (those with a window of their own have theirs)."""
        def make() -> DataRange1d:
            xr = DataRange1d(follow="end", follow_interval=self.view_window * 1000.0, range_padding=0,
                             only_visible=True, syncable=False)
            apply = CustomJS(args={"xr": xr}, code=RANGE_JS)
            xr.js_on_change("tags", apply)
            if self.doc is not None:  # a page that opens on a held range holds it from the start
                self.doc.js_on_event("document_ready", apply)
            return xr
        return self.shared("x_range", make)

    def watch_ranges(self, plot: Plot) -> None:
        """Follow zooms, pans and resets of ``plot`` (one that shares the viewer's x range)."""
        plot.on_event(RangesUpdate, lambda event: self.browser_range(event.x0, event.x1))
        plot.on_event(Reset, lambda _event: self.browser_reset())

    def _signal_range(self) -> None:
        """Tell the browser's x range to hold the held range or to follow the window."""
        xr = self._shared.get("x_range")
        if xr is None:
            return
        self._range_tag += 1
        view: dict[str, Any] = {"n": self._range_tag}
        if self.held is not None:
            view["hold"] = [self.held[0] * 1000.0, self.held[1] * 1000.0]
        else:
            view["live"] = xr.follow_interval = self.view_window * 1000.0
        xr.tags = [view]

    def _view_changed(self) -> None:
        self.view_changes += 1
        for view in self.views:
            follow = getattr(view, "follow_window", None)
            if follow is not None:
                follow(self.view_window)
        self._range_pending = True
        self._flush_now()

    def _show_held(self) -> None:
        """Fill every column with the held range from the store, at pixel resolution (once per range)."""
        if self.held is None or self._held_shown == self.held:
            return
        start, end = self.held
        rows = sum(sc.show(self.service.store, start, end, config.resolution) for sc in self.columns.values())
        self._held_shown = self.held
        log.debug("held %.3f..%.3f: %d rows", start, end, rows)
