"""The transport's private names are looked up once per process and kind of viewer, loudly when gone."""

from __future__ import annotations

import logging

from dashboard.ui import transport


class CommWithoutPrivates:
    """A comm as a pyviz_comms that renamed ``_comm`` would make it."""


def test_check_warns_once_naming_what_is_gone(monkeypatch, caplog):
    monkeypatch.setattr(transport, "_checked", set())
    caplog.set_level(logging.WARNING, logger="dashboard.transport")
    transport.check(None, CommWithoutPrivates())
    transport.check(None, CommWithoutPrivates())
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "pyviz_comms.Comm._comm" in warnings[0]
    transport.check(None)  # a served page: its own kind, checked once too (nothing is gone here)
    assert transport._checked == {"comm", "session"} and len(caplog.records) == 1


def test_a_write_to_a_closed_page_is_no_traceback_and_other_errors_still_are():
    """Panel drops the write tasks of a session it destroys; one that had already failed because its page
    closed is reported when collected, as "Task exception was never retrieved" with two tracebacks.
    The served loop logs that at debug level; any other unretrieved exception is reported as before."""
    import asyncio
    import gc

    from tornado.websocket import WebSocketClosedError

    from dashboard.ui import quiet

    seen: list[dict] = []
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(lambda _loop, context: seen.append(context))
        quiet.quiet_closed_sockets(loop)
        quiet.quiet_closed_sockets(loop)  # idempotent: still one layer

        async def fail(exc: BaseException) -> None:
            raise exc

        for exc in (WebSocketClosedError(), RuntimeError("a bug")):
            task = loop.create_task(fail(exc))
            loop.run_until_complete(asyncio.wait([task]))
            del task
            gc.collect()
    finally:
        loop.close()
    assert [type(c.get("exception")).__name__ for c in seen] == ["RuntimeError"]
