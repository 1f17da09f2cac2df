"""Command line: ``dashboard serve [SPEC]``, ``dashboard validate SPEC`` and ``dashboard snapshot URL`` (also
``python -m dashboard``).

``dashboard serve`` serves a live dashboard of this machine on ``http://localhost:5006/`` with no
configuration, or the dashboard a YAML spec describes; ``--port``, ``--address``, ``--show/--no-show``,
``--allow-websocket-origin`` and ``--log-level`` adjust it. History is kept on disk (``--data-dir``, a
per-user folder by default, printed at start; ``--retention``, ``--max-disk``, ``--precision``;
``--no-history`` turns it off). ``POST /ingest`` is on: without a token on loopback addresses only;
``--ingest-token`` (or ``DASHBOARD_INGEST_TOKEN``) requires one. ``dashboard validate SPEC`` checks a spec
and prints every problem with its line; exit status 1 when there is one. ``dashboard snapshot URL
--window 1h -o run.html`` saves a running server's snapshot (:mod:`dashboard.ui.snapshot`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description="Live metrics for notebooks and servers.")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        help="level of the 'dashboard' logger (default: INFO)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the dashboard over HTTP")
    serve.add_argument("spec", nargs="?", default=None,
                       help="a YAML spec of sources and panels (default: this machine's dashboard)")
    serve.add_argument("--port", type=int, default=5006, help="port to listen on (default: 5006)")
    serve.add_argument("--address", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--show", action=argparse.BooleanOptionalAction, default=False,
                       help="open a browser once the server is up (default: --no-show)")
    serve.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                       help="another origin allowed to open the websocket (repeatable)")
    serve.add_argument("--ingest", action=argparse.BooleanOptionalAction, default=True,
                       help="accept metrics on POST /ingest (default: on; loopback only without a token)")
    serve.add_argument("--ingest-token", default=None, metavar="TOKEN",
                       help="token that /ingest requires as 'Authorization: Bearer TOKEN' "
                            "(default: $DASHBOARD_INGEST_TOKEN)")
    serve.add_argument("--ingest-max-bytes", type=int, default=1024 * 1024, metavar="N",
                       help="largest /ingest body in bytes (default: 1048576)")
    _history_options(serve.add_argument_group("history on disk"))
    _auth_options(serve.add_argument_group("who may look (Panel's auth options, as panel serve takes them)"))
    _tls_options(serve.add_argument_group("TLS (Bokeh's options, as panel serve takes them)"))
    serve.add_argument("--log-level", dest="serve_log_level", type=str.upper, default=None,
                       choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help=argparse.SUPPRESS)
    validate = commands.add_parser("validate", help="check a YAML spec and print every problem")
    validate.add_argument("spec", help="the spec file")
    snapshot = commands.add_parser("snapshot", help="save a running dashboard's snapshot (one HTML file)")
    snapshot.add_argument("url", help="the dashboard's address (http://127.0.0.1:5006)")
    snapshot.add_argument("--window", default=None, help="how far back from now (1h, the default; 30m, 7d)")
    snapshot.add_argument("--from", dest="start", default=None, metavar="TIME",
                          help="the range's start (epoch seconds or ISO 8601) instead of --window")
    snapshot.add_argument("--to", dest="end", default=None, metavar="TIME", help="the range's end (default: now)")
    snapshot.add_argument("-o", "--output", default="snapshot.html", help="file to write (default: snapshot.html)")
    snapshot.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it (default: 60)")
    return parser


def _auth_options(group: Any) -> None:
    """The viewer-login options of the serve command: Panel's, passed on as they are, and the project's."""
    group.add_argument("--basic-auth", default=None, metavar="PASSWORD_OR_FILE",
                       help="log viewers in with one password, or a JSON file of {user: password} "
                            "(default: $DASHBOARD_BASIC_AUTH)")
    group.add_argument("--cookie-secret", default=None, metavar="SECRET",
                       help="signs the login cookie (default: $DASHBOARD_COOKIE_SECRET, else one made and kept "
                            "in the data folder, mode 0600)")
    group.add_argument("--oauth-provider", default=None, metavar="NAME",
                       help="an OAuth provider Panel knows (github, gitlab, azure, okta, generic, ...)")
    group.add_argument("--oauth-key", default=None, metavar="KEY", help="the OAuth client id")
    group.add_argument("--oauth-secret", default=None, metavar="SECRET",
                       help="the OAuth client secret (default: $DASHBOARD_OAUTH_SECRET)")
    group.add_argument("--oauth-redirect-uri", default=None, metavar="URI", help="where the provider sends back")
    group.add_argument("--oauth-extra-params", default=None, metavar="JSON",
                       help="extra OAuth parameters, a JSON object (Panel's)")
    group.add_argument("--oauth-encryption-key", default=None, metavar="KEY",
                       help="encrypts the OAuth tokens kept in cookies (Panel's)")
    group.add_argument("--login-endpoint", default=None, metavar="PATH", help="the login page (default: /login)")
    group.add_argument("--logout-endpoint", default=None, metavar="PATH", help="the logout page (default: /logout)")
    group.add_argument("--metrics-public", action="store_true",
                       help="with logins on, /metrics stays open to scrapers without a login")
    group.add_argument("--metrics-token", default=None, metavar="TOKEN",
                       help="with logins on, /metrics also answers 'Authorization: Bearer TOKEN' "
                            "(default: $DASHBOARD_METRICS_TOKEN)")
    group.add_argument("--allow-unauthenticated", action="store_true",
                       help="serve off loopback without a login (refused otherwise; warned at start and on the page)")


def _tls_options(group: Any) -> None:
    """Serving over TLS, directly or behind a proxy that ends it."""
    group.add_argument("--ssl-certfile", default=None, metavar="PATH",
                       help="serve https with this certificate (PEM; the chain after it)")
    group.add_argument("--ssl-keyfile", default=None, metavar="PATH",
                       help="the certificate's private key (PEM; default: in --ssl-certfile)")
    group.add_argument("--use-xheaders", action="store_true",
                       help="behind a proxy: take the client's address and scheme (https) from its "
                            "X-Real-Ip / X-Forwarded-For and X-Forwarded-Proto headers")


def _tls(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of ``pn.serve`` the TLS options ask for; ValueError for a key without a certificate
    or a file that cannot be read."""
    if args.ssl_keyfile and not args.ssl_certfile:
        raise ValueError("--ssl-keyfile needs --ssl-certfile")
    for path in (args.ssl_certfile, args.ssl_keyfile):
        if path is not None and not os.access(path, os.R_OK):
            raise ValueError(f"cannot read {path}")
    kwargs: dict[str, Any] = {"use_xheaders": True} if args.use_xheaders else {}
    if args.ssl_certfile:
        kwargs.update(ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    return kwargs


def _auth(args: argparse.Namespace, section: dict[str, Any]) -> Any:
    """The :class:`~dashboard.auth.AuthOptions` the options, the environment and the spec's ``auth:``
    ``section`` ask for (in that order); ValueError naming what cannot work. A login's cookie secret comes
    from the options, the environment, the spec's variable or the data folder."""
    import dataclasses

    from .auth import AuthOptions, cookie_secret
    from .authspec import auth_values

    spec = auth_values(section, os.environ)

    def secret(given: str | None, field: str) -> str | None:  # the option, DASHBOARD_FIELD, the spec's variable
        return given or os.environ.get(f"DASHBOARD_{field.upper()}") or spec.get(field) or None
    try:
        extra = json.loads(args.oauth_extra_params) if args.oauth_extra_params else {}
    except ValueError as exc:
        raise ValueError(f"--oauth-extra-params: not JSON: {exc}") from None
    if not isinstance(extra, dict):
        raise ValueError("--oauth-extra-params: expected a JSON object")
    options = AuthOptions(
        basic_auth=secret(args.basic_auth, "basic_auth"), cookie_secret=secret(args.cookie_secret, "cookie_secret"),
        oauth_provider=args.oauth_provider or spec.get("oauth_provider"),
        oauth_key=args.oauth_key or spec.get("oauth_key"),
        oauth_secret=secret(args.oauth_secret, "oauth_secret"),
        oauth_redirect_uri=args.oauth_redirect_uri or spec.get("oauth_redirect_uri"),
        oauth_extra_params=extra or spec.get("oauth_extra_params", {}),
        oauth_encryption_key=args.oauth_encryption_key or spec.get("oauth_encryption_key"),
        login_endpoint=args.login_endpoint or spec.get("login_endpoint"),
        logout_endpoint=args.logout_endpoint or spec.get("logout_endpoint"),
        metrics_public=args.metrics_public or spec.get("metrics_public", False),
        metrics_token=secret(args.metrics_token, "metrics_token"),
        allow_unauthenticated=args.allow_unauthenticated, writers=spec.get("writers", ()),
        viewers=spec.get("viewers", ()))
    options.check()
    if options.enabled and not options.cookie_secret:
        folder = args.data_dir or default_data_dir(args.spec)
        options = dataclasses.replace(options, cookie_secret=cookie_secret(folder))
    return options


def _history_options(group: Any) -> None:
    """The options of the history on disk, on ``group`` (an argument group of the serve command)."""
    group.add_argument("--data-dir", default=None, metavar="PATH",
                       help="its folder (default: a per-user data folder, one per spec; printed at start)")
    group.add_argument("--history", action=argparse.BooleanOptionalAction, default=True,
                       help="keep it (default: on; --no-history keeps memory only)")
    group.add_argument("--retention", default=None, metavar="AGE",
                       help="how long raw samples are kept (7d), or per tier: raw=7d,10s=30d,30s=30d,"
                            "minute=90d,5min=1y,15min=1y,hour=2y (the default)")
    group.add_argument("--precision", default=None, metavar="DIGITS",
                       help="significant digits of each value kept on disk (default: 4, within 0.003%%: "
                            "about 2 bytes a sample where every bit costs 7); exact keeps every bit")
    group.add_argument("--max-disk", default=None, metavar="SIZE",
                       help="most bytes (1GiB, 55%% for raw samples, the rest over the aggregate tiers), or "
                            "per tier: raw=800MiB,minute=100MiB (default: no limit)")


class _StderrHandler(logging.StreamHandler):
    """The command line's handler (one per process, however often logging is configured)."""


def configure_logging(level: str) -> None:
    """Send the ``dashboard`` logger's records to stderr at ``level``."""
    logger = logging.getLogger("dashboard")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dashboard`` command."""
    args = _parser().parse_args(argv)
    configure_logging(getattr(args, "serve_log_level", None) or args.log_level)
    if args.command == "validate":
        return _validate(args.spec)
    if args.command == "serve":
        return _serve(args)
    if args.command == "snapshot":
        return _snapshot(args)
    return 2  # pragma: no cover - argparse requires a command


def _load(path: str):
    from .spec import SpecError, load_spec

    try:
        return load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def _validate(path: str) -> int:
    spec = _load(path)
    if spec is None:
        return 1
    alerts = f", {len(spec.alerts)} alert rule(s), {len(spec.receivers)} receiver(s)" if spec.alerts else ""
    print(f"{path}: ok ({len(spec.sources)} source(s), {len(spec.panels)} panel(s){alerts}"
          f"{', with this machine' if spec.system else ''})")
    for note in ambiguous_cards(path, spec):
        print(note)
    return 0


def ambiguous_cards(path: str, spec: Any) -> list[str]:
    """A note for each stat card that names no ``labels:``: which series it shows is decided by the data (a
    spec cannot tell how many series a metric will have)."""
    return [f"{path}:{p.line}: note: panels[{i}]: a stat card on {p.metric!r} without labels: shows one series "
            f"of {p.metric!r} and names it when there are several; give labels: to choose which"
            for i, p in enumerate(spec.panels) if p.type == "stat" and not p.options.get("labels")]


def _snapshot(args: argparse.Namespace) -> int:
    """``dashboard snapshot URL``: GET URL/snapshot with the range asked for, into ``--output``."""
    import httpx

    params = {k: v for k, v in (("window", args.window), ("from", args.start), ("to", args.end)) if v}
    url = args.url.rstrip("/") + "/snapshot"
    try:
        answer = httpx.get(url, params=params, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"dashboard snapshot: {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"dashboard snapshot: {url}: HTTP {answer.status_code}: {answer.text[:300]}", file=sys.stderr)
        return 1
    with open(args.output, "wb") as f:
        f.write(answer.content)
    print(f"{args.output}: {len(answer.content):,} bytes")
    return 0


def _serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        print(f"dashboard serve: --port must be between 1 and 65535, not {args.port}", file=sys.stderr)
        return 2
    if args.ingest_max_bytes < 1:
        print("dashboard serve: --ingest-max-bytes must be at least 1", file=sys.stderr)
        return 2
    from .core.memory import keep_freed_memory
    from .server import ingest_refusal, serve, spec_app

    keep_freed_memory()

    from .auth import refusal as auth_refusal

    spec = None
    if args.spec is not None:
        spec = _load(args.spec)
        if spec is None:
            return 1
    try:
        auth = _auth(args, spec.auth if spec is not None else {})
        tls = _tls(args)
    except (ValueError, OSError) as exc:
        print(f"dashboard serve: {exc}", file=sys.stderr)
        return 2
    if why := auth_refusal(args.address, auth):
        print(f"dashboard serve: {why}", file=sys.stderr)
        return 2
    token = args.ingest_token or os.environ.get("DASHBOARD_INGEST_TOKEN") or None
    if args.ingest and (refusal := ingest_refusal(args.address, token)):
        print(f"dashboard serve: {refusal}", file=sys.stderr)
    try:
        history = _history(args, spec.history if spec is not None else {})
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"dashboard serve: {exc}", file=sys.stderr)
        return 2
    if spec is not None:
        service, dashboard = spec_app(spec, history=history)
        extra = {"service": service, "dashboard": dashboard, "title": spec.title}
    else:
        from .service import MetricsService, default_sources

        service = MetricsService(default_sources(), history=history)
        MetricsService.set_shared(service)
        extra = {"service": service}
    with contextlib.suppress(KeyboardInterrupt):
        origins = [*(args.allow_websocket_origin or ()), *(spec.allow_websocket_origin if spec else ())]
        serve(address=args.address, port=args.port, show=args.show,
              allow_websocket_origin=origins, ingest=args.ingest, ingest_token=token,
              ingest_max_bytes=args.ingest_max_bytes, auth=auth, **tls, **extra)
    return 0


def _history(args: argparse.Namespace, spec: dict[str, str]):
    """The history the options ask for (None with --no-history), the spec's ``history`` under them; prints
    its folder."""
    if not args.history:
        for name in ("data_dir", "retention", "max_disk", "precision"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} has no effect with --no-history")
        print("dashboard serve: history in memory only (--no-history)", file=sys.stderr)
        return None
    from .history import History, Retention

    retention = Retention.parse(args.retention or spec.get("retention"), args.max_disk or spec.get("max_disk"))
    folder = args.data_dir or default_data_dir(args.spec)
    history = History(folder, retention, precision=args.precision or spec.get("precision") or SERVE_PRECISION)
    kept = "every bit" if history.precision is None else f"values to {history.precision} significant digits"
    print(f"dashboard serve: history in {history.folder} ({kept})", file=sys.stderr)
    return history


#: ``dashboard serve``'s default ``--precision``: 4 significant digits (relative error under 0.003%, far
#: below a pixel) is about 2 bytes a sample on disk, where noisy float64 values kept whole cost 7. In
#: Python a history keeps every bit unless asked (``History(folder, precision=4)``).
SERVE_PRECISION = 4


def default_data_dir(spec: str | None) -> str:
    """The per-user data folder of a dashboard: one per spec (by its file name), ``default`` without one."""
    import platformdirs

    name = os.path.splitext(os.path.basename(spec))[0] if spec else "default"
    return os.path.join(platformdirs.user_data_dir("dashboard"), name)


if __name__ == "__main__":
    raise SystemExit(main())
