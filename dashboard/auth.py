"""Who may look: viewer logins on Panel's own auth, and the same door for every route the server adds.

``dashboard serve`` takes Panel's auth options as they are (:class:`AuthOptions`: ``--basic-auth``,
``--cookie-secret``, ``--oauth-*``, ``--login-endpoint``, ``--logout-endpoint``) and hands them to Panel's
server, which guards the page, its websocket and ``/embed`` (Bokeh's handlers ask the auth provider for
the user). The routes the project adds (``/snapshot``, ``/download``, ``/alerts``, ``/annotations``,
``/metrics``) derive from :class:`ViewerRoute`, which asks the same provider: with logins on, a request
without a valid login is sent to the login page when a browser asks for a page, and answered 401
otherwise. ``/metrics`` may instead be public (``--metrics-public``) or take a bearer token
(``--metrics-token``, as Prometheus' ``authorization`` config sends it). ``/ingest`` keeps its own token.

Safe by default (:func:`refusal`): off loopback without a login the server does not start unless
``--allow-unauthenticated`` says so. The cookie that carries a login is signed with a secret kept in the
data folder (:func:`cookie_secret`, mode 0600), so logins survive a restart; over TLS it is
``SameSite=None; Secure`` (:class:`CrossSiteCookies`), so that a plot embedded in another site's page gets
the viewer's login. Nothing here checks a password: Panel does.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import secrets
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tornado.web
from bokeh.server.views.auth_request_handler import AuthRequestHandler

log = logging.getLogger("dashboard.auth")

#: The file in the data folder that keeps the cookie secret.
SECRET_FILE = "cookie_secret"


@dataclass(frozen=True)
class AuthOptions:
    """Panel's auth options, as ``panel serve`` names them, and the project's own for ``/metrics``."""

    basic_auth: str | None = None  # one password, or a JSON file of {user: password}
    cookie_secret: str | None = None
    oauth_provider: str | None = None
    oauth_key: str | None = None
    oauth_secret: str | None = None
    oauth_redirect_uri: str | None = None
    oauth_extra_params: dict[str, Any] = field(default_factory=dict)
    oauth_encryption_key: str | None = None
    login_endpoint: str | None = None
    logout_endpoint: str | None = None
    metrics_public: bool = False
    metrics_token: str | None = None
    allow_unauthenticated: bool = False
    writers: tuple[str, ...] = ()  # who may post annotations (empty: every logged-in viewer); see is_writer
    viewers: tuple[str, ...] = ()  # who may look (empty: every login the provider accepts); writers may too

    def may_view(self, user: str | None, claims: dict[str, Any] | None = None) -> bool:
        """Whether the logged-in ``user`` (with OAuth ``claims``) may look at all."""
        return user is not None and (not self.viewers or is_writer((*self.viewers, *self.writers), user, claims))

    def may_write(self, user: str | None, claims: dict[str, Any] | None = None) -> bool:
        """Whether the logged-in ``user`` (with OAuth ``claims``) may post (annotations, and any later
        write)."""
        return user is not None and (not self.writers or is_writer(self.writers, user, claims))

    @property
    def enabled(self) -> bool:
        """Whether viewers log in."""
        return bool(self.basic_auth or self.oauth_provider)

    def check(self) -> None:
        """Raise ValueError naming the option that cannot work as given."""
        if self.basic_auth and self.oauth_provider:
            raise ValueError("--basic-auth and --oauth-provider exclude each other: choose one way to log in")
        if self.oauth_provider and not (self.oauth_key and self.oauth_secret):
            raise ValueError(f"--oauth-provider {self.oauth_provider} needs --oauth-key and --oauth-secret")
        if self.metrics_public and self.metrics_token:
            raise ValueError("--metrics-public and --metrics-token exclude each other")
        for name in ("login_endpoint", "logout_endpoint"):
            value = getattr(self, name)
            if value is not None and not value.startswith("/"):
                raise ValueError(f"--{name.replace('_', '-')} must be a path starting with /, not {value!r}")

    def panel_kwargs(self, secret: str | None) -> dict[str, Any]:
        """The keywords of ``pn.serve`` these options mean (none when viewers do not log in)."""
        if not self.enabled:
            return {}
        given = {"basic_auth": self.basic_auth, "oauth_provider": self.oauth_provider,
                 "oauth_key": self.oauth_key, "oauth_secret": self.oauth_secret,
                 "oauth_redirect_uri": self.oauth_redirect_uri, "oauth_encryption_key": self.oauth_encryption_key,
                 "login_endpoint": self.login_endpoint, "logout_endpoint": self.logout_endpoint}
        kwargs = {k: v for k, v in given.items() if v is not None}
        if self.oauth_extra_params:
            kwargs["oauth_extra_params"] = dict(self.oauth_extra_params)
        kwargs["cookie_secret"] = self.cookie_secret or secret
        return kwargs

    @property
    def logout_path(self) -> str:
        return self.logout_endpoint or "/logout"


def is_writer(writers: Sequence[str], user: str | None, claims: dict[str, Any] | None = None) -> bool:
    """Whether ``user`` is one of ``writers``: an entry is a user name, or ``CLAIM=VALUE`` for the logins
    whose OAuth claim ``CLAIM`` (from the provider's token or user info) is ``VALUE`` or, a list,
    holds it (``groups=sre``, ``role=editor``)."""
    if user is None:
        return False
    for entry in writers:
        claim, eq, value = entry.partition("=")
        if not eq:
            if entry == user:
                return True
            continue
        held = (claims or {}).get(claim)
        if held == value or (isinstance(held, list) and value in held):
            return True
    return False


def is_loopback(address: str) -> bool:
    """Whether ``address`` (what the server binds to) is reachable from this machine only."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def refusal(address: str, options: AuthOptions) -> str | None:
    """Why the server must not start on ``address`` with ``options`` (None when it may)."""
    if options.enabled or options.allow_unauthenticated or is_loopback(address):
        return None
    return (f"{address} is not a loopback address and no viewer login is set: anyone who can reach the port "
            "would see every metric, label and alert. Add a login (--basic-auth PASSWORD_OR_FILE, or "
            "--oauth-provider with --oauth-key and --oauth-secret), or start with --allow-unauthenticated")


def cookie_secret(folder: str | os.PathLike[str]) -> str:
    """The secret that signs login cookies: read from ``folder``, or made and kept there (mode 0600)."""
    path = Path(folder) / SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    log.info("a new cookie secret was written to %s", path)
    return secret


#: The open pages of each logged-in viewer (their documents): what logging out ends.
_pages: dict[str, weakref.WeakSet[Any]] = defaultdict(weakref.WeakSet)


def remember_page(user: str, doc: Any) -> None:
    """Note that ``user`` has the served document ``doc`` open."""
    _pages[user].add(doc)


def end_pages_of(user: str) -> int:
    """Close the websockets of every page ``user`` has open (a logout ends them all, not just the tab
    that asked); how many were closed."""
    from .ui import transport

    docs = list(_pages.pop(user, ()))
    return sum(transport.close_connections(doc) for doc in docs)


class CrossSiteCookies:
    """A mixin of Panel's login handlers: over TLS (``request.protocol`` is ``https``, directly or behind a
    proxy that sends ``X-Forwarded-Proto`` to a server started with ``--use-xheaders``) the cookies they set
    are ``SameSite=None; Secure``, so that a logged-in viewer's browser sends the login with the requests
    of a plot embedded in another site's page. Over plain HTTP they stay as Panel sets them (a browser
    refuses ``SameSite=None`` without ``Secure``)."""

    request: Any

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        if self.request.protocol == "https":
            kwargs.setdefault("samesite", "None")
            kwargs.setdefault("secure", True)
        super().set_cookie(name, value, *args, **kwargs)  # type: ignore[misc]


def _ending_pages(handler: type) -> dict[str, Any]:
    """The ``get`` of a logout handler that first revokes the login of the user logging out (every cookie
    of theirs signed before now, :func:`revoked`) and closes their pages."""

    def get(self: Any) -> None:
        user = self.get_secure_cookie("user")
        if user:
            name = user.decode("utf-8", "replace")
            _logged_out[name] = time.time()
            log.info("%s logged out: %d open page(s) closed", name, end_pages_of(name))
        handler.get(self)

    return {"get": get}


#: When each user last logged out (this process's; a restart forgets it).
_logged_out: dict[str, float] = {}


def signed_at(cookie: str | None) -> int | None:
    """The time (whole seconds) at which Tornado signed a secure cookie's value (its version 2 format:
    ``2|1:0|10:TIMESTAMP|...``); None for anything else."""
    parts = (cookie or "").split("|")
    if len(parts) < 3 or parts[0] != "2":
        return None
    _, _, stamp = parts[2].partition(":")
    return int(stamp) if stamp.isdigit() else None


def revoked(user: str, handler: Any) -> bool:
    """Whether ``handler``'s login cookie for ``user`` was signed before that user's last logout here (a
    page or a copied cookie that still holds it comes back: refused). A login in the second of the
    logout is kept (the cookie's time has whole seconds)."""
    since = _logged_out.get(user)
    if since is None:
        return False
    signed = signed_at(handler.get_cookie("user"))
    return signed is None or signed < int(since)


def revocable(provider: Any) -> None:
    """Make Panel's login ``provider`` (its ``get_user`` and ``get_user_async``, which every route and the
    websocket ask) refuse a login that :func:`revoked` says was logged out."""
    base = type(provider)

    def checked(inner: Any) -> Any:
        if inner is None:
            return None
        if asyncio.iscoroutinefunction(inner):
            async def get_user_async(handler: Any) -> Any:
                user = await inner(handler)
                return None if user and revoked(str(user), handler) else user
            return get_user_async

        def get_user(handler: Any) -> Any:
            user = inner(handler)
            return None if user and revoked(str(user), handler) else user
        return get_user

    provider.__class__ = type(base.__name__, (base,), {
        "get_user": property(lambda self: checked(base.get_user.fget(self))),
        "get_user_async": property(lambda self: checked(base.get_user_async.fget(self)))})


def guard_login_routes(application: Any) -> int:
    """Route Panel's login and logout handlers (those of ``panel.auth``) again, ahead of Panel's, as
    subclasses: their cookies cross sites over TLS (:class:`CrossSiteCookies`), and a logout revokes the
    viewer's login and closes every page of theirs, not just the tab that asked (:func:`revocable` makes
    the provider refuse it from then on). The number of routes replaced."""
    if getattr(application, "auth_provider", None) is not None:
        revocable(application.auth_provider)
    replaced = []
    for rule in application.wildcard_router.rules:
        target = rule.target
        if not (isinstance(target, type) and issubclass(target, tornado.web.RequestHandler)
                and target.__module__ == "panel.auth"):
            continue
        body = _ending_pages(target) if target.__name__ == "LogoutHandler" else {}
        replaced.append((rule.matcher.regex.pattern, type(target.__name__, (CrossSiteCookies, target), body),
                         rule.target_kwargs))
    if replaced:
        application.add_handlers(r".*", replaced)
    return len(replaced)


def login_required(application: Any) -> bool:
    """Whether ``application`` (a Bokeh/Panel Tornado app) has a login configured."""
    provider = getattr(application, "auth_provider", None)
    return provider is not None and (provider.get_user is not None or provider.get_user_async is not None)


class ViewerRoute(AuthRequestHandler):
    """A route of what viewers see: with logins on, only for a logged-in viewer (the provider Panel's
    server was given decides who that is). A browser asking for a page without a login is sent to the
    login page; any other request gets 401."""

    async def prepare(self) -> None:
        if not login_required(self.application) or self.allowed_without_login():
            return
        await super().prepare()  # the provider's asynchronous lookup of the user, when it has one
        if not self.current_user:
            self.deny_login()
        elif not may_view(self):
            self.set_status(403)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": NOT_A_VIEWER}))

    def get_current_user(self) -> Any:
        """The provider's user (None without logins, in a Tornado app of any kind)."""
        return super().get_current_user() if login_required(self.application) else None

    def allowed_without_login(self) -> bool:
        """Whether this request may go on without a viewer's login (a token a route accepts instead)."""
        return False

    def deny_login(self) -> None:
        accept = self.request.headers.get("Accept", "")
        if self.request.method in ("GET", "HEAD") and "text/html" in accept:
            self.redirect(f"{self.get_login_url()}?next={quote(self.request.uri or '/', safe='')}")
            return
        self.set_status(401)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": "log in first: this server shows its metrics to logged-in viewers"}))

    def viewer(self) -> str | None:
        """The logged-in viewer's name (None without logins)."""
        user = self.current_user
        return user.decode() if isinstance(user, bytes) else user

    def claims(self) -> dict[str, Any]:
        """The logged-in viewer's OAuth claims (:func:`viewer_claims`)."""
        return viewer_claims(self)


#: What a login that may not look is told (the spec's ``auth.viewers`` does not name it).
NOT_A_VIEWER = "this login may not look at this dashboard (the spec's auth.viewers names who may)"


def install_viewers(application: Any, options: AuthOptions) -> None:
    """Hold ``application`` (Panel's server) to ``options.viewers``: its pages through Panel's
    ``authorize_callback`` (a 403 page), the project's routes and the autoload script through
    :func:`may_view`. Nothing when every login may look."""
    application.settings["dashboard_auth"] = options
    if not options.viewers:
        return
    import panel as pn

    def authorize(user_info: dict[str, Any] | None, path: str) -> bool:
        allowed = options.may_view(pn.state.user, user_info)
        if not allowed:
            log.warning("%s may not look (not among auth.viewers): refused %s", pn.state.user, path)
        return allowed

    pn.config.authorize_callback = authorize


def may_view(handler: Any) -> bool:
    """Whether the logged-in viewer of ``handler`` (a :class:`ViewerRoute` or Panel's) may look, by the
    options :func:`install_viewers` gave its application."""
    options = handler.application.settings.get("dashboard_auth")
    if options is None or not options.viewers:
        return True
    user = handler.current_user
    user = user.decode() if isinstance(user, bytes) else user
    return options.may_view(user, viewer_claims(handler))


def viewer_claims(handler: Any) -> dict[str, Any]:
    """The logged-in viewer's OAuth claims (what the provider's token or user info said, as Panel keeps
    it in its signed ``id_token`` cookie); empty without them."""
    from panel.io.state import state
    from panel.util import decode_token

    signed = handler.get_secure_cookie("id_token")
    if not signed:
        return {}
    try:
        claims = decode_token(state._decrypt_cookie(signed))
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("a login's id_token cookie could not be read (%s)", type(exc).__name__)
        return {}
    return claims if isinstance(claims, dict) else {}


def bearer_matches(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` as a bearer token (compared in constant time)."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
