"""Renderers added to a figure without the copies its glyph methods build.

``figure.quad()`` (and every glyph method) also makes selection, non-selection, hover and muted glyphs
and a view; for marks that are never selected this doubles the models a page's first render builds and
serializes. :func:`bare` adds just the renderer.
"""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource, GlyphRenderer


def bare(fig: Any, source: ColumnDataSource, glyph: Any, **options: Any) -> GlyphRenderer:
    """A renderer of ``glyph`` over ``source``, appended to ``fig``'s renderers."""
    renderer = GlyphRenderer(data_source=source, glyph=glyph, **options)
    fig.renderers.append(renderer)
    return renderer
