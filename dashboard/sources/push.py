"""``PushSource``: metrics pushed by the user's own code, from any thread, or over HTTP (``/ingest``).

``push(loss=0.31, accuracy=0.9, labels={"run": "a"})`` records samples now (or at ``timestamp=``, seconds
since the epoch). It is safe to call from any thread (a training loop, a callback): samples wait under a
lock and the service drains them every ``interval`` into the store, in the event loop that owns it.

Series are capped (``max_series`` in all, ``max_series_per_metric`` per metric name) so that a label
with a run id or a request path cannot flood the store: samples of series over the cap are not stored,
they are counted in ``overflow`` and in the ``dashboard_overflow_samples`` series. Samples waiting for
a drain are capped by ``max_pending``; the excess is counted the same way. Nothing is dropped silently.

A push source's series come at their own times (``aligned = False``), and a pause between pushes is
not an outage (``late_gaps = False``).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import param

from ..errors import ParseError
from ..metrics.model import Batch, Kind, SeriesInfo, SeriesKey
from .base import Source, source_type
from .exposition import MAX_NAME, Sample, label_problem, name_problem

#: A timestamp above this (year 5138 in seconds) is taken to be in milliseconds by mistake.
_LOOKS_LIKE_MS = 1e11


@dataclass(frozen=True)
class PushResult:
    """What one push kept: samples accepted, and samples of series over the caps (counted, not stored)."""

    accepted: int
    overflow: int
    upto: int = 0  # samples accepted by the source up to and with this push (for :meth:`PushSource.stored`)


@source_type("push")
class PushSource(Source):
    """Samples pushed in by code or over HTTP, drained into the store every ``interval``."""

    interval = param.Number(default=0.1, bounds=(0.01, 60), doc="Seconds between two drains into the store.")

    quiet_is_normal = True  # most drains find nothing pushed: the source is listening, not failing

    max_series = param.Integer(default=1000, bounds=(1, 1_000_000),
                               doc="Most distinct series this source keeps; samples of further series overflow.")

    max_series_per_metric = param.Integer(
        default=100, bounds=(1, 1_000_000), doc="Most label sets kept per metric name; the rest overflow.")

    max_pending = param.Integer(default=1_000_000, bounds=(1, 100_000_000),
                                doc="Most samples waiting between two drains; the rest overflow.")

    accepted = param.Integer(default=0, bounds=(0, None), constant=True, doc="Samples accepted so far.")

    overflow = param.Integer(default=0, bounds=(0, None), constant=True,
                             doc="Samples not stored because their series was over a cap (or the queue full).")

    aligned = False
    late_gaps = False

    def __init__(self, *, clock: Callable[[], float] = time.time, **params: Any) -> None:
        super().__init__(**params)
        self._clock = clock
        self._pending_lock = threading.Lock()
        self._pending: list[tuple[float, SeriesKey, float]] = []
        self._kinds: dict[SeriesKey, Kind] = {}
        self._per_metric: dict[str, int] = defaultdict(int)
        self._accepted = 0
        self._overflow = 0
        self._taken = 0  # samples the last drain took
        self._stored = 0  # samples stored (and logged, with history) so far
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.overflow_key = SeriesKey.of("dashboard_overflow_samples", source=self.name)

    # -- pushing (any thread) -----------------------------------------------------------------------------
    def push(self, values: Mapping[str, float] | None = None, /, *, labels: Mapping[str, object] | None = None,
             timestamp: float | None = None, kind: Kind = "gauge", **named: float) -> PushResult:
        """Record ``name=value`` samples (and/or a mapping of them) with shared labels, now or at ``timestamp``.
        ``kind="counter"``: the values are cumulative totals (tokens seen, requests served), shown and
        stored as per-second rates, resets handled, as every source does with counters.

        Raises ``ValueError`` naming the field when a name, label or value cannot be stored; nothing of
        that call is kept then.
        """
        merged = {**(values or {}), **named}
        if not merged:
            raise ValueError(f"{self.name}.push: give at least one name=value")
        t = check_timestamp(timestamp, self._clock)
        label_map = check_labels(labels or {})
        if kind not in ("gauge", "counter"):
            raise ValueError(f"{self.name}.push: kind must be 'gauge' or 'counter', not {kind!r}")
        samples = [Sample(SeriesKey.of(check_name(n), label_map), check_value(v, n), kind, t)
                   for n, v in merged.items()]
        return self.push_samples(samples)

    def push_samples(self, samples: Iterable[Sample]) -> PushResult:
        """Record parsed samples (their own timestamps, or now); returns what was kept and what overflowed."""
        now = self._clock()
        accepted = overflow = 0
        with self._pending_lock:
            for s in samples:
                if not self._admit(s.key, s.kind) or len(self._pending) >= self.max_pending:
                    overflow += 1
                    continue
                self._pending.append((now if s.timestamp is None else s.timestamp, s.key, s.value))
                accepted += 1
            self._accepted += accepted
            self._overflow += overflow
            upto = self._accepted
        return PushResult(accepted, overflow, upto)

    async def stored(self, upto: int, timeout: float) -> bool:
        """Wait (in the service's loop) until the first ``upto`` samples accepted are stored, and logged
        where there is history: what ``/ingest`` waits for before it answers. False after ``timeout``."""
        if upto <= self._stored:
            return True
        if not self.running:  # no service drains it: nothing to wait for
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((upto, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return False
        return True

    def record_success(self, t: float | None = None, samples: int = 1) -> None:
        """The service stored what the last drain took (it calls this after writing it)."""
        super().record_success(t, samples)
        self._stored = max(self._stored, self._taken)
        waiting, self._waiters = self._waiters, []
        for upto, future in waiting:
            if upto <= self._stored:  # the waiter's loop may be another thread's (an ingest server of its own)
                future.get_loop().call_soon_threadsafe(_resolve, future)
            else:
                self._waiters.append((upto, future))

    def _admit(self, key: SeriesKey, kind: Kind) -> bool:
        if key in self._kinds:
            return True
        if len(self._kinds) >= self.max_series or self._per_metric[key.name] >= self.max_series_per_metric:
            return False
        self._kinds[key] = kind
        self._per_metric[key.name] += 1
        return True

    # -- draining (the service's loop) --------------------------------------------------------------------
    async def _initialize(self) -> None:
        self.declare(self.overflow_key.name, "", "gauge", "samples not stored: their series was over a cap",
                     **self.overflow_key.label_dict)

    async def _collect(self) -> list[Batch]:
        with self._pending_lock:
            pending, self._pending = self._pending, []
            kinds = dict(self._kinds)
            accepted, overflow = self._accepted, self._overflow
            self._taken = accepted
        with param.edit_constant(self):
            self.param.update(accepted=accepted, overflow=overflow)
        by_key: dict[SeriesKey, list[tuple[float, float]]] = defaultdict(list)
        for t, key, value in pending:
            by_key[key].append((t, value))
        batches = []
        for key, rows in by_key.items():
            rows.sort(key=lambda r: r[0])
            arr = np.array(rows, dtype=np.float64)
            info = {key: SeriesInfo(kind=kinds.get(key, "gauge"))}
            batches.append(Batch(self.name, (key,), arr[:, 0], arr[:, 1].reshape(1, -1), info))
        if overflow:
            t = max([self._clock(), *(float(b.time[-1]) for b in batches)])
            batches.append(Batch(self.name, (self.overflow_key,), np.array([t]), np.array([[float(overflow)]]),
                                 self.series))
        return batches

    @property
    def pending(self) -> int:
        """Samples waiting for the next drain."""
        with self._pending_lock:
            return len(self._pending)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def check_name(name: object, field: str = "name", line: int = 0) -> str:
    """A metric name (or, with ``field="labels"``, a label name): a non-empty string at most MAX_NAME long
    that Prometheus takes as one (what a scrape of ``/metrics`` must parse); a label name never begins with
    ``__`` (Prometheus reserves those)."""
    if not isinstance(name, str) or not name.strip():
        raise ParseError(line, f"expected a non-empty string, got {_show(name)}", field=field)
    if len(name) > MAX_NAME:
        raise ParseError(line, f"longer than {MAX_NAME} characters", field=field)
    if any(ord(c) < 32 for c in name):
        raise ParseError(line, "contains a control character", field=field)
    problem = label_problem(name) if field == "labels" else name_problem(name)
    if problem:
        raise ParseError(line, problem, field=field)
    return name


def check_labels(labels: object, line: int = 0) -> dict[str, str]:
    """Label names to string values (numbers become strings)."""
    if not isinstance(labels, Mapping):
        raise ParseError(line, f"expected an object of label: value, got {_show(labels)}", field="labels")
    out = {}
    for k, v in labels.items():
        name = check_name(k, "labels", line)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ParseError(line, f"label {name[:40]!r}: expected a string or number, got {_show(v)}",
                             field="labels")
        text = str(v)
        if len(text) > MAX_NAME:
            raise ParseError(line, f"label {name[:40]!r}: value longer than {MAX_NAME} characters", field="labels")
        out[name] = text
    return out


def check_value(value: object, name: str = "value", line: int = 0) -> float:
    """A sample value: a real number (NaN is a gap; booleans are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(line, f"{name[:40]!r}: expected a number, got {_show(value)}", field="value")
    try:
        return float(value)
    except OverflowError:
        raise ParseError(line, f"{name[:40]!r}: number too large", field="value") from None


def check_timestamp(value: object, clock: Callable[[], float] = time.time, line: int = 0) -> float | None:
    """Seconds since the epoch (None: now); milliseconds by mistake are named as such."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(line, f"expected seconds since the epoch, got {_show(value)}", field="timestamp")
    t = float(value)
    if not math.isfinite(t) or t < 0:
        raise ParseError(line, f"expected seconds since the epoch, got {_show(value)}", field="timestamp")
    if t > _LOOKS_LIKE_MS:
        raise ParseError(line, "looks like milliseconds; send seconds since the epoch", field="timestamp")
    if t > clock() + 86400:
        raise ParseError(line, "more than a day in the future", field="timestamp")
    return t


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
