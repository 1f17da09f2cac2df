"""The base of live components: a Panel pane that builds fresh Bokeh models for every viewer.

A Bokeh model belongs to one document, so a component that is shown twice (two browser tabs, two notebook
cells, ``pn.Row(plot, plot)``) needs one set of models per viewer. :class:`LivePane` is a Bokeh pane whose
``_get_model`` asks its component to build a view for the viewer's :class:`~dashboard.ui.feed.Feed`, and
whose ``_cleanup`` (called by Panel when the session or the cell goes away) removes that view from the
feed again. Components subclass :class:`LiveComponent` and implement ``_build(feed)``.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from bokeh.model import Model

from ..service import MetricsService
from . import transport
from .feed import Feed, LiveView


class LivePane(pn.pane.Bokeh):
    """Renders a :class:`LiveComponent` as one fresh Bokeh model per root."""

    priority = 0  # never chosen by pn.panel() on its own

    def __init__(self, component: LiveComponent, **params: Any) -> None:
        super().__init__(object=None, **params)
        self._component = component
        self._views: dict[str, tuple[Feed, LiveView]] = {}

    @classmethod
    def applies(cls, obj: Any) -> bool:
        return False

    def _get_model(self, doc: Any, root: Model | None = None, parent: Model | None = None,
                   comm: Any = None) -> Model:
        if root is None:
            return self.get_root(doc, comm)
        feed = Feed.attach(doc, self._component.service, comm)
        view = self._component._build(feed)
        feed.add_view(view)
        ref = root.ref["id"]
        self._views[ref] = (feed, view)
        model = view.model  # type: ignore[attr-defined]
        transport.register_model(self, ref, model, parent)
        return model

    def _cleanup(self, root: Model | None = None) -> None:
        if root is not None:
            entry = self._views.pop(root.ref["id"], None)
            if entry is not None:
                feed, view = entry
                feed.remove_view(view)
        super()._cleanup(root)


class LiveComponent(pn.viewable.Viewer):
    """A component whose Bokeh models are built per viewer and updated by that viewer's feed."""

    service = param.ClassSelector(
        class_=MetricsService, default=None, allow_None=True,
        doc="The metrics service to show (the process's shared service by default).")

    height = param.Integer(default=260, bounds=(60, 4000), doc="Height in pixels.")

    _fixed_height = True  # False: the pane grows with its content

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.service is None:
            self.service = MetricsService.shared()
        sizing = {"height": self.height} if self._fixed_height else {}
        self._pane = LivePane(self, sizing_mode="stretch_width", **sizing)

    def _build(self, feed: Feed) -> LiveView:
        """Build this component's models for one viewer. Override."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane
