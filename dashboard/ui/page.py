"""The served page: a dashboard in a Panel template, its view read from and written to the URL.

The template (``BootstrapTemplate``) carries the title; the dashboard fills the main area, the view's
controls (:mod:`dashboard.ui.controls`) on top, in a row that wraps on a narrow screen. At the start of a
session the query string (:mod:`dashboard.viewurl`) sets the view params; a bad value shows a warning naming
the parameter and what was expected, and the default is used for it. Every later change of the view (a
control, a zoom) is written back into the URL, so the address bar is always a link to what is on screen.

Themes: ``light`` and ``dark`` are the template's own (its widgets, cards and table) and the plots' palettes,
and a page switches between them in place; ``auto`` takes the browser's ``prefers-color-scheme``. A server
learns it only after the page has loaded, so the page stores it in a cookie that later sessions read, and the
first page of a tab whose preference differs from what was rendered reloads once (as does choosing ``auto``
again).
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import panel as pn
from bokeh.models import CustomJS

from ..auth import remember_page
from ..viewurl import QUERY, format_view, parse_view
from . import quiet
from .flow import escape_markdown
from .layout import MetricsDashboard

log = logging.getLogger("dashboard.page")

#: A phone lays the page out at its own width (without it, 980 px wide and shown at 40%).
VIEWPORT = "width=device-width, initial-scale=1"

#: The cookie in which a page keeps the browser's colour preference for ``theme=auto``.
DARK_COOKIE = "dashboard_dark"

#: Stores the browser's preference in the cookie; reloads once when the page was rendered in the other one.
AUTO_THEME_JS = f"""
const dark = window.matchMedia('(prefers-color-scheme: dark)').matches
document.cookie = `{DARK_COOKIE}=${{dark ? 1 : 0}}; path=/; SameSite=Lax; max-age=31536000`
if (dark !== rendered_dark && !sessionStorage.getItem('{DARK_COOKIE}_reloaded')) {{
  sessionStorage.setItem('{DARK_COOKIE}_reloaded', '1')
  window.location.reload()
}}
"""


#: Switches a served page between light and dark in place: what Panel's template renders differently for
#: each (its two theme stylesheets, Bootstrap's colour mode, the page's background and the header's class).
#: The plots, cards and table follow in Python. A new stylesheet replaces the old one once loaded, so the
#: page is never unstyled meanwhile. Not a served template (a notebook): nothing to switch.
THEME_SWITCH_JS = """
const theme = cb_obj.value
const pattern = /\\/theme\\/(bootstrap_)?(default|dark)\\.css/
const links = [...document.querySelectorAll('link[rel="stylesheet"]')].filter((l) => pattern.test(l.href))
if (theme === 'auto' || !links.length)
  return
