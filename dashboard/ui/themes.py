"""Light and dark colours for the plots, applied in Python or, for ``auto``, by the browser.

A palette names the colours of each part of a figure (the figure, its title, axes, grids and legend).
``light`` and ``dark`` are set on the models; ``auto`` starts light and lets the page choose when a figure is
first laid out (:data:`THEME_JS`): JupyterLab's theme where there is one (``data-jp-theme-light`` on the
body), else the browser's ``prefers-color-scheme``. A served page's template, cards, table and controls
follow the same theme (:mod:`dashboard.ui.page`).
"""

from __future__ import annotations

from typing import Any

from bokeh.models import CustomJS

#: Colours of each part of a figure, by theme. Text is at least 4.5:1 against its background (WCAG AA).
PALETTES: dict[str, dict[str, dict[str, Any]]] = {
    "light": {
        "figure": {"background_fill_color": "#ffffff", "border_fill_color": "#ffffff",
                   "outline_line_color": "#d0d7de"},
        "title": {"text_color": "#1f2328"},
        "axis": {"axis_line_color": "#8c959f", "major_tick_line_color": "#8c959f",
                 "minor_tick_line_color": "#d0d7de", "major_label_text_color": "#424a53",
                 "axis_label_text_color": "#424a53"},
        "grid": {"grid_line_color": "#e6e9ed"},
        "legend": {"background_fill_color": "#ffffff", "label_text_color": "#1f2328",
                   "border_line_color": "#d0d7de"},
    },
    "dark": {
        "figure": {"background_fill_color": "#22272e", "border_fill_color": "#22272e",
                   "outline_line_color": "#444c56"},
        "title": {"text_color": "#e6edf3"},
        "axis": {"axis_line_color": "#768390", "major_tick_line_color": "#768390",
                 "minor_tick_line_color": "#444c56", "major_label_text_color": "#c9d1d9",
                 "axis_label_text_color": "#c9d1d9"},
        "grid": {"grid_line_color": "#373e47"},
        "legend": {"background_fill_color": "#22272e", "label_text_color": "#e6edf3",
                   "border_line_color": "#444c56"},
    },
}

#: Applies a palette to a figure in the browser (``mode`` "auto" only): JupyterLab's theme, else the OS's.
THEME_JS = """
if (mode !== 'auto')
  return
const fig = cb_obj
const jp = document.body.dataset.jpThemeLight
const dark = jp !== undefined ? jp === 'false' : window.matchMedia('(prefers-color-scheme: dark)').matches
const p = palettes[dark ? 'dark' : 'light']
if (fig.background_fill_color === p.figure.background_fill_color)
  return
fig.setv(p.figure)
fig.title.setv(p.title)
for (const r of [...fig.left, ...fig.right, ...fig.above, ...fig.below, ...fig.center]) {
  if ('major_label_text_color' in r) r.setv(p.axis)
  else if ('grid_line_color' in r) r.setv(p.grid)
  else if ('label_text_color' in r) r.setv(p.legend)
}
"""


def apply_palette(fig: Any, theme: str) -> None:
    """Colour ``fig`` (a Bokeh figure) by the palette of ``theme`` (light or dark)."""
    palette = PALETTES[theme]
    fig.update(**palette["figure"])
    fig.title.update(**palette["title"])
    for axis in fig.axis:
        axis.update(**palette["axis"])
    for grid in fig.grid:
        grid.update(**palette["grid"])
    for legend in fig.legend:
        legend.update(**palette["legend"])


class FigureTheme:
    """The theme of one figure: set in Python, or chosen by the browser for ``auto``. The browser's hook is
    one model per viewer (``viewer.shared``), whatever the number of its figures."""

    def __init__(self, fig: Any, theme: str, viewer: Any) -> None:
        self.fig = fig
        self.hook = viewer.shared("theme_hook", lambda: CustomJS(args={"palettes": PALETTES, "mode": theme},
                                                                  code=THEME_JS))
        fig.js_on_change("inner_width", self.hook)  # set by the browser when the figure is first laid out
        self.set(theme)

    def set(self, theme: str) -> None:
        apply_palette(self.fig, "dark" if theme == "dark" else "light")
        if self.hook.args.get("mode") != theme:
            self.hook.args = {**self.hook.args, "mode": theme}
