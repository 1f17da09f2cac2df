"""The servable app, shared by ``dashboard serve``, ``python -m dashboard serve`` and ``panel serve``.

``build_app()`` runs once per session: it makes sure the process's one
:class:`~dashboard.service.MetricsService` is started in the server's event loop and returns a fresh
:class:`~dashboard.ui.layout.MetricsDashboard` for that session. ``serve()`` starts a Bokeh/Panel server
on loopback by default, with websocket origins restricted to the address that was asked for.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

import panel as pn

from .service import MetricsService
from .ui.layout import MetricsDashboard

log = logging.getLogger("dashboard.server")

TITLE = "dashboard"


def build_app(service: MetricsService | None = None) -> MetricsDashboard:
    """A dashboard of ``service`` (the shared one by default) for one session; starts the service."""
    service = service or MetricsService.shared()
    service.start()
    return MetricsDashboard(service=service)


def websocket_origins(address: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The origins a browser may open the websocket from: the address asked for, nothing wider."""
    origins = [f"{address}:{port}"]
    if _is_loopback(address):
        origins += [f"localhost:{port}", f"127.0.0.1:{port}"]
    return sorted(set(origins) | set(extra))


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def serve(address: str = "127.0.0.1", port: int = 5006, show: bool = False,
          allow_websocket_origin: Sequence[str] = (), service: MetricsService | None = None,
          **kwargs: Any) -> None:
    """Serve the dashboard at ``http://ADDRESS:PORT/`` until interrupted."""
    service = service or MetricsService.shared()
    origins = websocket_origins(address, port, allow_websocket_origin)
    log.info("serving on http://%s:%d/ (websocket origins: %s)", address, port, ", ".join(origins))
    pn.serve(
        lambda: build_app(service), address=address, port=port, show=show, title=TITLE,
        websocket_origin=origins, threaded=False, print_url=True, **kwargs)
