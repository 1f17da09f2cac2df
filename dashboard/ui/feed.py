"""The feed: the only code that writes into a Bokeh document, one per viewer.

A viewer is one Bokeh document: a ``panel serve`` session, a notebook cell's output, an embedded page. Its
:class:`Feed` subscribes to the service's publisher when the first live view is rendered into it and

* gathers published batches in a :class:`~dashboard.core.batching.BatchProcessor` and flushes them at
  most once per ``flush_interval`` (50 ms by default: measured, 16 ms is worse because the browser then
  repaints for every message);
* keeps one ``ColumnDataSource`` per metrics source, shared by every plot of the viewer, with a ``time``
  column (milliseconds) and one float64 column per series shown; a flush is one ``stream`` of numpy arrays
  per source with a rollover, and every plot and card of the viewer changes in one document patch;
* in a server session applies the flush in the document's next tick (under its lock) and sends it to
  each connection as one PATCH-DOC message; in a notebook pushes it over the cell's comm as one message;
  elsewhere (tests, static export) applies it directly;
* adds a column and a line when a series that a view wants appears, backfilled from the store;
* unsubscribes when its session is destroyed, when its last view is cleaned up, or when it is closed.

The store is the truth: a new feed starts from the store's window, then streams deltas; rows not newer
than what the source's column already holds are skipped, so nothing is drawn twice.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import param
from bokeh.document import Document
from bokeh.document.events import DocumentPatchedEvent
from bokeh.models import ColumnDataSource

from ..core.batching import BatchProcessor
from ..metrics.model import Batch, SeriesKey
from ..service import MetricsService, SourceEvent

log = logging.getLogger("dashboard.feed")


class LiveView(Protocol):
    """What a component renders per viewer; the feed drives it."""

    def accepts(self, key: SeriesKey) -> bool:
        """Whether this view shows ``key``."""

    def add_series(self, key: SeriesKey, source: ColumnDataSource, column: str) -> None:
        """Draw ``key``, whose values live in ``source.data[column]``."""

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        """Update derived properties after a flush (labels, tables)."""


@dataclass
class _SourceColumns:
    """The viewer's ColumnDataSource for one metrics source."""

    cds: ColumnDataSource
    rollover: int
    columns: dict[SeriesKey, str] = field(default_factory=dict)
    last_time: float = -math.inf  # seconds, newest row held


class FeedSettings(param.Parameterized):
    """Tunables shared by every feed of the process."""

    flush_interval = param.Number(
        default=0.05, bounds=(0.005, 10.0),
        doc="Seconds between two flushes into one viewer's document (at most one update per interval).")

    max_pending = param.Integer(
        default=512, bounds=(1, None),
        doc="Published items a viewer may have waiting before its oldest are dropped (counted).")


settings = FeedSettings(name="feed_settings")


