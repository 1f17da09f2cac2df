"""Layouts that wrap to the screen: CSS on Panel's plainest layouts (a Bokeh ``Column`` or ``Row``).

* :func:`grid`: cells in at most ``columns`` columns, each at least ``min_width`` pixels wide, so that a
  phone shows one a row at its full width and a wide screen ``columns`` (CSS grid; no horizontal scroll);
* :func:`wrap`: a row whose items move to the next line when the screen is too narrow for them.

Panel's ``FlexBox`` does the same through a ``ReactiveHTML`` template that it renders with Jinja for every
page it appears in: four of them were a third of the default page's build (about 250 ms of 800).
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn

#: Pixels between cells.
GAP = 8

#: Bokeh gives a row the sum of its children's widths as its least width, and every layout above it the same:
#: a row that wraps needs none, and neither does a column that holds one (a phone is narrower than the sum).
SHRINK = ":host { min-width: 0 !important; }"

#: For a Bokeh ``Div`` of HTML built here (a card, a table): its content as wide as the ``Div``, and a table
#: wider than that scrolls inside it (on a phone) instead of widening the page.
FILL = ".bk-clearfix { display: block; width: 100%; overflow-x: auto; }"


def grid(*objects: Any, columns: int = 2, min_width: int = 340, **params: Any) -> pn.Column:
    """``objects`` in a grid of at most ``columns`` equal columns of at least ``min_width`` px (fewer on a
    narrow screen, down to one at full width)."""
    width = f"max(min({min_width}px, 100%), calc((100% - {(columns - 1) * GAP}px) / {columns}))"
    # (as tall as its rows, whatever height a stretching page around it would give it: rows squeezed into
    # that height would overlap)
    css = (f":host {{ display: grid; grid-template-columns: repeat(auto-fill, minmax({width}, 1fr)); "
           f"grid-auto-rows: max-content; gap: {GAP}px; align-items: start; height: auto !important; }}")
    return pn.Column(*objects, sizing_mode="stretch_width", stylesheets=[css, SHRINK], **params)


def wrap(*objects: Any, justify: str = "flex-start", **params: Any) -> pn.Row:
    """``objects`` in a row that wraps onto further lines on a narrow screen."""
    css = (f":host {{ flex-wrap: wrap; align-items: flex-end; justify-content: {justify}; "
           f"column-gap: {GAP}px; row-gap: 2px; }}")
    return pn.Row(*objects, sizing_mode="stretch_width", stylesheets=[css, SHRINK], **params)


def column(*objects: Any, **params: Any) -> pn.Column:
    """``objects`` one under the other, as narrow as the screen (never the sum of a wrapping row's parts)."""
    return pn.Column(*objects, stylesheets=[SHRINK], **params)


def escape_markdown(text: str) -> str:
    """Escape a text for Panel's Markdown panes (which render HTML): its markup and TeX stay text."""
    return html.escape(text).replace("*", r"\*").replace("_", r"\_").replace("`", r"\`").replace("$", r"\$")
