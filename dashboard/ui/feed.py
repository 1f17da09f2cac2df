"""The feed: one per viewer, the only code that writes a metrics flush into a Bokeh document.

A viewer is one Bokeh document: a ``panel serve`` session, a notebook cell's output, an embedded page.
Its :class:`Feed` keeps one ``ColumnDataSource`` per topic (:mod:`dashboard.ui.topics`), shared by its
plots, with a ``time`` column (milliseconds) and one float64 column per series shown. At most once per
``dashboard.config.flush_interval`` it brings each ``ColumnDataSource`` up to date with its topic: it
patches the rows of the open bucket it already holds and streams the rows that are new, refreshes its
cards and tables, and sends all of it as one message (:mod:`dashboard.ui.transport`).

* Backpressure, latest wins: each flush bumps a counter that the page acknowledges after its next
  animation frame. While ``max_in_flight`` flushes are unacknowledged the feed sends nothing; when the
  page catches up, one flush brings it to the newest state. A slow page gets fewer, larger updates, never
  a queue, and slows no other viewer. A viewer that never acknowledges (a ``bokeh.client`` session has no
  JavaScript) gets one flush per ``ack_timeout`` beyond ``max_in_flight``; raise ``max_in_flight`` for
  such viewers.
* Series that a view wants and that appear later get a column and a line.
* A feed closes when its session is destroyed, when its last view is cleaned up, or when it is closed; the
  hub unsubscribes with its last feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from bokeh.core.property.validation import validate
from bokeh.document import Document
from bokeh.models import ColumnDataSource

from ..alerts.engine import AlertEvent
from ..annotations import Annotation
from ..config import config
from ..core.batching import BatchProcessor
from ..metrics.model import Batch, SeriesKey
from ..service import MetricsService, SourceEvent
from . import transport
from .columns import TopicColumns
from .topics import Hub, Topic
from .viewer import ViewerControls

log = logging.getLogger("dashboard.feed")


class LiveView(Protocol):
    """What a component renders per viewer; the feed drives it."""

    model: Any

    def accepts(self, key: SeriesKey) -> bool:
        """Whether this view shows ``key``."""

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        """Draw ``key``, whose values live in ``cds.data[column]``."""

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        """Update derived properties after a flush (labels, tables)."""


class Feed(ViewerControls):
    """Streams a service's metrics into one Bokeh document."""

    _feeds: weakref.WeakKeyDictionary[Document, Feed] = weakref.WeakKeyDictionary()

    @classmethod
    def attach(cls, doc: Document, service: MetricsService, comm: Any = None) -> Feed:
        """The document's open feed for ``service``, created on first use."""
        feed = cls._feeds.get(doc)
        if feed is None or feed.closed:
            feed = cls._feeds[doc] = cls(doc, service, comm)
        elif feed.service is not service:
            raise ValueError("a document can show one metrics service; this one already shows "
                             f"{feed.service.name!r}")
        return feed

    @classmethod
    def for_document(cls, doc: Document) -> Feed | None:
        """The open feed of ``doc``, if any."""
        feed = cls._feeds.get(doc)
        return None if feed is None or feed.closed else feed

    @classmethod
    def open_feeds(cls) -> list[Feed]:
        return [f for f in list(cls._feeds.values()) if not f.closed]

    def __init__(self, doc: Document, service: MetricsService, comm: Any = None,
                 flush_interval: float | None = None) -> None:
        self._doc = weakref.ref(doc)
        self.service = service
        self.comm = comm
        # a notebook cell's page messages are handled on this loop's thread (transport.page_messages_on_loop)
        self._loop, self._thread, self._messages_on_loop = transport.running_loop(), threading.get_ident(), False
        self._flush_interval = flush_interval  # None: follow dashboard.config
        self.columns: dict[str, TopicColumns] = {}
        self.views: list[LiveView] = []
        self.closed = False
        self.flushes = 0
        self.rows_streamed = 0
        self.held_back = 0  # flushes postponed because the page had not drawn the previous ones
        self.events_dropped = 0
        self._init_view()
        self._range_pending = False
        self._shared: dict[str, Any] = {}  # models every view of this viewer shares (the crosshair)
        self.paused_flushes = 0  # flushes that sent no rows because the viewer was paused
        self.ack = transport.frame_ack()
        self.ack.on_change("painted", self._on_ack)
        self._acked = 0
        self._acks_seen = False
        self._unacked_since: float | None = None
        self._events: list[SourceEvent] = []
        self._new_keys: list[tuple[str, SeriesKey]] = []
        # series already decided (drawn, or wanted by no view): a batch of them is not news, so a flush of
        # known series never enters a freeze (leaving one recomputes the document's whole model graph)
        self._decided: set[tuple[str, SeriesKey]] = set()
        self._drawn: set[tuple[int, SeriesKey]] = set()  # (id of a view, a series it draws)
        self._dirty = False
        self._commit_scheduled = False
        self._waiting_for_page = False
        # at most one flush per interval, at once when the last one is older than that
        self._processor: BatchProcessor[Any] = BatchProcessor(
            self._due, max_delay=0.0, min_interval=self.flush_interval, name=f"feed:{id(doc):x}")
        self.hub = Hub.of(service)
        self.hub.join(self)
        if doc.session_context is not None:
            doc.on_session_destroyed(self._on_session_destroyed)
        log.debug("feed opened for document %x (%d feeds)", id(doc), len(self.hub.feeds))

    @property
    def doc(self) -> Document | None:
        return self._doc()

    @property
    def flush_interval(self) -> float:
        """Seconds between two flushes (``dashboard.config.flush_interval`` unless given)."""
        return config.flush_interval if self._flush_interval is None else self._flush_interval

    @property
    def in_flight(self) -> int:
        """Flushes sent that the page has not yet acknowledged."""
        return self.ack.sent - self._acked

    # -- views and columns ----------------------------------------------------------------------------------
    def add_view(self, view: LiveView) -> None:
        """Register ``view`` and draw every known series it accepts, from the store's window."""
        self.views.append(view)
        self._decided.clear()  # a series no view wanted may be this one's
        model = getattr(view, "model", None)
        if model is not None:  # keeps the acknowledgement model in the document
            model.tags = [*model.tags, self.ack]
        # a view built for a page not yet sent is in no document: its lines cost no recompute to add
        attached = model is not None and model.document is not None
        with self._frozen() if attached else contextlib.nullcontext():
            for key in self.service.store.keys():
                if view.accepts(key):
                    self._draw(view, key)
        view.refresh(self, [])

    def _draw(self, view: LiveView, key: SeriesKey) -> None:
        self._drawn.add((id(view), key))
        cds, column = self.column(key)
        view.add_series(key, cds, column)

    def _frozen(self) -> contextlib.AbstractContextManager[Any]:
        """Defer the document's model-graph recompute to the end of a block. Each list assignment on a live
        document (a line, a hover's renderers, a legend's items) recomputes the whole graph otherwise: 50
        series added to one plot of an 11-plot document took 20 s, 200 took 106 s."""
        doc = self.doc
        return doc.models.freeze() if doc is not None else contextlib.nullcontext()

    def remove_view(self, view: LiveView) -> None:
        """Forget ``view``; the feed closes with its last view."""
        if view in self.views:
            self.views.remove(view)
            self._drawn = {drawn for drawn in self._drawn if drawn[0] != id(view)}
        if not self.views:
            self.close()

    def column(self, key: SeriesKey) -> tuple[ColumnDataSource, str]:
        """The viewer's (ColumnDataSource, column name) for ``key``, created with the topic's rows."""
        source_name = self.service.store.source_of(key) if key in self.service.store else None
        if source_name is None:
            raise KeyError(f"{key} is not in the store")
        topic = self.hub.topic(source_name, key, self.view_window)
        index = topic.ensure(key)
        name = self.hub.topic_name(source_name, key)
        sc = self.columns.get(name)
        if sc is None:
            sc = self.columns[name] = TopicColumns.start(topic, key, index, self.view_window)
            self._pace()
        return sc.cds, sc.add(key, index)

    def _pace(self) -> None:
        """At most four flushes per bucket of the finest source shown (and at least one a second): a long
        window moves by a pixel every few seconds, and redrawing it faster shows nothing new."""
        finest = min(sc.topic.decimator.width for sc in self.columns.values())
        self._processor.min_interval = max(self.flush_interval, min(1.0, finest / 4), self.refresh or 0.0)

    # -- delivery ---------------------------------------------------------------------------------------------
    def receive(self, item: Any) -> None:
        """Called by the hub for every published item."""
        if self.doc is None:  # the document was collected without a cleanup: stop listening
            self.close()
            return
        if self.closed:
            return
        if isinstance(item, (SourceEvent, Annotation, AlertEvent)):  # the plots draw annotations and alerts
            self._events.append(item)
            if len(self._events) > config.max_pending:
                del self._events[0]
                self.events_dropped += 1
        elif isinstance(item, Batch):
            if not len(item):
                return
            for k in item.keys:
                if (item.source, k) not in self._decided:
                    self._new_keys.append((item.source, k))
        self._dirty = True
        self._wake()

    def _wake(self) -> None:
        if not self.closed and not self._commit_scheduled:
            self._processor.add(None)  # a marker: the state to send lives in the topics and in _events

    def _flush_now(self) -> None:
        """Send the viewer's state at once (at the next tick of a served session): a change the viewer asked
        for (a zoom, a window, a resume) waits for neither the flush interval nor the page's acknowledgement."""
        doc = self.doc
        if self.closed or doc is None:
            return
        if self._loop is not None and threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self._flush_now)  # (a widget of another cell: its comm's thread)
            return
        self._dirty = True
        if self.comm is None and doc.session_context is not None:
            if not self._commit_scheduled:
                self._commit_scheduled = True
                doc.add_next_tick_callback(self._commit)
        else:
            self._commit()

    def _due(self, _markers: list[Any]) -> None:
        """Called by the batch processor at most once per flush interval."""
        doc = self.doc
        if self.closed or doc is None or not self._dirty or self._commit_scheduled:
            return
        if self._held_back(asyncio.get_running_loop().time()):
            self._waiting_for_page = True  # latest wins: the ack's arrival sends everything since
            self.held_back += 1
            return
        if self.comm is None and doc.session_context is not None:
            self._commit_scheduled = True
            doc.add_next_tick_callback(self._commit)
        else:
            self._commit()

    def _held_back(self, now: float) -> bool:
        if self.comm is not None or self.in_flight < config.max_in_flight:
            return False  # a notebook's comm brought acknowledgements back late (a 5 s stall seen at start)
        if not self._acks_seen and self._unacked_since is not None \
                and now - self._unacked_since > config.ack_timeout:
            self._unacked_since = now  # never acknowledged yet: one more flush per timeout, not a flood
            return False
        return True

    def _on_ack(self, _attr: str, _old: int, new: int) -> None:
        self._acks_seen = True
        self._acked = max(self._acked, min(int(new), self.ack.sent))
        self._unacked_since = None if self.in_flight == 0 else asyncio.get_running_loop().time()
        if self._waiting_for_page and self.in_flight < config.max_in_flight:
            self._waiting_for_page = False
            self._wake()

    def _commit(self) -> None:
        self._commit_scheduled = False
        doc = self.doc
        if self.closed or doc is None:
            return
        if self.comm is not None:
            if not self._messages_on_loop and self._loop is not None:
                self._messages_on_loop = transport.page_messages_on_loop(doc, self._loop, self._thread) > 0
            transport.commit_over_comm(doc, self.comm, self.apply)
        elif doc.session_context is not None:
            transport.commit_to_session(doc, self.apply)
        else:
            self.apply()
        if self._dirty:  # something arrived while this flush was waiting for its tick
            self._wake()

    def apply(self) -> None:
        """Bring every source and view of the viewer up to date (document lock held). While frozen (paused,
        held at a range, refresh off), only the views that show state rather than data (``while_paused``)
        follow, and only when a source changed state; rows and new series wait for the viewer to go on."""
        self._dirty = False
        events, self._events = self._events, []
        view_changed, self._range_pending = self._range_pending, False
        if view_changed:
            self._signal_range()
        if self.frozen:
            self._apply_frozen(events, view_changed)
            return
        changed = bool(events)
        wanted = self._wanted_series() if self._new_keys else []
        if wanted:  # one model-graph recompute for every series added, not one per list assignment
            with self._frozen():  # (only then: leaving a freeze recomputes the whole document's graph)
                for view, key in wanted:
                    self._draw(view, key)
            changed = True
        with validate(False):  # the feed builds every value itself: no property validation on the hot path
            for sc in self.columns.values():
                streamed = sc.sync(self.doc, self.view_window)
                if streamed is not None:
                    changed = True
                    self.rows_streamed += streamed
        if changed or view_changed:
            self._refresh(self.views, events)

    def _apply_frozen(self, events: list[SourceEvent], view_changed: bool) -> None:
        if self.held is not None and self._held_shown != self.held:
            self._show_held()
            view_changed = True
        if view_changed:
            self._refresh(self.views, events)
            return
        self.paused_flushes += 1
        marked = any(isinstance(e, (Annotation, AlertEvent)) for e in events)  # a held view shows them too
        views = [v for v in self.views if marked or getattr(v, "while_paused", False)] if events else []
        if views:
            self._refresh(views, events)

    def _refresh(self, views: list[LiveView], events: list[SourceEvent]) -> None:
        """Refresh ``views`` and count the flush (the page acknowledges it after drawing it)."""
        for view in list(views):
            try:
                view.refresh(self, events)
            except Exception:
                log.exception("refreshing a view failed")
        self.flushes += 1
        self.ack.sent = self.flushes
        if not self._delivered():  # no page receives this flush yet: it loads the document's state instead
            self._acked = self.ack.sent
        elif self._unacked_since is None:
            self._unacked_since = asyncio.get_running_loop().time()

    def topics(self) -> list[Topic]:
        """The topics this viewer follows."""
        return [sc.topic for sc in self.columns.values()]

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """The viewer's one model called ``name`` (made by ``make`` on first use): what its views share."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def _delivered(self) -> bool:
        """Whether flushes reach a page now (a connected websocket, an open comm)."""
        doc = self.doc
        delivered = transport.comm_open(self.comm) if self.comm is not None else \
            doc is not None and bool(transport.connections(doc))
        if delivered:
            transport.check(doc, self.comm)
        return delivered

    def _wanted_series(self) -> list[tuple[LiveView, SeriesKey]]:
        """The (view, series) pairs the series that came since the last flush add: most often none (a view
        built since a series came draws it already), and then the document is left alone."""
        new, self._new_keys = self._new_keys, []
        wanted = []
        for source, key in dict.fromkeys(new):
            if key not in self.service.store:  # gone again before this flush: looked at when it comes back
                continue
            self._decided.add((source, key))
            wanted += [(v, key) for v in self.views if (id(v), key) not in self._drawn and v.accepts(key)]
        return wanted

    # -- closing -------------------------------------------------------------------------------------------
    def _on_session_destroyed(self, _session_context: Any) -> None:
        self.close()

    def close(self) -> None:
        """Leave the hub and stop; idempotent."""
        if self.closed:
            return
        self.closed = True
        self._processor.cancel()
        self.hub.leave(self)
        self.columns.clear()  # a document that outlives its session must not keep the topics alive
        self._events.clear()
        doc = self.doc
        if doc is not None and self._feeds.get(doc) is self:
            del self._feeds[doc]
        log.debug("feed closed (%d feeds left)", len(self.hub.feeds))

    def __repr__(self) -> str:
        return (f"<Feed sources={list(self.columns)} views={len(self.views)} flushes={self.flushes} "
                f"in_flight={self.in_flight} closed={self.closed}>")
