"""One viewer's columns of one topic: the ``ColumnDataSource`` its plots share, and how far it follows.

A :class:`TopicColumns` holds a ``time`` column (milliseconds) and one float64 column per series shown,
in the order the series were added. :meth:`TopicColumns.sync` brings it up to date with its topic: it
patches the rows of the open bucket it holds and streams the rows that are new (through the transport's
unvalidated ``patch`` and ``stream``), keeping the rows of the window; a viewer that fell further behind
than the topic holds starts over from the topic's rows (:meth:`TopicColumns.reset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from bokeh.document import Document
from bokeh.models import ColumnDataSource

from ..metrics.model import SeriesKey
from ..metrics.store import Store
from . import transport
from .topics import Topic


def in_window(topic: Topic, window: float) -> int:
    """The topic's rows within ``window`` seconds of its newest: what a viewer keeps (older rows would
    still stretch the y range)."""
    dec = topic.decimator
    return dec.count_since(dec.last_time - window)


@dataclass
class TopicColumns:
    """The viewer's ColumnDataSource for one topic, and how far it has followed the topic."""

    cds: ColumnDataSource
    topic: Topic
    rollover: int
    columns: dict[SeriesKey, str] = field(default_factory=dict)
    series: list[int] = field(default_factory=list)  # topic indices, in the order of `columns`
    sent: int = 0  # topic rows the viewer holds (absolute index of the next one)
    stable: int = 0  # rows before this one never change; the rest were provisional when sent
    version: int = -1  # the topic's version when the viewer was last brought up to date

    @classmethod
    def start(cls, topic: Topic, key: SeriesKey, index: int, window: float) -> TopicColumns:
        """Columns for ``topic`` showing ``key`` (its topic index ``index``), filled with the window's rows."""
        dec = topic.decimator
        times, values = topic.rows(dec.end - in_window(topic, window), dec.end, [index])
        cds = ColumnDataSource(data={"time": times * 1000.0, "s0": values[0]})
        return cls(cds, topic, dec.capacity, {key: "s0"}, [index], sent=dec.end, stable=dec.stable)

    def add(self, key: SeriesKey, index: int) -> str:
        """The column of ``key`` (topic index ``index``), added with the rows held so far if new."""
        name = self.columns.get(key)
        if name is None:
            name = f"s{len(self.columns)}"
            held = len(self.cds.data["time"])
            _, values = self.topic.rows(self.sent - held, self.sent, [index])
            column = np.full(held, np.nan)
            column[held - values.shape[1]:] = values[0]
            self.series.append(index)  # (before the column: a sync meanwhile reads series for every column)
            self.cds.data[name] = column
            self.columns[key] = name
        return name

    def sync(self, doc: Document | None, window: float) -> int | None:
        """Patch the provisional rows held and stream the new ones: the rows streamed, None if nothing
        changed."""
        topic = self.topic
        topic.advance()
        dec = topic.decimator
        if self.sent == dec.end and self.version == dec.version:
            return None
        self.version = dec.version
        if self.sent < dec.first:  # fell further behind than the topic holds: start over from its rows
            self.reset(window)
            return 0
        data = self.cds.data
        held = len(data["time"])
        lo = max(self.stable, dec.first, self.sent - held)
        if lo < self.sent:
            times, values = topic.rows(lo, self.sent, self.series)
            at = slice(held - (self.sent - lo), held)
            patches = {"time": [(at, times * 1000.0)]}
            patches.update({name: [(at, values[i])] for i, name in enumerate(self.columns.values())})
            transport.patch(doc, self.cds, patches)
        streamed = 0
        if dec.end > self.sent:
            keep = max(1, min(self.rollover, in_window(topic, window)))
            times, values = topic.rows(max(self.sent, dec.end - keep), dec.end, self.series)
            new = {"time": times * 1000.0}
            new.update({name: values[i] for i, name in enumerate(self.columns.values())})
            transport.stream(doc, self.cds, new, keep)
            streamed = times.size
        self.sent, self.stable = dec.end, dec.stable
        return streamed

    def retarget(self, topic: Topic, window: float) -> None:
        """Follow ``topic`` (the same series for another window) from now on, starting from its rows."""
        self.topic = topic
        self.series = [topic.ensure(key) for key in self.columns]
        self.rollover = topic.decimator.capacity
        self.version = -1
        self.reset(window)

    def show(self, store: Store, start: float, end: float, columns: int) -> int:
        """Replace the columns with the store's rows from ``start`` to ``end`` at pixel resolution (a held
        view; :meth:`reset` returns to the topic's): the number of rows."""
        times, values = store.query(list(self.columns), start, end, columns)
        new = {"time": times * 1000.0}
        new.update({name: values[i] for i, name in enumerate(self.columns.values())})
        transport.replace(self.cds, new)
        return times.size

    def reset(self, window: float) -> None:
        """Replace the columns with the topic's rows of the window."""
        dec = self.topic.decimator
        times, values = self.topic.rows(dec.end - in_window(self.topic, window), dec.end, self.series)
        new = {"time": times * 1000.0}
        new.update({name: values[i].copy() for i, name in enumerate(self.columns.values())})
        transport.replace(self.cds, new)
        self.sent, self.stable = dec.end, dec.stable
