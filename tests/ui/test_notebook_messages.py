"""A notebook cell's page messages are handled on the event loop that streams into the cell's document.

JupyterLab 4.4 and later hand each comm's messages to a kernel subshell (ipykernel 7): a thread of its own.
Panel applied the page's changes to the cell's document there while the loop streamed into it, and the
explore notebook's resume or reset tool sometimes never took effect. The test sends Panel's own handler
real PATCH-DOC messages from another thread, as the subshell does.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import panel as pn
import pyviz_comms
from bokeh.document import Document

from dashboard.ui import transport

from ..support import async_poll


def _toggled(model_id: str, active: bool) -> dict:
    """The message a page sends when its toggle is clicked, as pyviz_comms hands it to the handler."""
    return {"header": {"msgid": uuid.uuid4().hex, "msgtype": "PATCH-DOC"}, "metadata": {}, "_buffers": {},
            "content": {"events": [{"kind": "ModelChanged", "model": {"id": model_id}, "attr": "active",
                                    "new": active}]}}


async def test_a_notebook_page_s_messages_are_handled_on_the_loop_in_order_not_in_the_subshell(monkeypatch):
    monkeypatch.setattr(pn.state, "_indicators", [])  # busy indicators other tests made would start tasks
    loop = asyncio.get_running_loop()
    toggle = pn.widgets.Toggle(label="Pause")
    row = pn.Row(toggle)
    doc, comm = Document(), pyviz_comms.Comm()
    root = row.get_root(doc, comm)
    row._render_mimebundle(root, doc, comm)  # displayed: Panel opens the client comm the page sends on
    ref = root.ref["id"]
    client = row._comms[ref][1]
    model_id = toggle._models[ref][0].ref["id"]
    seen: list[tuple[bool, int]] = []
    toggle.param.watch(lambda e: seen.append((e.new, threading.get_ident())), "value")

    assert transport.page_messages_on_loop(doc, loop, threading.get_ident()) == 1
    assert transport.page_messages_on_loop(doc, loop, threading.get_ident()) == 0, "once per comm"
    subshell = threading.Thread(target=lambda: [client._on_msg(_toggled(model_id, a)) for a in (True, False, True)])
    subshell.start()
    subshell.join(timeout=10)
    assert seen == [], "nothing applied in the subshell's thread"
    await async_poll(lambda: len(seen) == 3, timeout=10, what="the three clicks applied on the loop")
    assert seen == [(True, threading.get_ident()), (False, threading.get_ident()), (True, threading.get_ident())]
    assert toggle.value is True

    client._on_msg(_toggled(model_id, False))  # from the loop's own thread: at once
    assert toggle.value is False
    _stop_panels_busy_cleanup()


def _stop_panels_busy_cleanup() -> None:
    """Panel starts a process-wide periodic task when it first handles a page's event; this test's process
    has no other use for it (the leak check counts it)."""
    cleanup = pn.state._busy_cleanup_scheduled
    if cleanup is not None:
        cleanup.stop()
        pn.state._busy_cleanup_scheduled = None
