"""How a flush reaches a viewer, and how the viewer says it has drawn it.

* A served page: the flush's document events go to each of the session's websocket connections as one
  PATCH-DOC message (:func:`commit_to_session`), never interleaved with a message that connection is
  already writing.
* A notebook cell: the flush goes out as one message over the cell's comm (:func:`commit_over_comm`).
* Either way the flush bumps a :class:`FrameAck` counter, which the page sets back after the animation
  frame that drew it: the feed's backpressure.
* Columns change through Bokeh's unvalidated ``_stream`` and ``_patch`` (:func:`stream`, :func:`patch`):
  the feed builds every value itself.

This is the only module of the project that reads private attributes of Bokeh, Panel, Tornado or
pyviz_comms. Each is listed in :data:`PRIVATE`; :func:`missing` looks every one of them up on a live
document, and a test runs it against a real server session and a real comm, so an upgrade that renames
one fails a test instead of silently turning backpressure off or interleaving two messages' frames.
:func:`check` runs it once per process (and kind of viewer) on the first connected flush and logs a
warning naming what is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from bokeh.core.properties import Int
from bokeh.document import Document
from bokeh.document.events import (
    ColumnDataChangedEvent,
    ColumnsPatchedEvent,
    ColumnsStreamedEvent,
    DocumentPatchedEvent,
)
from bokeh.model import DataModel
from bokeh.models import ColumnDataSource, CustomJS
from tornado.websocket import WebSocketClosedError

log = logging.getLogger("dashboard.transport")

#: Every private name this module reads: ``owner.attribute``, as looked up by :func:`missing`.
PRIVATE = (
    "BokehSessionContext._session",  # the document's server session
    "ServerSession._subscribed_connections",  # its websocket connections
    "ServerConnection._socket",  # a connection's WSHandler (whose write_lock is public)
    "tornado.locks.Lock._block",  # the write lock's semaphore
    "tornado.locks.Semaphore._value",  # 0 while a message is being written
    "DocumentCallbackManager._held_events",  # the events of a held document
    "PropertyValueColumnData._stream",  # stream without validation
    "PropertyValueColumnData._patch",  # patch without validation
    "pyviz_comms.Comm._comm",  # the notebook comm, None until the frontend opens it
    "panel Viewable._models",  # a pane's models per root (LivePane registers the views it builds)
    "panel state._views",  # a notebook cell's root -> (viewable, root, doc, comm)
    "panel Viewable._comms",  # a displayed root -> (its comm, the client comm the page sends on)
    "pyviz_comms.Comm._on_msg",  # the client comm's handler of the page's messages
)


class FrameAck(DataModel):
    """Per document: ``sent`` counts flushes, the page sets ``painted`` after the frame that drew one."""

    sent = Int(default=0, help="Flushes sent to this document.")
    painted = Int(default=0, help="The last flush the page has drawn.")


#: In a notebook, Panel's page-side ``CommManager`` sends every change of the cell's document back to the
#: kernel, those the kernel itself made included (Bokeh's own client session drops the ones it applied from
#: the other side: their ``sync`` is false). The kernel then applies its own streams and patches a second
#: time, late: the columns it holds drift from the page's, and the next patch lands on the wrong rows (a row
#: twice, or out of time order, in every plot at once). The first flush a cell's page receives makes every
#: CommManager forward only the page's own changes, as Bokeh's client does, and drops the echoes already
#: queued.
_SYNC_ONLY_JS = """
if (!ack.__sync_only && ack.document != null) {
  ack.__sync_only = true
  const own = (e) => e.sync !== false
  for (const m of ack.document.all_models) {
    if (!Array.isArray(m._event_buffer) || typeof m._document_changed !== 'function') continue
    const proto = Object.getPrototypeOf(m)
    if (!proto.__sync_only) {
      const forward = proto._document_changed
      proto._document_changed = function (event) {
        const events = Array.isArray(event.events) ? event.events : [event]
        if (own(event)) for (const e of events) if (own(e)) forward.call(this, e)
      }
      proto.__sync_only = true
    }
    m._event_buffer = m._event_buffer.filter(own)
  }
}
"""

_ACK_JS = """
const ack = cb_obj
""" + _SYNC_ONLY_JS + """
requestAnimationFrame(() => setTimeout(() => { ack.painted = ack.sent }, 0))
"""


def frame_ack() -> FrameAck:
    """A new acknowledgement counter whose page side answers after the next animation frame."""
    ack = FrameAck()
    ack.js_on_change("sent", CustomJS(code=_ACK_JS))
    return ack


# -- the private lookups, one function each --------------------------------------------------------------
def connections(doc: Document) -> list[Any]:
    """The websocket connections of a served document (none for a notebook's or a plain document)."""
    if doc.session_context is None:
        return []
    session = doc.session_context._session
    return [] if session is None else list(session._subscribed_connections)


def close_connections(doc: Document) -> int:
    """Close the websockets of a served document (its page shows that it lost the server); how many."""
    closed = 0
    for connection in connections(doc):
        connection._socket.close(1000, "logged out")
        closed += 1
    return closed


def writing(connection: Any) -> bool:
    """Whether ``connection`` is in the middle of writing a message (its write lock is taken)."""
    return connection._socket.write_lock._block._value == 0


def comm_open(comm: Any) -> bool:
    """Whether the frontend has opened a notebook comm."""
    return bool(comm._comm)


def stream(doc: Document, cds: ColumnDataSource, new: dict[str, Any], rollover: int) -> None:
    """Append ``new`` to ``cds`` keeping ``rollover`` rows, without property validation."""
    cds.data._stream(doc, cds, new, rollover)
    _absorb(cds)


def replace(cds: ColumnDataSource, data: dict[str, Any]) -> None:
    """Replace every column of ``cds``; what was held for its columns (a notebook's document until its
    comm sends) is superseded, and dropped."""
    doc = cds.document
    if doc is not None and doc.callbacks.hold_value:
        data_events = (ColumnDataChangedEvent, ColumnsStreamedEvent, ColumnsPatchedEvent)
        doc.callbacks._held_events = [e for e in doc.callbacks._held_events
                                      if not (isinstance(e, data_events) and e.model is cds)]
    cds.data = data


def patch(doc: Document, cds: ColumnDataSource, patches: dict[str, list[tuple[slice, Any]]]) -> None:
    """Overwrite rows of ``cds`` in place, without property validation."""
    cds.data._patch(doc, cds, patches)
    _absorb(cds)


def _absorb(cds: ColumnDataSource) -> None:
    """Under a hold (a notebook's document until its comm sends), a held change of ``cds``'s columns goes
    out with the columns as they are when it is sent, so it carries the rows streamed or patched since:
    those events would add them a second time, after newer rows (a line drawn back across the plot, and
    columns of unequal length). The held change then sends every column, and they are dropped."""
    doc = cds.document
    if doc is None or not doc.callbacks.hold_value:
        return
    held = doc.callbacks._held_events
    first = next((i for i, e in enumerate(held) if isinstance(e, ColumnDataChangedEvent) and e.model is cds), None)
    if first is None:
        return
    for event in held[first:]:
        if isinstance(event, ColumnDataChangedEvent) and event.model is cds:
            event.cols = None
    doc.callbacks._held_events = held[:first + 1] + [
        e for e in held[first + 1:]
        if not (isinstance(e, (ColumnsStreamedEvent, ColumnsPatchedEvent, ColumnDataChangedEvent)) and e.model is cds)]


def register_model(pane: Any, ref: str, model: Any, parent: Any) -> None:
    """Record a model a pane built for the root ``ref`` (Panel updates and cleans up what it records)."""
    pane._models[ref] = (model, parent)


def missing(doc: Document | None = None, comm: Any = None) -> list[str]:
    """The entries of :data:`PRIVATE` that cannot be found: the class-level ones always, and through a
    served ``doc`` with a connected page and an opened ``comm`` the instance-level ones too."""
    import panel as pn
    from bokeh.core.property.wrappers import PropertyValueColumnData
    from bokeh.document.callbacks import DocumentCallbackManager
    from tornado.locks import Lock

    gone = [name for owner, attr, name in (
        (PropertyValueColumnData, "_stream", PRIVATE[6]), (PropertyValueColumnData, "_patch", PRIVATE[7]),
    ) if not callable(getattr(owner, attr, None))]
    if not hasattr(DocumentCallbackManager(Document()), "_held_events"):
        gone.append(PRIVATE[5])
    lock = Lock()
    if not hasattr(lock, "_block"):
        gone.append(PRIVATE[3])
    elif not hasattr(lock._block, "_value"):
        gone.append(PRIVATE[4])
    if not isinstance(getattr(pn.Spacer(), "_models", None), dict):
        gone.append(PRIVATE[9])
    if not isinstance(getattr(pn.state, "_views", None), dict):
        gone.append(PRIVATE[10])
    if not isinstance(getattr(pn.Spacer(), "_comms", None), dict):
        gone.append(PRIVATE[11])
    if doc is not None:
        gone += _session_chain_missing(doc)
    if comm is not None and not hasattr(comm, "_comm"):
        gone.append(PRIVATE[8])
    if comm is not None and not hasattr(comm, "_on_msg"):
        gone.append(PRIVATE[12])
    return gone


def _session_chain_missing(doc: Document) -> list[str]:
    context = doc.session_context
    if not hasattr(context, "_session"):
        return [PRIVATE[0]]
    if not hasattr(context._session, "_subscribed_connections"):
        return [PRIVATE[1]]
    conns = list(context._session._subscribed_connections)
    if conns and not hasattr(conns[0], "_socket"):
        return [PRIVATE[2]]
    return []


_checked: set[str] = set()


def check(doc: Document | None, comm: Any = None) -> None:
    """Look the private names up once per process for each kind of viewer (a served page, a notebook comm):
    what is installed does not change, and each lookup builds a document of its own."""
    kind = "comm" if comm is not None else "session"
    if kind in _checked:
        return
    _checked.add(kind)
    gone = missing(None if comm is not None else doc, comm)
    if gone:
        log.warning("this Bokeh/Panel/Tornado lacks %s: backpressure or message framing may not work",
                    ", ".join(gone))


# -- a notebook cell's messages, on the loop ---------------------------------------------------------------
def page_messages_on_loop(doc: Document, loop: asyncio.AbstractEventLoop, thread: int) -> int:
    """Handle what a notebook cell's page sends (a click, a zoom, a frame's acknowledgement) on ``loop``, whose
    thread (``thread``) collects and flushes into ``doc``; how many of the cell's comms were rerouted.

    JupyterLab 4.4 and later, with ipykernel 7, hand each comm's messages to a kernel subshell: a thread of
    its own. Panel applies the page's changes to the cell's document there, while the loop streams into the
    same document; a Bokeh document is not thread-safe, and the two threads lost or interleaved events (a
    resume that never drew, a reset tool that never went back to live). Here each message is queued to the
    loop instead, in order (the subshell acknowledges it at once, so the page's next message is not held).
    """
    from panel.io.state import state

    rerouted = 0
    for root in doc.roots:
        ref = root.ref["id"]
        viewable = state._views.get(ref, (None,))[0]
        client = getattr(viewable, "_comms", {}).get(ref, (None, None))[1]
        if client is None or getattr(client, "_dashboard_loop", None) is loop or client._on_msg is None:
            continue
        client._on_msg = _on_loop(client._on_msg, loop, thread)
        client._dashboard_loop = loop
        rerouted += 1
    return rerouted


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The calling thread's running event loop, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _on_loop(handler: Callable[[Any], None], loop: asyncio.AbstractEventLoop,
             thread: int) -> Callable[[Any], None]:
    def run(msg: Any) -> None:
        try:
            handler(msg)
        except Exception:
            log.exception("a notebook page's message failed")

    def on_msg(msg: Any) -> None:
        if threading.get_ident() == thread or loop.is_closed():
            handler(msg)
        else:
            loop.call_soon_threadsafe(run, msg)
    return on_msg


