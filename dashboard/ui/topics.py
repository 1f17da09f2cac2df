"""The viewers' shared half: one :class:`Hub` per service, one :class:`Topic` per metrics source.

The hub holds the one publisher subscription of every viewer in the process. A topic is a metrics
source's series decimated to pixels (min and max per bucket of ``window / resolution`` seconds,
:mod:`dashboard.metrics.decimate`), computed once per flush for all viewers and starting from the store's
window; viewers in step share its rows. A source whose series come at their own times (push, replay) has
a topic per series, so that one series' sample is never a gap in another's line. Pure numpy: nothing
here touches a Bokeh document.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

import numpy as np

from ..config import config
from ..metrics.decimate import Decimator
from ..metrics.model import Batch, SeriesKey
from ..service import MetricsService


class Receiver(Protocol):
    """What the hub hands every published item to: a viewer's feed."""

    def receive(self, item: Any) -> None: ...

    def topics(self) -> list[Topic]: ...


class Topic:
    """One metrics source's series, decimated once for every viewer of the process."""

    def __init__(self, service: MetricsService, source: str, resolution: int, key: SeriesKey | None = None,
                 window: float | None = None) -> None:
        self.source = source
        self.only = key  # a source whose series come at their own times has a topic per series
        self.window = window or service.window  # seconds in view: viewers of one window share a topic
        self.keys: list[SeriesKey] = []
        self.index: dict[SeriesKey, int] = {}
        self.decimator = Decimator(self.window / resolution, 0, capacity=2 * resolution + 16)
        self._pending: list[Batch] = []
        self._cache: tuple[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] | None = None
        self._backfill(service)

    def _backfill(self, service: MetricsService) -> None:
        keys = [self.only] if self.only is not None else service.store.keys(source=self.source)
        for key in keys:
            self.ensure(key)
        times, values = service.store.aligned(keys, seconds=self.window)
        self.decimator.push(times, values)

    def ensure(self, key: SeriesKey) -> int:
        """The column index of ``key``, added (NaN so far) if new."""
        if key not in self.index:
            self.advance()  # queued batches may bring the key
        if key not in self.index:
            self.index[key] = self.decimator.add_series()
            self.keys.append(key)
        return self.index[key]

    def add(self, batch: Batch) -> None:
        """Queue a published batch; decimated at the next flush of any viewer."""
        self._pending.append(batch)
        if len(self._pending) >= config.max_pending:  # no viewer flushes (all held back): keep memory bounded
            self.advance()

    def advance(self) -> None:
        """Decimate what was queued."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        for batch in pending:
            for key in batch.keys:
                if key not in self.index:
                    self.index[key] = self.decimator.add_series()
                    self.keys.append(key)
        times = np.concatenate([b.time for b in pending])
        values = np.full((len(self.keys), times.size), np.nan)
        at = 0
        for batch in pending:
            rows = [self.index[k] for k in batch.keys]
            values[rows, at:at + len(batch)] = batch.values
            at += len(batch)
        self.decimator.push(times, values)

    def rows(self, start: int, stop: int, series: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``[start, stop)`` of ``series``: one copy per state of the topic, shared by its viewers."""
        key = (start, stop, tuple(series), self.decimator.version)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.decimator.rows(start, stop, series))
        return self._cache[1]

    def __repr__(self) -> str:
        return f"<Topic {self.source!r} series={len(self.keys)} {self.decimator!r}>"


class Hub:
    """One per service: the publisher subscription, the topics and the open feeds of the process."""

    @staticmethod
    def of(service: MetricsService) -> Hub:
        """The hub of ``service``, made on first use (it goes with its last feed, or with the service)."""
        hub = _hubs.get(service)
        if hub is None:
            hub = _hubs[service] = Hub(service)
        return hub

    def __init__(self, service: MetricsService) -> None:
        self.service = service
        self.feeds: list[Receiver] = []
        self.topics: dict[tuple[str, float], Topic] = {}  # by topic name and window
        self.subscription: Any = None

    def join(self, feed: Receiver) -> None:
        if self.subscription is None:
            self.subscription = self.service.publisher.subscribe(
                self._on_item, name=f"{self.service.name}.viewers", max_pending=config.max_pending)
        self.feeds.append(feed)

    def leave(self, feed: Receiver) -> None:
        if feed in self.feeds:
            self.feeds.remove(feed)
        if not self.feeds and self.subscription is not None:
            self.service.publisher.unsubscribe(self.subscription)
            self.subscription = None
            self.topics.clear()
            _hubs.pop(self.service, None)
        else:
            self.prune()

    def prune(self) -> None:
        """Drop the topics no feed follows (a window nobody shows any more stops being decimated)."""
        used = {id(topic) for feed in self.feeds for topic in feed.topics()}
        for name in [name for name, topic in self.topics.items() if id(topic) not in used]:
            del self.topics[name]

    def topic_name(self, source: str, key: SeriesKey) -> str:
        """The topic of ``key``: its source's, or its own when the source's series are not aligned."""
        src = self.service.sources.get(source)
        return source if src is None or src.aligned else f"{source}\x1f{key}"

    def topic(self, source: str, key: SeriesKey, window: float | None = None) -> Topic:
        """The topic of ``key`` for viewers of ``window`` seconds (the service's window by default)."""
        name = self.topic_name(source, key)
        window = window or self.service.window
        topic = self.topics.get((name, window))
        if topic is None:
            only = None if name == source else key
            topic = self.topics[name, window] = Topic(self.service, source, config.resolution, only, window)
        return topic

    def _on_item(self, item: Any) -> None:
        if isinstance(item, Batch):
            for topic in self.topics.values():
                if topic.source != item.source:
                    continue
                if topic.only is None:
                    topic.add(item)
                elif topic.only in item.keys:
                    i = item.keys.index(topic.only)
                    topic.add(Batch(item.source, (topic.only,), item.time, item.values[i:i + 1], item.info))
        for feed in list(self.feeds):
            feed.receive(item)


#: The hub of each service, found by the service itself; an entry goes with its service.
_hubs: weakref.WeakKeyDictionary[MetricsService, Hub] = weakref.WeakKeyDictionary()
