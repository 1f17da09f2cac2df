"""The base of live components: a ``pn.custom.PyComponent`` that builds fresh Bokeh models for every viewer.

A Bokeh model belongs to one document, so a component that is shown twice (two browser tabs, two notebook
cells, ``pn.Row(plot, plot)``) needs one set of models per viewer. :class:`LivePane` is a Bokeh pane whose
``_get_model`` asks its component to build a view for the viewer's :class:`~dashboard.ui.feed.Feed`, and
whose ``_cleanup`` (called by Panel when the session or the cell goes away) removes that view from the
feed again. Components subclass :class:`LiveComponent` and implement ``_build(feed)``.

Panel's layout params (``width``, ``height``, ``min_height``, ``sizing_mode``, ``margin``, ``visible``,
``styles``, ``css_classes``, ...) work as on any Panel component: ``PyComponent`` passes them to the pane,
the pane applies them to each viewer's model when it is built, and Panel updates the models when they
change later.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

import panel as pn
import param
from bokeh.model import Model
from bokeh.models import Div
from panel.viewable import Layoutable

from ..options import ViewOptions
from ..service import MetricsService
from ..units import time_zones
from . import transport
from .feed import Feed, LiveView

log = logging.getLogger(__name__)

#: Layout params that Panel and Bokeh name alike, passed from a pane to the models it shows.
LAYOUT = ("width", "height", "min_width", "min_height", "max_width", "max_height", "sizing_mode", "margin",
          "visible", "styles", "css_classes", "align")
#: Sizing modes that give a component its container's height (a fixed default height would fight them).
STRETCH_HEIGHT = ("stretch_both", "stretch_height", "scale_both", "scale_height")


def stretch_width() -> param.Selector:
    """A ``sizing_mode`` param that defaults to the width of the container, as a dashboard's parts do."""
    return param.Selector(default="stretch_width", objects=list(Layoutable.param.sizing_mode.objects),
                          allow_None=True, doc="How the component sizes itself (Panel's sizing modes).")


def layout_properties(pane: Any) -> dict[str, Any]:
    """The layout params ``pane`` sets (those that differ from Panel's defaults), as Bokeh properties; the
    height always (None lets a stretching model take its container's, where Bokeh's default is fixed)."""
    return {name: getattr(pane, name) for name in LAYOUT
            if name == "height" or getattr(pane, name) != Layoutable.param[name].default}


def resolve_view(component: Any, changed: set[str]) -> tuple[float, float] | None:
    """The range a component's view params ask to hold, or None for live: ``live=True`` just set wins;
    a start and an end hold them; ``live=False`` alone holds what is in view now."""
    if "live" in changed and component.live:
        return None
    if component.start is not None and component.end is not None:
        if not component.end > component.start:
            raise ValueError(f"expected start < end, got start={component.start} and end={component.end}")
        return float(component.start), float(component.end)
    if component.live:
        return None
    newest = next((n for n in (f.newest() for f in component.feeds()) if n is not None), None)
    end = newest if newest is not None else time.time()
    window = (component.view_window if hasattr(component, "view_window") else component.window) \
        or component.service.window
    return end - window, end


def show_view(component: Any, **values: Any) -> None:
    """Set ``component``'s view params to what its viewers already show: its own watchers, which would send
    them to the viewers, see ``_view_sync`` and do nothing."""
    component._view_sync = True
    try:
        component.param.update(**values)
    finally:
        component._view_sync = False


def check_timezone(name: str | None) -> None:
    """Raise a clear error unless ``name`` is None or an IANA time zone this machine knows."""
    if name is not None and name not in time_zones():
        raise ValueError(f"timezone: expected an IANA time zone name such as 'Europe/Paris', got {name!r}")


