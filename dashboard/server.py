"""The servable app, shared by ``dashboard serve``, ``python -m dashboard serve`` and ``panel serve``.

``build_app()`` runs once per session: it makes sure the process's one
:class:`~dashboard.service.MetricsService` is started in the server's event loop and returns a fresh
:class:`~dashboard.ui.layout.MetricsDashboard` for that session. ``serve()`` starts a Bokeh/Panel server
on loopback by default, with websocket origins restricted to the address that was asked for, and
``POST /ingest`` (:mod:`dashboard.ingest`) feeding the service's ``ingest`` push source: with a token,
or without one on a loopback address only; and ``GET /metrics`` (:mod:`dashboard.exporter`), the process's
own metrics for Prometheus; and ``GET /snapshot`` (:mod:`dashboard.ui.snapshot`), a self-contained HTML file
of the dashboard over a range; ``GET /alerts`` (:mod:`dashboard.alerts.http`), the current alerts.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn

from .auth import AuthOptions, guard_login_routes, install_viewers, is_loopback
from .embed import EMBED_PATH, EmbedGuard, embed_app, login_first
from .ingest import MAX_BODY, AnnotationsHandler, IngestHandler
from .service import MetricsService
from .sources.push import PushSource
from .spec import Spec
from .ui import propcache, quiet
from .ui.layout import MetricsDashboard
from .ui.page import page

log = logging.getLogger("dashboard.server")

TITLE = "dashboard"


INGEST_SOURCE = "ingest"

#: The BokehJS bundles a served page loads: Bokeh's own, its widgets, and its tables (Panel's bundle imports
#: them). Not WebGL (the plots draw on a canvas) nor MathJax (no text from a source is ever typeset): 2 MB of
#: the 4.8 MB of script a first visit fetches, parses and runs before it can ask for its document.
PAGE_BUNDLES = ("bokeh", "bokeh-widgets", "bokeh-tables")


def build_app(service: MetricsService | None = None) -> Any:
    """The page of a dashboard of ``service`` (the shared one by default) for one session (its view from the
    URL, :mod:`dashboard.ui.page`); starts the service."""
    return page(default_dashboard(service))


def default_dashboard(service: MetricsService | None = None, **params: Any) -> MetricsDashboard:
    """A session's dashboard of ``service`` (the shared one by default), which it starts; ``params`` go to
    the dashboard."""
    service = service or MetricsService.shared()
    service.start()
    return MetricsDashboard(service=service, **params)


def spec_app(spec: Spec, history: Any = None) -> tuple[MetricsService, Callable[..., MetricsDashboard]]:
    """The service a spec describes (shared by the process, with ``history`` when given) and the
    per-session dashboard showing it (``page(dashboard())`` is the served page; keywords go to the
    dashboard)."""
    service = spec.service(history=history)
    MetricsService.set_shared(service)  # build_app() and the notebook helpers see the spec's service

    def dashboard(**params: Any) -> MetricsDashboard:
        service.start()
        return MetricsDashboard.from_spec(spec, service, **params)

    return service, dashboard


def ingest_source(service: MetricsService, name: str = INGEST_SOURCE) -> PushSource:
    """The service's push source for ``/ingest``, added on first use."""
    source = service.sources.get(name)
    if source is None:
        source = service.add_source(PushSource(name=name))
    if not isinstance(source, PushSource):
        raise TypeError(f"source {name!r} is a {type(source).__name__}, not a PushSource")
    return source


def ingest_refusal(address: str, token: str | None) -> str | None:
    """Why ingest must stay off for this address and token (None when it may be on)."""
    if token or is_loopback(address):
        return None
    return (f"ingest is off: {address} is not a loopback address and no token was given "
            "(--ingest-token or DASHBOARD_INGEST_TOKEN); anyone who can reach the port could write metrics")


