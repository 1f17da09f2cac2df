"""Command line: ``dashboard serve`` (also ``python -m dashboard serve``).

``dashboard serve`` serves a live dashboard of this machine on ``http://localhost:5006/`` with no
configuration; ``--port``, ``--address``, ``--show/--no-show``, ``--allow-websocket-origin`` and
``--log-level`` adjust it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description="Live metrics for notebooks and servers.")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        help="level of the 'dashboard' logger (default: INFO)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the dashboard over HTTP")
    serve.add_argument("--port", type=int, default=5006, help="port to listen on (default: 5006)")
    serve.add_argument("--address", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--show", action=argparse.BooleanOptionalAction, default=False,
                       help="open a browser once the server is up (default: --no-show)")
    serve.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                       help="another origin allowed to open the websocket (repeatable)")
    serve.add_argument("--log-level", dest="serve_log_level", type=str.upper, default=None,
                       choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help=argparse.SUPPRESS)
    return parser


def configure_logging(level: str) -> None:
    """Send the ``dashboard`` logger's records to stderr at ``level``."""
    logger = logging.getLogger("dashboard")
    logger.setLevel(level)
    if not any(getattr(h, "_dashboard", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._dashboard = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dashboard`` command."""
    args = _parser().parse_args(argv)
    configure_logging(getattr(args, "serve_log_level", None) or args.log_level)
    if args.command == "serve":
        if not 0 < args.port < 65536:
            print(f"dashboard serve: --port must be between 1 and 65535, not {args.port}", file=sys.stderr)
            return 2
        from .server import serve

        with contextlib.suppress(KeyboardInterrupt):
            serve(address=args.address, port=args.port, show=args.show,
                  allow_websocket_origin=args.allow_websocket_origin)
        return 0
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    raise SystemExit(main())
