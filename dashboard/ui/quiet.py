"""A quiet log: what is normal when a page goes away is logged at debug level, not as a traceback.

A traceback in a served run's log means a bug (a test fails on one). A page that closes while a message is
being written to it, or while it is still opening on a busy server, is normal: these filters and the loop's
exception handler say so at debug level and pass everything else on unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

log = logging.getLogger("dashboard.transport")


def quiet_closed_sockets(loop: Any) -> None:
    """Make ``loop`` log a websocket write that failed because its page went away at debug level, not as
    "Task exception was never retrieved" with two tracebacks: Panel drops the write tasks of a session it
    destroys, and one that had already failed is reported when it is collected. Anything else goes to the
    handler the loop had. Idempotent."""
    previous = loop.get_exception_handler()
    if getattr(previous, "quiet_closed_sockets", False):
        return

    def handler(loop: Any, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), (WebSocketClosedError, StreamClosedError)):
            log.debug("a viewer's websocket closed mid-message: %s", context.get("message"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.quiet_closed_sockets = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
    quiet_detached_sessions()


class DetachedSession(logging.Filter):
    """Bokeh's server asserts when a page's last message, or its close, reaches a connection whose session
    it has already let go: a page closed while it was still opening, on a busy server (``assert
    self._session is not None`` in ``ServerConnection.session``, logged with a traceback by Bokeh's protocol
    handler and by Tornado). The page is gone and nothing of anyone else's is lost: logged at debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, AssertionError) and _raised_in_connection_session(exc):
            log.debug("a viewer's page closed while its session was let go: %s", record.getMessage()[:200])
            return False
        return True


def _raised_in_connection_session(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    return code is not None and code.co_name == "session" and code.co_filename.replace("\\", "/").endswith(
        "bokeh/server/connection.py")


class ClosedBeforeSend(logging.Filter):
    """Bokeh's websocket handler warns "Failed sending message as connection was closed" for every message
    still queued when a page goes away (a viewer closing a tab while it streams): normal, logged at debug."""

    MESSAGE = "Failed sending message as connection was closed"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE and not record.exc_info:
            log.debug("a viewer's page closed before a message reached it")
            return False
        return True


def quiet_detached_sessions() -> None:
    """Install :class:`DetachedSession` on the loggers that report it (Bokeh's protocol handler and
    Tornado's uncaught exceptions), and :class:`ClosedBeforeSend` on Bokeh's websocket handler's.
    Idempotent."""
    for name, kind in (("bokeh.server.protocol_handler", DetachedSession),
                       ("tornado.application", DetachedSession), ("bokeh.server.views.ws", ClosedBeforeSend)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