def ingest_patterns(service: MetricsService, token: str | None, max_body: int = MAX_BODY,
                    writers: Sequence[str] = ()) -> list[tuple]:
    """The Tornado routes of ``POST /ingest`` and ``/annotations`` for ``service`` (``writers``: the logins
    that may post annotations, every one when empty)."""
    source = ingest_source(service)
    return [(r"/ingest", IngestHandler, {"source": lambda: source, "token": token, "max_body": max_body}),
            (r"/annotations", AnnotationsHandler, {"service": service, "token": token, "max_body": max_body,
                                                   "writers": writers})]


def websocket_origins(address: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The origins a browser may open the websocket from: the address asked for, nothing wider."""
    origins = [f"{address}:{port}"]
    if is_loopback(address):
        origins += [f"localhost:{port}", f"127.0.0.1:{port}"]
    return sorted(set(origins) | set(extra))


def serve(address: str = "127.0.0.1", port: int = 5006, show: bool = False, **options: Any) -> None:
    """Serve the dashboard at ``http://ADDRESS:PORT/`` and its panels one by one at ``/embed?panel=NAME``
    (:mod:`dashboard.embed`) until interrupted; ``options`` are :func:`make_server`'s.

    The service starts with the server (not with the first page), so that ``/ingest`` and the history
    collect from the start. A clean stop (SIGTERM, Ctrl-C) ends the collection, then writes the logged
    history into chunks; SIGKILL leaves the log, which the next start reads.
    """
    server, service = make_server(address, port, **options)
    server.io_loop.add_callback(service.start)
    quiet.quiet_closed_sockets(server.io_loop.asyncio_loop)  # a page closing is normal, not a traceback
    server.start()
    if show:
        server.io_loop.add_callback(server.show, "/")
    main = threading.current_thread() is threading.main_thread()  # only there can a signal be handled
    previous = signal.signal(signal.SIGTERM, lambda *_: server.io_loop.add_callback(server.io_loop.stop)) \
        if main else None
    try:
        server.io_loop.start()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        service.stop()  # the collection writes into the history: it ends first
        if service.history is not None:
            service.history.close()


def make_server(address: str = "127.0.0.1", port: int = 5006, allow_websocket_origin: Sequence[str] = (),
                service: MetricsService | None = None, ingest: bool = True, ingest_token: str | None = None,
                ingest_max_bytes: int = MAX_BODY, dashboard: Callable[..., MetricsDashboard] | None = None,
                title: str = TITLE, auth: AuthOptions | None = None, **kwargs: Any) -> tuple[Any, MetricsService]:
    """The server (listening, not started) and the service it shows: every route :func:`serve` serves.

    ``dashboard`` builds a session's dashboard (the default one by default; it takes the dashboard's params
    as keywords: the page's has ``download_route``). ``auth`` says who may look (:mod:`dashboard.auth`:
    Panel's logins for the page and every route; nothing on loopback by default); the caller checks
    :func:`~dashboard.auth.refusal` first. ``kwargs`` go to ``pn.serve``.
    """
    service = service or MetricsService.shared()
    dashboard = dashboard or (lambda **params: default_dashboard(service, **params))
    skip_validation()
    propcache.apply()  # (Bokeh's property defaults read once per class: a third of a page's server time)
    pn.config.browser_info = False  # (Panel's report of the browser: seven messages a page, none read here)
    origins = websocket_origins(address, port, allow_websocket_origin)
    auth = auth or AuthOptions()
    if auth.enabled and not auth.cookie_secret:
        raise ValueError("viewer logins need a cookie secret (dashboard.auth.cookie_secret makes and keeps one)")
    notices = [] if auth.enabled or is_loopback(address) else [
        f"This server on {address} shows every metric to anyone who can reach it: it was started with "
        "--allow-unauthenticated."]
    for notice in notices:
        log.warning("%s", notice)
    patterns = _routes(service, dashboard, auth)
    if ingest:
        refusal = ingest_refusal(address, ingest_token)
        if refusal:
            log.warning("%s", refusal)
        else:
            patterns += ingest_patterns(service, ingest_token, ingest_max_bytes, auth.writers)
            log.info("ingest on http://%s:%d/ingest (%s)", address, port,
                     "token required" if ingest_token else "loopback only, no token")
    scheme = "https" if kwargs.get("ssl_certfile") else "http"
    log.info("serving on %s://%s:%d/ (websocket origins: %s)", scheme, address, port, ", ".join(origins))
    server = pn.serve(
        {"/": lambda: page(dashboard(download_route=True), notices=notices, logout=auth.logout_path),
         EMBED_PATH: embed_app(dashboard)}, address=address,
        port=port, show=False, title=title, websocket_origin=origins, threaded=False, print_url=True, start=False,
        extra_patterns=patterns, **auth.panel_kwargs(auth.cookie_secret), **kwargs)
    if auth.enabled:
        log.info("viewers log in (%s); /metrics %s", "basic auth" if auth.basic_auth else auth.oauth_provider,
                 "is public" if auth.metrics_public else
                 "takes a bearer token or a login" if auth.metrics_token else "needs a login")
    lean_scripts(server._tornado)
    EmbedGuard.install(server._tornado, origins)
    install_viewers(server._tornado, auth)  # who may look, of those who log in
    if auth.enabled:
        login_first(server._tornado, origins)  # an autoload script without a login: a login link, not a 500
        guard_login_routes(server._tornado)  # cookies that cross sites over TLS; a logout closes every page
    return server, service


def _routes(service: MetricsService, dashboard: Callable[..., MetricsDashboard], auth: AuthOptions) -> list[tuple]:
    """The project's read routes (each a :class:`~dashboard.auth.ViewerRoute`)."""
    from .alerts.http import AlertsHandler
    from .exporter import MetricsHandler
    from .ui.downloads import DownloadHandler
    from .ui.snapshot import SnapshotHandler

    return [(r"/metrics", MetricsHandler, {"service": service, "public": auth.metrics_public,
                                           "token": auth.metrics_token}),
            (r"/alerts", AlertsHandler, {"service": service}),
            (r"/snapshot", SnapshotHandler, {"dashboard": dashboard}),
            (r"/download", DownloadHandler, {"dashboard": dashboard})]


def route_table(server: Any) -> list[tuple[str, str]]:
    """Every route of ``server`` (from :func:`make_server`): its path pattern and its handler's
    ``module.QualifiedName``, from the Tornado application's routers."""
    import tornado.routing

    out: list[tuple[str, str]] = []

    def walk(router: Any) -> None:
        for rule in getattr(router, "rules", []):
            if isinstance(rule.target, tornado.routing.Router):
                walk(rule.target)
            elif isinstance(rule.matcher, tornado.routing.PathMatches) and isinstance(rule.target, type):
                out.append((rule.matcher.regex.pattern, f"{rule.target.__module__}.{rule.target.__qualname__}"))

    app = server._tornado
    walk(app.wildcard_router)
    walk(app.default_router)
    return sorted(set(out))


def lean_scripts(application: Any) -> None:
    """Pages and embeds of ``application`` (a ``BokehTornado``) load only :data:`PAGE_BUNDLES` of BokehJS.
    Bokeh's server gives every page all five bundles, since a session's models may change; a dashboard's
    are known (its plots never use WebGL, and text from sources must stay text)."""
    every = application.resources

    def resources(absolute_url: Any = None) -> Any:
        return every(absolute_url).clone(components=list(PAGE_BUNDLES))

    application.resources = resources


def skip_validation() -> None:
    """Bokeh checks every new session's document against its rules (a full walk of its models: a tenth of
    a page's build); the dashboard's pages are the same every time, and the test suite checks them, so a
    server skips it unless ``BOKEH_VALIDATE_DOC`` asks for it."""
    if "BOKEH_VALIDATE_DOC" not in os.environ:
        from bokeh.settings import settings

        settings.perform_document_validation.set_value(False)


_spec_apps: dict[str, tuple[str, Callable[[], Any]]] = {}


def spec_app_cached(path: str) -> tuple[str, Callable[[], Any]]:
    """For ``panel serve dashboard/app.py --args SPEC``: the spec is read once per process."""
    if path not in _spec_apps:
        from .spec import load_spec

        spec = load_spec(path)
        dashboard = spec_app(spec)[1]
        _spec_apps[path] = (spec.title, lambda: page(dashboard()))
    return _spec_apps[path]
