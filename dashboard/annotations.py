"""Annotations: events marked on the time axis (a deploy, a run's start, a version change).

An :class:`Annotation` is a text at a time, or over a span (``end``), with labels. The service keeps them
in :class:`Annotations`: time-ordered, bounded (the oldest go first, counted and logged), and, where the
service has a history, in ``annotations.jsonl`` in its data folder (one JSON object a line, appended and
flushed as each arrives; a line that cannot be read back is skipped with a log line naming it).

They come from ``svc.annotate(...)``, from ``POST /annotations`` (:mod:`dashboard.ingest`: the same token
and loopback rules, limits and per-item errors as ``/ingest``), and from :class:`LabelChanges` rules in a
spec (an annotation at every change of a label's value, a ``version`` say). Plots draw them as a line, or a
band over a span, with the text on hover (Bokeh escapes hover fields: hostile text stays text).

An annotation is drawn on a plot when one of the plot's series agrees with each of its labels that the
series carries: ``{"gpu": "0"}`` marks the plots of GPU 0 and every plot whose series have no ``gpu``
label; no labels marks every plot.

This module imports neither panel nor bokeh.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParseError
from .metrics.model import Batch, SeriesKey
from .sources.push import check_labels

log = logging.getLogger("dashboard.annotations")

#: Longest annotation text, in characters.
MAX_TEXT = 1000
#: Annotations kept by default (the oldest go first, counted).
MAX_ANNOTATIONS = 100_000
#: The file, in a history's data folder, that keeps them across restarts.
FILE_NAME = "annotations.jsonl"


@dataclass(frozen=True)
class Annotation:
    """A text at ``time`` (epoch seconds), or from ``time`` to ``end``, with labels; ``author`` is the
    logged-in viewer who posted it (None: code, a rule, a token, or a server without logins)."""

    text: str
    time: float
    end: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    author: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "time": self.time, "end": self.end, "labels": dict(self.labels),
                "author": self.author}

    def overlaps(self, start: float, end: float) -> bool:
        """Whether any of it lies within ``[start, end]``."""
        return self.time <= end and (self.end if self.end is not None else self.time) >= start

    def applies_to(self, keys: Iterable[SeriesKey]) -> bool:
        """Whether a plot of ``keys`` shows it: no labels, or a series agreeing with each label it carries."""
        if not self.labels:
            return True
        for key in keys:
            own = dict(key.labels)
            if all(own.get(k, v) == v for k, v in self.labels.items()):
                return True
        return False


def check_annotation(item: object, number: int = 1, clock: Callable[[], float] = time.time,
                     kept: bool = False) -> Annotation:
    """An annotation from its JSON form ``{"text", "time", "end", "labels"}`` (time: epoch seconds or ISO
    8601, now when left out); a :class:`ParseError` names the item and the field otherwise. Only one
    ``kept`` in the data folder may carry its ``author`` (a poster cannot name one)."""
    def fail(reason: str, name: str) -> ParseError:
        return ParseError(number, reason, field=name, unit="item")

    if not isinstance(item, Mapping):
        raise fail(f"expected an object, got {type(item).__name__}", "item")
    unknown = set(item) - {"text", "time", "end", "labels", *(("author",) if kept else ())}
    if unknown:
        raise fail(f"unknown field {sorted(map(str, unknown))[0][:40]!r}", "item")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise fail("expected a non-empty string", "text")
    if len(text) > MAX_TEXT:
        raise fail(f"longer than {MAX_TEXT} characters", "text")
    t = _when(item.get("time"), "time", number, clock)
    t = clock() if t is None else t
    end = _when(item.get("end"), "end", number, clock)
    if end is not None and end < t:
        raise fail("ends before it starts", "end")
    try:
        labels = check_labels(item.get("labels") or {}, number)
    except ParseError as exc:
        raise fail(exc.reason, "labels") from None
    author = item.get("author")
    if author is not None and not isinstance(author, str):
        raise fail("expected a string", "author")
    return Annotation(text, t, end, labels, author)


def _when(value: object, name: str, number: int, clock: Callable[[], float]) -> float | None:
    if value is None:
        return None
    from .metrics.frames import to_epoch

    try:
        t = to_epoch(value)
    except ValueError:
        raise ParseError(number, f"expected seconds since the epoch or ISO 8601, got {str(value)[:60]!r}",
                         field=name, unit="item") from None
    if not math.isfinite(t) or t < 0 or t > clock() + 86400 * 365:
        raise ParseError(number, f"not a time: {value!r}", field=name, unit="item")
    return t


class Annotations:
    """The service's annotations: time-ordered, bounded, optionally kept in a file. Thread-safe."""

    def __init__(self, limit: int = MAX_ANNOTATIONS) -> None:
        self.limit = limit
        self.items: list[Annotation] = []
        self.dropped = 0  # the oldest, gone past ``limit``
        self.unreadable = 0  # lines of the file that could not be read back
        self.version = 0  # bumped at every change: views redraw when it moves
        self.path: Path | None = None
        self._lock = threading.Lock()

    def keep_in(self, folder: Path | str, read_only: bool = False) -> None:
        """Read the annotations kept in ``folder`` and append new ones there (``read_only``: new ones stay in
        memory)."""
        path = Path(folder) / FILE_NAME
        loaded: list[Annotation] = []
        if path.exists():
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
                try:
                    loaded.append(check_annotation(json.loads(line), number, kept=True))
                except (ValueError, ParseError) as exc:
                    self.unreadable += 1
                    log.warning("annotations: %s line %d skipped: %s", path, number, exc)
        with self._lock:
            self.path = None if read_only else path
            self._insert(loaded)

    def add(self, note: Annotation) -> Annotation:
        """Keep ``note`` (and write it to the file, where there is one)."""
        with self._lock:
            self._insert([note])
            if self.path is not None:
                try:
                    with self.path.open("a") as f:
                        f.write(json.dumps(note.as_dict()) + "\n")
                except OSError as exc:
                    log.error("annotations: could not write to %s: %s", self.path, exc)
        return note

    def _insert(self, notes: list[Annotation]) -> None:
        self.items.extend(notes)
        self.items.sort(key=lambda n: n.time)
        over = len(self.items) - self.limit
        if over > 0:
            del self.items[:over]
            self.dropped += over
            log.warning("annotations: the oldest %d dropped (more than %d kept)", over, self.limit)
        self.version += 1

    def between(self, start: float = -math.inf, end: float = math.inf) -> list[Annotation]:
        """Those that overlap ``[start, end]``, in time order."""
        with self._lock:
            return [n for n in self.items if n.overlaps(start, end)]

    def __len__(self) -> int:
        return len(self.items)