class LivePane(pn.pane.Bokeh):
    """Renders a :class:`LiveComponent` as one fresh Bokeh model per viewer."""

    priority = 0  # never chosen by pn.panel() on its own

    def __init__(self, component: LiveComponent, **params: Any) -> None:
        super().__init__(object=None, **params)
        self._component = component
        self._views: dict[str, list[tuple[Feed, LiveView]]] = {}

    @classmethod
    def applies(cls, obj: Any) -> bool:
        return False

    def _get_model(self, doc: Any, root: Model | None = None, parent: Model | None = None,
                   comm: Any = None) -> Model:
        if root is None:
            return self.get_root(doc, comm)
        if self._component.deferred and parent is not None and comm is None and doc.session_context is not None:
            return self._placeholder(doc, root, parent)
        return self._build(doc, root, parent, comm)

    def _build(self, doc: Any, root: Model, parent: Model | None, comm: Any) -> Model:
        component = self._component
        feed = Feed.attach(doc, component.service, comm)
        if component.view_window is not None:
            feed.set_window(component.view_window)
        if component.refresh != feed.refresh:
            feed.set_refresh(component.refresh)
        view = component._build(feed)
        view.model.update(**layout_properties(self))
        feed.add_view(view)
        feed.on_view_change(component._from_viewer)
        if component.paused:
            feed.pause(True)
        if not component.live and component.start is not None and component.end is not None:
            feed.hold(component.start, component.end)
        ref = root.ref["id"]
        self._views.setdefault(ref, []).append((feed, view))
        transport.register_model(self, ref, view.model, parent)
        return view.model

    def _placeholder(self, doc: Any, root: Model, parent: Model) -> Model:
        """A served page gets an empty box of the component's size at first; every such component of the
        document is built in one callback right after (:func:`_build_deferred`), so the page's first answer
        does not wait for every figure. The browser pulls the document once its websocket is open, by which
        time the figures are usually there; one that is not yet comes as a change."""
        box = Div(text="", css_classes=["dashboard-pending"], **layout_properties(self))
        ref = root.ref["id"]
        transport.register_model(self, ref, box, parent)
        pending = _deferred.setdefault(doc, [])
        if not pending:
            doc.add_next_tick_callback(lambda: _build_deferred(doc))
        pending.append((self, root, parent, box))
        return box

    def _build_placeholder(self, doc: Any, root: Model, parent: Model, box: Model) -> None:
        if self._models.get(root.ref["id"], (None,))[0] is not box:  # cleaned up, or built meanwhile
            return
        model = self._build(doc, root, parent, None)
        if not _swap_in(parent, box, model):
            log.debug("%s: placeholder no longer on the page", type(self._component).__name__)

    def feeds(self) -> list[Feed]:
        """The open feeds this pane's views are in (one per viewer)."""
        unique = {id(feed): feed for views in self._views.values() for feed, _ in views if not feed.closed}
        return list(unique.values())

    def _cleanup(self, root: Model | None = None) -> None:
        if root is not None:
            for feed, view in self._views.pop(root.ref["id"], []):
                feed.remove_view(view)
        super()._cleanup(root)


#: Placeholders waiting for their component, by document (a served page's, until its next tick).
_deferred: weakref.WeakKeyDictionary[Any, list[tuple[LivePane, Model, Model, Model]]] = weakref.WeakKeyDictionary()


def _build_deferred(doc: Any) -> None:
    """Build every component a document's placeholders stand for, in one freeze of the document: its model
    graph is recomputed once for all of them, not once per figure."""
    pending = _deferred.pop(doc, [])
    with doc.models.freeze():
        for live, root, parent, box in pending:
            live._build_placeholder(doc, root, parent, box)


def _swap_in(parent: Model, box: Model, model: Model) -> bool:
    """Put ``model`` where ``box`` is held: by ``parent`` (the layout the pane is in) or, failing that, by a
    model below it (a tab's panel); whether it was found."""
    if _swap(parent, box, model):
        return True
    return any(_swap(holder, box, model) for holder in parent.references() if holder is not parent)


def _swap(holder: Model, box: Model, model: Model) -> bool:
    """Put ``model`` where ``holder`` holds ``box`` (a layout's children, as models or grid tuples, or a
    tab's child); whether it held it."""
    props = holder.properties()  # (a missing attribute costs Bokeh a spelling suggestion: ask first)
    if "child" in props and holder.child is box:
        holder.child = model
        return True
    children = holder.children if "children" in props else None
    if not isinstance(children, list):
        return False
    held = [c for c in children if (c[0] if isinstance(c, tuple) else c) is box]
    if held:
        holder.children = [(model, *c[1:]) if isinstance(c, tuple) and c[0] is box else model if c is box else c
                           for c in children]
    return bool(held)