const dark = theme === 'dark'
for (const link of links) {
  const href = link.href.replace(pattern, (_m, b) => `/theme/${b || ''}${dark ? 'dark' : 'default'}.css`)
  if (href === link.href)
    continue
  const next = link.cloneNode()
  next.href = href
  next.onload = () => link.remove()
  link.after(next)
}
const html = document.documentElement
html.dataset.bsTheme = dark ? 'dark' : 'light'
html.style.backgroundColor = dark ? '#121212' : 'transparent'
const header = document.getElementById('header')
if (header) {
  header.classList.toggle('navbar-dark', dark)
  header.classList.toggle('navbar-light', !dark)
}
"""


def page(dash: MetricsDashboard, args: dict[str, Any] | None = None, notices: Sequence[str] = (),
         logout: str = "/logout") -> pn.template.BootstrapTemplate:
    """``dash`` as a served page: its view from the query string ``args`` (the session's by default), the
    server's ``notices`` above it, and, with viewer logins on, who is logged in and a ``logout`` link in
    the header."""
    if args is None:
        args = dict(pn.state.session_args) if pn.state.curdoc is not None else {}
    values, errors = parse_view(args)
    apply_view(dash, values)
    dark = resolved_dark(dash.theme)
    dash.show_title = False  # the template's header shows it
    shown = [pn.pane.Alert(escape_markdown(message), alert_type="warning", sizing_mode="stretch_width",
                           css_classes=["dashboard-server-notice"]) for message in notices]
    shown += [pn.pane.Alert(escape_markdown(message), alert_type="warning", sizing_mode="stretch_width",
                            css_classes=["dashboard-url-error"]) for message in errors]
    for message in errors:
        log.info("%s", message)
    pn.config.notifications = True  # alerts fire and resolve as page notifications (dashboard.ui.alerts)
    template = pn.template.BootstrapTemplate(
        title=dash.title, theme="dark" if dark else "default", main=[*shown, dash],
        header_background="#1f4e79", meta_viewport=VIEWPORT, header=_who(logout))
    template.dashboard = dash  # what tests and embedding code reach through the page
    template.server_doc = _in_one_freeze(template.server_doc)
    if pn.state.curdoc is not None:
        from tornado.ioloop import IOLoop

        quiet.quiet_closed_sockets(IOLoop.current().asyncio_loop)  # (panel serve: no traceback a close)
        dash.controls.theme.jscallback(value=THEME_SWITCH_JS)
        _follow_url(dash, pn.state.curdoc)
        if dash.theme == "auto":
            pn.state.curdoc.js_on_event("document_ready", CustomJS(args={"rendered_dark": dark},
                                                                   code=AUTO_THEME_JS))
    return template


def _in_one_freeze(server_doc: Callable[..., Any]) -> Callable[..., Any]:
    """``server_doc`` with the document's model graph recomputed once, at the end: Panel's template adds
    its roots, theme, links and hooks one at a time, each a walk of every model of the page (nine walks, a
    quarter of a page's build)."""
    @functools.wraps(server_doc)
    def frozen(doc: Any = None, title: str | None = None, location: Any = True) -> Any:
        doc = doc if doc is not None else pn.state.curdoc
        if doc is None:
            return server_doc(doc, title, location)
        with doc.models.freeze():
            return server_doc(doc, title, location)
    return frozen


def _who(logout: str) -> list[Any]:
    """The header's "who is logged in, and the way out" (nothing without viewer logins); logged by name."""
    user = pn.state.user if pn.state.curdoc is not None else None
    if not user:
        return []
    log.info("session opened by %s", user)
    remember_page(user, pn.state.curdoc)
    return [pn.pane.HTML(f'<span class="dashboard-user">{html.escape(user)}</span> '
                         f'<a class="dashboard-logout" href="{html.escape(logout, quote=True)}">Log out</a>',
                         styles={"color": "white", "margin-left": "auto"}, css_classes=["dashboard-who"])]


def apply_view(dash: MetricsDashboard, values: dict[str, Any]) -> None:
    """Set ``dash``'s view params from parsed URL values (the window first: a held range comes after it)."""
    if "window" in values:
        dash.window = values["window"]
    rest = {k: v for k, v in values.items() if k != "window"}
    if rest:
        dash.param.update(**rest)


def bokeh_theme(dark: bool) -> Any:
    """The Bokeh theme Panel's Bootstrap template gives a document in that colour mode (None: Bokeh's own)."""
    from panel.theme.bootstrap import BootstrapDarkTheme, BootstrapDefaultTheme

    return (BootstrapDarkTheme if dark else BootstrapDefaultTheme).param.bokeh_theme.default


def resolved_dark(theme: str) -> bool:
    """Whether ``theme`` renders dark: ``auto`` follows the browser (its cookie, light until known)."""
    if theme != "auto":
        return theme == "dark"
    cookies = pn.state.cookies if pn.state.curdoc is not None else {}
    return cookies.get(DARK_COOKIE) == "1"


def _follow_url(dash: MetricsDashboard, doc: Any) -> None:
    """Write the view into the URL once loaded and after every change. Light and dark switch in place
    (:data:`THEME_SWITCH_JS`, and the document's Bokeh theme here), from ``auto`` too; choosing ``auto``,
    which the browser resolves when the page loads, reloads it, as does any theme change on a page without
    controls."""
    location = pn.state.location
    if location is None:
        return
    default_window = dash.service.window

    def write(*events: Any) -> None:
        others = [(k, v) for k, v in parse_qsl(location.search.lstrip("?")) if k not in QUERY]
        query = urlencode([*others, *format_view(dash, default_window).items()])
        for event in events:
            if event.name == "theme" and event.new != event.old:
                if event.new == "auto" or not dash.show_controls:
                    location.reload = True
                else:
                    doc.theme = bokeh_theme(event.new == "dark")
        location.search = f"?{query}" if query else ""

    dash.param.watch(write, ["window", "start", "end", "live", "timezone", "theme"])
    pn.state.onload(write)  # the URL names the view in full from the start (a link, as typed, may not)