# -- delivery -------------------------------------------------------------------------------------------
def commit_to_session(doc: Document, work: Callable[[], None]) -> None:
    """Apply ``work`` under a hold and send its events to each connection as one PATCH-DOC message.

    Bokeh would send one message per event when the hold is released. When a connection is in the middle
    of writing another message (its write lock is taken), the frames of two messages must not interleave:
    then the events go out the ordinary way.
    """
    if doc.callbacks.hold_value:  # someone else holds the document: their release sends our events too
        work()
        return
    doc.hold("combine")
    try:
        work()
    finally:
        targets = connections(doc)
        events = doc.callbacks._held_events
        patches = [e for e in events if isinstance(e, DocumentPatchedEvent)]
        if patches and targets and not any(writing(c) for c in targets):
            doc.callbacks._held_events = [e for e in events if not isinstance(e, DocumentPatchedEvent)]
            for connection in targets:
                _send_patch(connection, patches)
        doc.unhold()


def _send_patch(connection: Any, patches: list[DocumentPatchedEvent]) -> None:
    """One PATCH-DOC message to ``connection``, frame by frame (as Panel's ``dispatch_tornado`` writes it),
    each frame's outcome looked at: a page that closes mid-message is normal, not an error to log."""
    from tornado.websocket import WebSocketHandler

    socket = connection._socket
    ws = getattr(socket, "ws_connection", None)
    if ws is None or ws.is_closing():
        return
    msg = connection.protocol.create("PATCH-DOC", patches)
    frames: list[tuple[Any, bool]] = [(msg.header_json, False), (msg.metadata_json, False),
                                      (msg.content_json, False)]
    for buffer in msg._buffers:
        frames += [(json.dumps(buffer.ref), False), (buffer.to_bytes(), True)]
    for payload, binary in frames:
        try:
            future = WebSocketHandler.write_message(socket, payload, binary=binary)
        except WebSocketClosedError:  # the page went away meanwhile; its session is closing
            log.debug("a viewer's websocket closed before a patch could be sent")
            return
        future.add_done_callback(_ignore_closed)


def _ignore_closed(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("a viewer's websocket closed while a patch was being sent: %s", future.exception())


def commit_over_comm(doc: Document, comm: Any, work: Callable[[], None]) -> None:
    """Apply ``work`` under a hold and send every held event as one message over a notebook comm.

    Until the frontend has opened the comm, events stay held in the document and go out, in order, with
    the first message after it opens. (Panel's ``push`` would instead re-send each message 100 ms later,
    and a later message could overtake the one that defines the models it refers to.) The hold collects
    rather than combines: Bokeh would merge a later stream into an earlier one of the same source, ahead
    of the patch of provisional rows between them, whose row numbers are then off by what the merged
    stream rolled over (a stale row left behind, a line drawn back across the plot).
    """
    from panel.io.notebook import push

    if not doc.callbacks.hold_value:
        doc.hold("collect")
    work()
    if comm_open(comm):
        push(doc, comm)