class Feed:
    """Streams a service's batches into one Bokeh document."""

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
        self.flush_interval = settings.flush_interval if flush_interval is None else flush_interval
        self.sources: dict[str, _SourceColumns] = {}
        self.views: list[LiveView] = []
        self.closed = False
        self.flushes = 0
        self.rows_streamed = 0
        self._pending_commit: list[Any] | None = None
        self._processor: BatchProcessor[Any] = BatchProcessor(
            self._schedule, max_delay=self.flush_interval, min_interval=self.flush_interval,
            name=f"feed:{id(doc):x}")
        self.subscription = service.publisher.subscribe(
            self._on_item, name=f"feed:{id(doc):x}", max_pending=settings.max_pending)
        if doc.session_context is not None:
            doc.on_session_destroyed(self._on_session_destroyed)
        log.debug("feed opened for document %x (%d subscribers)", id(doc), service.publisher.subscriber_count)

    @property
    def doc(self) -> Document | None:
        return self._doc()

    # -- views and columns ----------------------------------------------------------------------------------
    def add_view(self, view: LiveView) -> None:
        """Register ``view`` and draw every known series it accepts, backfilled from the store."""
        self.views.append(view)
        for key in self.service.store.keys():
            if view.accepts(key):
                cds, column = self.column(key)
                view.add_series(key, cds, column)
        view.refresh(self, [])

    def remove_view(self, view: LiveView) -> None:
        """Forget ``view``; the feed closes with its last view."""
        if view in self.views:
            self.views.remove(view)
        if not self.views:
            self.close()

    def column(self, key: SeriesKey) -> tuple[ColumnDataSource, str]:
        """The viewer's (ColumnDataSource, column name) for ``key``, created and backfilled on first use."""
        store = self.service.store
        source_name = store.source_of(key)
        sc = self.sources.get(source_name)
        if sc is None:
            rollover = self._rollover(source_name)
            times, values = store.aligned([key])
            times, first = times[-rollover:], values[0][-rollover:]
            cds = ColumnDataSource(data={"time": times * 1000.0, "s0": first})
            sc = self.sources[source_name] = _SourceColumns(cds, rollover, {key: "s0"})
            sc.last_time = float(times[-1]) if times.size else -math.inf
            return cds, "s0"
        name = sc.columns.get(key)
        if name is None:
            name = f"s{len(sc.columns)}"
            sc.cds.data[name] = self._backfill(key, np.asarray(sc.cds.data["time"]))
            sc.columns[key] = name
        return sc.cds, name

    def _rollover(self, source_name: str) -> int:
        source = self.service.sources.get(source_name)
        capacity = self.service.store.capacity
        if source is None:
            return capacity
        return int(min(capacity, math.ceil(self.service.window / source.interval * 1.1) + 10))

    def _backfill(self, key: SeriesKey, times_ms: np.ndarray) -> np.ndarray:
        t, v = self.service.store.window(key)
        out = np.full(times_ms.size, np.nan)
        if times_ms.size and t.size:
            idx = np.searchsorted(times_ms, t * 1000.0)
            ok = idx < times_ms.size
            ok[ok] &= times_ms[idx[ok]] == t[ok] * 1000.0
            out[idx[ok]] = v[ok]
        return out

    # -- delivery ---------------------------------------------------------------------------------------------
    def _on_item(self, item: Any) -> None:
        if self.doc is None:  # the document was collected without a cleanup: stop listening
            self.close()
        elif not self.closed:
            self._processor.add(item)

    def _schedule(self, items: list[Any]) -> None:
        """Called by the batch processor at most once per flush interval."""
        doc = self.doc
        if self.closed or doc is None:
            return
        if self.comm is None and doc.session_context is not None:
            if self._pending_commit is not None:  # the last flush has not been applied yet: merge
                self._pending_commit.extend(items)
                return
            self._pending_commit = list(items)
            doc.add_next_tick_callback(self._commit_pending)
        else:
            self._commit(items)

    def _commit_pending(self) -> None:
        items, self._pending_commit = self._pending_commit or [], None
        self._commit(items)

    def _commit(self, items: list[Any]) -> None:
        doc = self.doc
        if self.closed or doc is None:
            return
        batches = [i for i in items if isinstance(i, Batch)]
        events = [i for i in items if isinstance(i, SourceEvent)]
        if self.comm is not None:
            _commit_over_comm(doc, self.comm, lambda: self.apply(batches, events))
        elif doc.session_context is not None:
            _commit_to_session(doc, lambda: self.apply(batches, events))
        else:
            self.apply(batches, events)

    def apply(self, batches: list[Batch], events: list[SourceEvent]) -> None:
        """Write ``batches`` into the viewer's sources and refresh its views (document lock held)."""
        self._add_new_series(batches)
        by_source: dict[str, list[Batch]] = {}
        for batch in batches:
            if batch.source in self.sources:
                by_source.setdefault(batch.source, []).append(batch)
        for name, group in by_source.items():
            self._stream(self.sources[name], group)
        for view in list(self.views):
            try:
                view.refresh(self, events)
            except Exception:
                log.exception("refreshing a view failed")
        self.flushes += 1

    def _add_new_series(self, batches: Iterable[Batch]) -> None:
        for batch in batches:
            for key in batch.keys:
                sc = self.sources.get(batch.source)
                if sc is not None and key in sc.columns:
                    continue
                wanted = [v for v in self.views if v.accepts(key)]
                if wanted:
                    cds, column = self.column(key)
                    for view in wanted:
                        view.add_series(key, cds, column)

    def _stream(self, sc: _SourceColumns, batches: list[Batch]) -> None:
        time = np.concatenate([b.time for b in batches])
        fresh = time > sc.last_time
        if not fresh.any():
            return
        data: dict[str, np.ndarray] = {"time": time[fresh] * 1000.0}
        for key, column in sc.columns.items():
            parts = [b.values[b.keys.index(key)] if key in b.keys else np.full(len(b), np.nan) for b in batches]
            data[column] = np.concatenate(parts)[fresh]
        n = int(fresh.sum())
        if n > sc.rollover:
            data = {k: v[-sc.rollover:] for k, v in data.items()}
        sc.cds.stream(data, rollover=sc.rollover)
        sc.last_time = float(time[fresh][-1])
        self.rows_streamed += min(n, sc.rollover)

    # -- closing -------------------------------------------------------------------------------------------
    def _on_session_destroyed(self, _session_context: Any) -> None:
        self.close()

    def close(self) -> None:
        """Unsubscribe and stop; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.service.publisher.unsubscribe(self.subscription)
        self._processor.cancel()
        doc = self.doc
        if doc is not None and self._feeds.get(doc) is self:
            del self._feeds[doc]
        log.debug("feed closed (%d subscribers left)", self.service.publisher.subscriber_count)

    def __repr__(self) -> str:
        return (f"<Feed sources={list(self.sources)} views={len(self.views)} flushes={self.flushes} "
                f"closed={self.closed}>")


def _commit_to_session(doc: Document, work: Callable[[], None]) -> None:
    """Apply ``work`` under a hold and send its events to each connection as one PATCH-DOC message.

    Bokeh would send one message per event when the hold is released. When a connection is in the middle
    of writing another message (its write lock is taken), the frames of two messages must not interleave:
    then the events go out the ordinary way.
    """
    held = doc.callbacks.hold_value
    if held:  # someone else holds the document: their release sends our events too
        work()
        return
    doc.hold("combine")
    try:
        work()
    finally:
        session = getattr(doc.session_context, "_session", None)
        connections = list(getattr(session, "_subscribed_connections", ()))
        events = doc.callbacks._held_events
        patches = [e for e in events if isinstance(e, DocumentPatchedEvent)]
        if patches and connections and not any(_writing(c) for c in connections):
            from panel.io.document import dispatch_tornado

            doc.callbacks._held_events = [e for e in events if not isinstance(e, DocumentPatchedEvent)]
            for connection in connections:
                for future in dispatch_tornado(connection, events=patches):
                    future.add_done_callback(_ignore_closed)
        doc.unhold()


def _writing(connection: Any) -> bool:
    lock = getattr(getattr(connection, "_socket", None), "write_lock", None)
    block = getattr(lock, "_block", None)
    return block is not None and block._value == 0


def _ignore_closed(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("a viewer's websocket closed while a patch was being sent: %s", future.exception())


def _commit_over_comm(doc: Document, comm: Any, work: Callable[[], None]) -> None:
    """Apply ``work`` under a hold and send every held event as one message over a notebook comm.

    Until the frontend has opened the comm, events stay held in the document and go out, in order, with
    the first message after it opens. (Panel's ``push`` would instead re-send each message 100 ms later,
    and a later message could overtake the one that defines the models it refers to.)
    """
    from panel.io.notebook import push

    if not doc.callbacks.hold_value:
        doc.hold("combine")
    work()
    if getattr(comm, "_comm", None):
        push(doc, comm)
