"""A page that closes while it opens makes Bokeh's server assert in ``ServerConnection.session``: logged at
debug by the dashboard's filter, never as a traceback; any other error still is."""

from __future__ import annotations

import logging

from bokeh.server.connection import ServerConnection

from dashboard.ui import quiet, transport


def _detached_assertion() -> AssertionError:
    connection = ServerConnection.__new__(ServerConnection)
    connection._session = None  # what Bokeh leaves once it has let the session go
    try:
        connection.session  # noqa: B018
    except AssertionError as exc:
        return exc
    raise RuntimeError("Bokeh no longer asserts here")


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_detached_session_s_assertion_is_quiet_and_other_errors_are_not(caplog):
    kept = _Kept()  # the transport's own debug line, whatever levels other tests left on its parents
    transport.log.addHandler(kept)
    previous = transport.log.level
    transport.log.setLevel(logging.DEBUG)
    quiet.quiet_detached_sessions()
    quiet.quiet_detached_sessions()  # idempotent
    handler = logging.getLogger("bokeh.server.protocol_handler")
    assert sum(isinstance(f, quiet.DetachedSession) for f in handler.filters) == 1
    exc = _detached_assertion()
    with caplog.at_level(logging.DEBUG):
        handler.error("error handling message", exc_info=(type(exc), exc, exc.__traceback__))
        logging.getLogger("tornado.application").error("Uncaught exception GET /ws",
                                                       exc_info=(type(exc), exc, exc.__traceback__))
        try:
            raise AssertionError("something else")
        except AssertionError as other:
            handler.error("error handling message", exc_info=(type(other), other, other.__traceback__))
    transport.log.removeHandler(kept)
    transport.log.setLevel(previous)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[1].args for r in errors] == [("something else",)]
    assert sum("closed while its session was let go" in m for m in kept.messages) == 2


def test_a_message_to_a_closed_page_is_not_a_warning(caplog):
    quiet.quiet_detached_sessions()
    ws = logging.getLogger("bokeh.server.views.ws")
    assert sum(isinstance(f, quiet.ClosedBeforeSend) for f in ws.filters) == 1
    with caplog.at_level(logging.DEBUG):
        ws.warning("Failed sending message as connection was closed")  # Bokeh's words, on a closed page
        ws.warning("Failed sending message as connection was closed: %s", "other")  # not the same record
    assert [r.getMessage() for r in caplog.records if r.name == ws.name] == [
        "Failed sending message as connection was closed: other"]