class LiveComponent(ViewOptions, pn.custom.PyComponent):
    """A component whose Bokeh models are built per viewer and updated by that viewer's feed."""

    service = param.ClassSelector(
        class_=MetricsService, default=None, allow_None=True,
        doc="The metrics service to show (the process's shared service by default).")

    sizing_mode = stretch_width()

    paused = param.Boolean(default=False, doc="Freeze what this component's viewers show (collection goes on); "
                                              "unpausing draws everything collected meanwhile.")

    view_window = param.Number(default=None, allow_None=True, bounds=(1, 7 * 86400),
                               doc="Seconds of history this component's viewers hold and show (None: the "
                                   "service's window); a change refills them at once from the store.")

    #: Whether a served page builds this component's models right after its first answer rather than in it
    #: (figures: the costly part of a page); cards and tables are cheap and come at once.
    deferred: bool = False

    def __init__(self, **params: Any) -> None:
        if params.get("width") is not None and "sizing_mode" not in params:
            params["sizing_mode"] = "fixed"  # a width asked for is kept (stretching would override it)
        default_height = type(self).param.height.default
        if params.get("sizing_mode") in STRETCH_HEIGHT and "height" not in params and default_height:
            params["height"] = None  # the container decides, at least the usual height
            params.setdefault("min_height", default_height)
        super().__init__(**params)
        if self.service is None:
            self.service = MetricsService.shared()
        self._pane: LivePane | None = None
        self._view_sync = False  # set while the view params follow a viewer (nothing to send back)
        self._view_observers: list[Any] = []  # called with this component after a viewer changed its view
        self.param.watch(self._view_params, ["start", "end", "live"])
        if self.start is not None and self.end is not None and "live" not in params:
            self._show_view(live=False)

    @param.depends("paused", watch=True)
    def _pause_viewers(self) -> None:
        for feed in self.feeds():
            feed.pause(self.paused)

    @param.depends("view_window", watch=True)
    def _window_viewers(self) -> None:
        for feed in self.feeds():
            feed.set_window(self.view_window)

    @param.depends("timezone", "theme", watch=True)
    def _restyle_viewers(self) -> None:
        check_timezone(self.timezone)
        if self._pane is None:
            return
        for views in self._pane._views.values():
            for _, view in views:
                restyle = getattr(view, "restyle", None)
                if restyle is not None:
                    restyle(self)

    @param.depends("refresh", watch=True)
    def _refresh_viewers(self) -> None:
        for feed in self.feeds():
            feed.set_refresh(self.refresh)

    def _view_params(self, *events: param.parameterized.Event) -> None:
        """start, end or live changed in Python: hold that range in every viewer, or go live."""
        if self._view_sync:
            return
        try:
            held = resolve_view(self, {e.name for e in events})
        except ValueError:  # refused: the params keep the view the viewers show
            self._show_view(**{e.name: e.old for e in events})
            raise
        if held is None:
            self._show_view(start=None, end=None, live=True)
        else:
            self._show_view(start=held[0], end=held[1], live=False)
        for feed in self.feeds():
            if held is None:
                feed.go_live()
            else:
                feed.hold(*held)
        for observer in list(self._view_observers):
            observer(self)

    def _from_viewer(self, feed: Feed) -> None:
        """A viewer changed its view (a zoom, a pan, a reset): the params follow."""
        held = feed.view_range()
        self._show_view(start=held[0] if held else None, end=held[1] if held else None, live=held is None,
                        view_window=feed.window)
        for observer in list(self._view_observers):
            observer(self)

    def _show_view(self, **values: Any) -> None:
        show_view(self, **values)

    def feeds(self) -> list[Feed]:
        """The open feeds of this component's viewers (one per document that shows it)."""
        return [] if self._pane is None else self._pane.feeds()

    def _build(self, feed: Feed) -> LiveView:
        """Build this component's models for one viewer. Override."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        values = {name: getattr(self, name) for name in LAYOUT}  # (a pane's default left out costs it nothing)
        self._pane = LivePane(self, **{k: v for k, v in values.items() if v != LivePane.param[k].default})
        return self._pane
