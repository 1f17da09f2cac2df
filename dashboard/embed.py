"""One panel alone at ``/embed?panel=NAME``, for other pages: and who may embed it.

``/embed`` serves one card or plot of the dashboard, streaming live and sized by its container, for a
page served elsewhere (``bokeh.embed.server_document("http://HOST:5006/embed", arguments={"panel":
NAME})``) or an ``<iframe>``. ``NAME`` is the panel's ``id`` in the spec, by default its metric;
``/embed`` without one lists the names. Who may embed is who may open the server's websocket: the
addresses of ``--allow-websocket-origin`` (and the spec's ``allow_websocket_origin``) beside the server's
own. :class:`EmbedGuard` holds the browser to it on every response:

* ``Content-Security-Policy: frame-ancestors`` names those origins, so an ``<iframe>`` on any other page
  is refused by the browser (which shows its own error in the frame, never the dashboard);
* a ``server_document`` script asked for by a page of any other origin (its ``Referer``) gets, instead of
  BokehJS, a script that writes the refusal into the page where the plot would be, so the page shows an
  error, not a blank area; the websocket itself answers such a page 403 (Bokeh's origin check).

Every name shown is escaped: a metric name comes from a source.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import panel as pn
import tornado.web
from panel.io.resources import LOCAL_DIST, patch_model_css

EMBED_PATH = "/embed"
#: A Host header fit to be written into a script (Tornado refuses malformed ones already; this holds the
#: guard to it whatever serves the request).
HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def embed_app(dashboard: Callable[[], Any]) -> Callable[[], Any]:
    """The per-session app of ``/embed``: the panel the session's ``panel`` argument names, out of
    ``dashboard()`` (a :class:`~dashboard.ui.layout.MetricsDashboard`), or the list of names."""

    def app() -> Any:
        names = dashboard().named_panels()
        asked = pn.state.session_args.get("panel", [b""])[0].decode("utf-8", "replace")
        if not asked:
            return _listing(names)
        part = names.get(asked)
        if part is None:
            return _message(f"No panel is named {asked!r} here. The panels are: {', '.join(names) or 'none'}.")
        part.param.update(sizing_mode="stretch_both", height=None, styles={}, margin=0)
        shown = pn.Column(part, sizing_mode="stretch_both", min_height=120, margin=0)
        return _with_stylesheets_from_this_server(shown)

    return app


def _with_stylesheets_from_this_server(shown: Any) -> Any:
    """``shown``, for Panel to put in the session's document; in a page of another origin
    (``server_document``), put there now with its stylesheets pointed at this server: Panel leaves them on
    its CDN there, which a machine off the internet cannot reach (None then: the document is ready)."""
    doc = pn.state.curdoc
    request = getattr(doc.session_context, "request", None) if doc is not None else None
    if request is None or not request.path.endswith("/autoload.js"):
        return shown  # a page of this server (an iframe): Panel points them at itself
    shown.server_doc(doc)
    for root in doc.roots:
        patch_model_css(root, dist_url=f"{request.protocol}://{request.host}/{LOCAL_DIST}")
    return None


def _listing(names: Iterable[str]) -> Any:
    items = "".join(f'<li><a href="{EMBED_PATH}?panel={quote(name)}">{html.escape(name)}</a></li>'
                    for name in names)
    return pn.pane.HTML(f"<h3>Panels to embed</h3><ul>{items}</ul>"
                        f"<p>{html.escape(EMBED_PATH)}?panel=NAME serves one alone.</p>", sizing_mode="stretch_width")


def _message(text: str) -> Any:
    return pn.pane.HTML(f'<p class="embed-error">{html.escape(text)}</p>', sizing_mode="stretch_width")


def allowed_origins(origins: Iterable[str]) -> list[str]:
    """Bokeh's ``host[:port]`` origins as the browser's ``scheme://host[:port]``, both schemes."""
    return sorted({f"{scheme}://{origin}" for origin in origins for scheme in ("http", "https")})