class Annotating:
    """The service's side of annotations (a mixin of :class:`~dashboard.service.MetricsService`, which has
    ``annotations``, ``annotation_rules``, ``publisher`` and a wall clock)."""

    annotations: Annotations
    annotation_rules: list[LabelChanges]
    publisher: Any
    _wall: Callable[[], float]

    def annotate(self, text: str, time: Any = None, end: Any = None, labels: dict[str, str] | None = None
                 ) -> Annotation:
        """Mark an event on the time axis of every plot (or of those whose series agree with ``labels``):
        at ``time`` (epoch seconds, ISO 8601 or a datetime; now by default), over a span up to ``end``."""
        try:
            note = check_annotation({"text": text, "time": time, "end": end, "labels": labels}, clock=self._wall)
        except ParseError as exc:
            raise ValueError(f"annotate: {exc.field}: {exc.reason}") from None
        return self.add_annotation(note)

    def add_annotation(self, note: Annotation) -> Annotation:
        """Keep a checked annotation (``POST /annotations``, a spec's rule) and tell the open views."""
        self.annotations.add(note)
        self.publisher.publish(note)  # open views draw it at their next flush
        return note

    def annotate_changes(self, metric: str, label: str, text: str = "{label} {value}") -> LabelChanges:
        """An annotation at every change of ``label``'s value in ``metric`` (a spec's ``annotations:``)."""
        rule = LabelChanges(metric, label, text)
        rule.seed(self.annotations)
        self.annotation_rules.append(rule)
        return rule


@dataclass
class LabelChanges:
    """A spec's rule: an annotation at every change of ``label``'s value in the series of ``metric``
    (``text``: a template over ``{metric}``, ``{label}`` and ``{value}``): a value whose series has samples
    in a batch and had none in the batch of the metric before. Values that coexist mark nothing more; the
    value of the newest kept annotation of the rule counts as seen (a restart adds no duplicate)."""

    metric: str
    label: str
    text: str = "{label} {value}"
    present: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"{self.metric}:{self.label}"

    def seed(self, annotations: Annotations) -> None:
        """Start from the newest kept annotation of this rule."""
        for note in reversed(annotations.between()):
            if note.labels.get("annotation_rule") == self.name and self.label in note.labels:
                self.present = {note.labels[self.label]}
                return

    def changes(self, batch: Batch) -> list[Annotation]:
        """An annotation for each value of the label new in ``batch`` (at its first sample there)."""
        first: dict[str, float] = {}
        for i, key in enumerate(batch.keys):
            value = dict(key.labels).get(self.label)
            if key.name != self.metric or value is None:
                continue
            finite = np.flatnonzero(np.isfinite(batch.values[i]))
            if finite.size:
                first[value] = min(first.get(value, math.inf), float(batch.time[finite[0]]))
        if not first:
            return []
        new = sorted((t, v) for v, t in first.items() if v not in self.present)
        self.present = set(first)
        return [Annotation(self.text.format(metric=self.metric, label=self.label, value=v)[:MAX_TEXT], t, None,
                           {self.label: v, "annotation_rule": self.name}) for t, v in new]


def text_problem(text: str) -> str | None:
    """What is wrong with a :class:`LabelChanges` text template (None when it formats)."""
    try:
        text.format(metric="m", label="l", value="v")
    except (KeyError, IndexError, ValueError) as exc:
        return f"expected a text over {{metric}}, {{label}} and {{value}}, got {text!r} ({type(exc).__name__}: {exc})"
    return None
