"""A plot's marks beside its lines, each built only once there is something to draw (most plots never carry
one, and a page's models cost the server time to build and send).

Outage bands: a red band over each time a source of the plot was down. Annotations: a dotted line at each
one's time and a light band over its span, with the text on hover (fields Bokeh escapes: hostile text stays
text). Both are drawn on a 0-1 y range of their own, so they never stretch the data's y range."""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, CustomJSHover, HoverTool, Quad, Segment

from ..annotations import Annotation, Annotations
from ..metrics.model import SeriesKey
from .glyphs import bare


class OutageBands:
    """A plot's outage bands, on the 0-1 range called ``outages``: the renderer is added at the first one."""

    def __init__(self, fig: Any) -> None:
        self.fig = fig
        self.source: ColumnDataSource | None = None

    def draw(self, x0: np.ndarray, x1: np.ndarray) -> None:
        """Shade from each ``x0`` to its ``x1`` (ms since the epoch); nothing changes while they are the same."""
        if self.source is None:
            if x0.size:
                self.source = ColumnDataSource(data={"x0": x0, "x1": x1})
                bare(self.fig, self.source, Quad(left="x0", right="x1", bottom=0, top=1, fill_color="#d62728",
                                                 fill_alpha=0.15, line_alpha=0),
                     y_range_name="outages", level="underlay", name="outages")
            return
        old = self.source.data
        if not (np.array_equal(x0, old["x0"]) and np.array_equal(x1, old["x1"])):  # (unequal sizes: not equal)
            self.source.data = {"x0": x0, "x1": x1}


class AnnotationMarks:
    """A plot's annotations: a dotted line at each one's time and a light band over its span, on the
    outage bands' 0-1 y range, the text and labels on hover (fields Bokeh escapes)."""

    def __init__(self, fig: Any, time_hover: CustomJSHover) -> None:
        self.source = ColumnDataSource(data=annotation_columns([]))
        self.drawn = -1  # the annotations' version drawn (-1: draw at the next refresh)
        band = bare(fig, self.source, Quad(left="x0", right="x1", bottom=0, top=1, fill_color="#7f7f7f",
                                           fill_alpha=0.15, line_alpha=0), y_range_name="outages", level="underlay")
        line = bare(fig, self.source, Segment(x0="x0", y0=0, x1="x0", y1=1, line_color="#555555", line_width=1,
                                              line_dash="dotted"), y_range_name="outages")
        self.hover = HoverTool(renderers=[band, line], tooltips=[("event", "@text"), ("labels", "@labels"),
                                                                 ("by", "@author"), ("at", "@x0{custom}")],
                               formatters={"@x0": time_hover}, description="Annotations", name="annotations")
        fig.add_tools(self.hover)

    def update(self, annotations: Annotations, keys: list[SeriesKey], between: tuple[float, float]) -> None:
        """Draw the annotations within ``between`` that apply to ``keys`` (when they or the view changed)."""
        if annotations.version == self.drawn:
            return
        self.drawn = annotations.version
        notes = [n for n in annotations.between(*between) if keys and n.applies_to(keys)]
        self.source.data = annotation_columns(notes)


def annotation_columns(notes: list[Annotation]) -> dict[str, Any]:
    """Columns of annotation marks: start and end (ms; an instant ends where it starts), text, labels and
    author (empty when none)."""
    return {"x0": np.array([n.time * 1000.0 for n in notes], dtype=np.float64),
            "x1": np.array([(n.end if n.end is not None else n.time) * 1000.0 for n in notes], dtype=np.float64),
            "text": [n.text for n in notes],
            "labels": [", ".join(f"{k}={v}" for k, v in n.labels.items()) for n in notes],
            "author": [n.author or "" for n in notes]}