def login_first(application: tornado.web.Application, origins: Iterable[str] = ()) -> int:
    """Make ``application``'s autoload scripts (``server_document``'s) answer a viewer without a login
    with a script that puts a login link where the plot would be (Panel's handler fails with a 500 then),
    and answer a page of one of ``origins`` (``host[:port]``) that sends its cookies
    (``server_document(..., with_credentials=True)``) with its own origin, as a browser requires, not "*".
    Each is replaced by a subclass with the same arguments, routed ahead of it; the number replaced."""
    import tornado.routing

    from .auth import NOT_A_VIEWER, login_required, may_view

    allowed = frozenset(origins)
    replaced = []
    for rule in application.wildcard_router.rules:
        pattern = getattr(rule.matcher, "regex", None)
        if pattern is None or not pattern.pattern.endswith("autoload.js$") or not isinstance(rule.target, type):
            continue

        class LoginFirst(rule.target):  # type: ignore[misc, valid-type]
            async def prepare(self) -> None:
                origin = self.request.headers.get("Origin", "")
                if urlsplit(origin).netloc in allowed:
                    self.set_header("Access-Control-Allow-Origin", origin)
                    self.add_header("Vary", "Origin")
                await super().prepare()
                if login_required(self.application) and not self.current_user:
                    self.set_header("Content-Type", "application/javascript")
                    self.finish(_login_script(self.request, self.get_login_url()))
                elif login_required(self.application) and not may_view(self):
                    self.set_status(403)
                    self.set_header("Content-Type", "application/javascript")
                    self.finish(_text_script(self.request, "dashboard-embed-refused", NOT_A_VIEWER))

        replaced.append(tornado.routing.Rule(tornado.routing.PathMatches(pattern.pattern), LoginFirst,
                                             rule.target_kwargs))
    if replaced:
        application.add_handlers(r".*", [(r.matcher.regex.pattern, r.target, r.target_kwargs) for r in replaced])
    return len(replaced)


def _login_script(request: Any, login_url: str) -> str:
    """A script that shows a link to the login page where the plot would have been (text, never HTML)."""
    element = parse_qs(urlsplit(request.uri).query).get("bokeh-autoload-element", [""])[0]
    here = f"{request.protocol}://{request.host}" if HOST.fullmatch(request.host) else ""
    link = f"{here}{login_url}"
    return f"""(function () {{
  var box = document.createElement("div");
  box.className = "dashboard-embed-login";
  box.style.cssText = "padding:12px;border:1px solid #1f4e79;font:14px sans-serif";
  var a = document.createElement("a");
  a.href = {json.dumps(link)};
  a.target = "_blank";
  a.textContent = "Log in to the dashboard to see this plot";
  box.appendChild(a);
  var at = document.getElementById({json.dumps(element)});
  if (at && at.tagName === "SCRIPT") {{ at.after(box); }} else if (at) {{ at.appendChild(box); }}
  else {{ document.body.appendChild(box); }}
}})();
"""


class EmbedGuard(tornado.web.OutputTransform):
    """Holds every response to the allowed origins (see the module's text). Made per request by Tornado;
    :meth:`install` gives the class its origins."""

    origins: frozenset[str] = frozenset()  # host[:port], as the websocket check takes them

    def __init__(self, request: Any) -> None:
        self.request = request

    @classmethod
    def install(cls, application: tornado.web.Application, origins: Iterable[str]) -> type[EmbedGuard]:
        """A guard of ``origins`` added to ``application``'s output transforms."""
        guard = type("EmbedGuard", (cls,), {"origins": frozenset(origins)})
        application.transforms.append(guard)
        return guard

    def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes, finishing: bool
                              ) -> tuple[int, Any, bytes]:
        ancestors = " ".join(["'self'", *allowed_origins(self.origins)])
        headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        if self.request.path == f"{EMBED_PATH}/autoload.js" and status_code == 200:
            page = self._embedding_origin()
            if page is not None and urlsplit(page).netloc not in self.origins:
                chunk = self._refusal(page).encode()
            elif HOST.fullmatch(self.request.host):  # Panel names one script relative to the page
                here = f"{self.request.protocol}://{self.request.host}/static/".encode()  # ("../static/...")
                chunk = chunk.replace(b'"../static/', b'"' + here)
            headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk

    def _embedding_origin(self) -> str | None:
        """The origin of the page asking for the script (its Referer), None when it says none."""
        referer = self.request.headers.get("Origin") or self.request.headers.get("Referer")
        if not referer:
            return None
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None

    def _refusal(self, page: str) -> str:
        """A script that shows the refusal where the plot would have been."""
        text = (f"dashboard: a page of {page} may not embed this dashboard (its websocket answers 403). "
                f"Start the dashboard with --allow-websocket-origin {urlsplit(page).netloc} to allow it.")
        return _text_script(self.request, "dashboard-embed-refused", text)


def _text_script(request: Any, css_class: str, text: str) -> str:
    """A script that shows ``text`` (as text, never HTML) in a box of class ``css_class`` where the plot
    would have been, and warns with it in the console."""
    element = parse_qs(urlsplit(request.uri).query).get("bokeh-autoload-element", [""])[0]
    return f"""(function () {{
  var text = {json.dumps(text)};
  var box = document.createElement("div");
  box.className = {json.dumps(css_class)};
  box.setAttribute("role", "alert");
  box.style.cssText = "padding:12px;border:1px solid #b00020;color:#b00020;font:14px sans-serif";
  box.textContent = text;
  var at = document.getElementById({json.dumps(element)});
  if (at && at.tagName === "SCRIPT") {{ at.after(box); }} else if (at) {{ at.appendChild(box); }}
  else {{ document.body.appendChild(box); }}
  console.warn(text);
}})();
"""
