"""``MetricsService``: one per process, it polls every source, fills the store and feeds the publisher.

Every viewer (a notebook cell, a ``panel serve`` session, an embedded plot) reads from the same service:
ten open tabs cost ten feeds, not ten scrapes. The service collects in an event loop and thread of its own
(:class:`~dashboard.core.loop.ThreadedService`): a page being built, a snapshot or a busy notebook cell
holds the server's or the kernel's loop, never a collection; batches reach the viewers through the
publisher, in the viewers' loop. Blocking reads go to threads inside the sources.

Per source, a loop owned by the service's :class:`~dashboard.core.resources.ResourceManager`:

* collects every ``interval`` seconds on the monotonic clock, sleeping only for what is left; a
  collection that starts late because the host was busy is not an outage: a gap is written only where
  the source itself was down or silent for longer than its lateness explains;
* on failure records the error, writes a gap (NaN) for the source's series and ``up=0``, moves the
  source's state machine to ``retrying`` and waits a jittered, capped, growing backoff;
* after ``failure_threshold`` failures in a row the source's :class:`CircuitBreaker` opens
  (``circuit_open``); after ``reset_timeout`` one probe goes through (``connecting``), which closes it or
  opens it again;
* on a :class:`~dashboard.errors.DataError` (the source answered with something unreadable) records it,
  writes the gap and ``up=0``, and collects again after the usual interval: no backoff, no breaker, since
  asking again at once would read the same thing;
* on success writes the batch (or batches: a push source drains several) and ``up=1``, and publishes it.
  An empty answer of a source that is up writes ``up=1`` at most once a second (``UP_HEARTBEAT``: a push
  source drained ten times a second with nothing pushed would make every page redraw ten times a second).
  Empty answers for longer than three intervals are "no data" (``health``), which is not an error.
  Each gap written is counted (``Source.gaps``, ``dashboard_source_gaps_total`` on ``/metrics``).

HTTP sources share one pooled ``httpx.AsyncClient`` per service (:mod:`dashboard.sources.http`): the
seed's connection pool, done by a library that does it well. Every state change, retry and breaker
change is logged under the ``dashboard`` logger with the source's name, and published as a
:class:`SourceEvent` so that status displays update even when no data flows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import param

from .alerts.alerting import Alerting
from .annotations import Annotating, Annotations, LabelChanges
from .collection import Outcome, Step, Wait, decide
from .core.aio import Sleep, with_timeout
from .core.lifecycle import ServiceRegistry
from .core.loop import ThreadedService
from .core.publisher import MetricsPublisher
from .core.resilience import CircuitBreaker, RetryPolicy
from .core.state import ConnectionState, Transition
from .errors import DataError, SourceUnavailable, describe_failure
from .metrics.model import Batch, SeriesInfo, SeriesKey
from .metrics.store import Store
from .queries import Querying
from .sources import default_sources
from .sources.base import Source

log = logging.getLogger("dashboard.service")
#: Seconds a collection may start late (a busy host) without a gap; later, the machine was stopped (suspended).
STALL = 60.0
#: Seconds between two ``up`` samples of a source up whose collections come back empty (a push source drained
#: ten times a second with nothing pushed writes one a second, not ten for every page to redraw).
UP_HEARTBEAT = 1.0


@dataclass(frozen=True)
class SourceEvent:
    """Published when a source changes state."""

    source: str
    connection: str
    reason: str
    at: float


class MetricsService(Alerting, Annotating, Querying, ThreadedService):
    """Collects from sources into a bounded store and publishes every batch to the viewers.

    ``clock`` (monotonic) and ``sleep`` pace the loops and the breakers; ``wall`` stamps gaps. All three
    are injectable so that tests run the loops in virtual time.
    """

    window = param.Number(
        default=600.0, bounds=(1, 7 * 86400), doc="Seconds of history that plots show and queries default to.")

    capacity = param.Integer(
        default=36_000, bounds=(10, 100_000_000), constant=True,
        doc="Samples kept per series (the ring buffer's size), fixed when the service is made.")

    failure_threshold = param.Integer(
        default=5, bounds=(1, 1000), doc="Failures in a row that open a source's circuit breaker.")

    reset_timeout = param.Number(
        default=30.0, bounds=(0, 86400), doc="Seconds an open circuit waits before one probe goes through.")

    history = param.Parameter(
        default=None, constant=True,
        doc="A data folder (path) or a dashboard.history.History: samples kept on disk, restored at start, "
            "ranges older than memory read from it. None keeps history in memory only.")

    read_only = param.Boolean(
        default=False, constant=True,
        doc="Open the history folder to read it only: its samples and annotations are shown, nothing is written "
            "there (new samples stay in memory) and no byte of it changes. For a folder copied for analysis, "
            "or one whose dashboard has stopped; refused while a dashboard writes to it.")

    retry = param.ClassSelector(
        class_=RetryPolicy, default=None, allow_None=True,
        doc="Backoff between failed collections (default: 0.5 s doubling up to 30 s, half jittered).")

    _shared: ClassVar[MetricsService | None] = None

    def __init__(self, sources: Iterable[Source] = (), *, clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep = asyncio.sleep, wall: Callable[[], float] = time.time, **params: Any) -> None:
        params.setdefault("name", "metrics")
        super().__init__(**params)
        if self.retry is None:
            self.retry = RetryPolicy()
        self.store = Store(capacity=self.capacity, window=self.window)
        self.publisher = MetricsPublisher(name=f"{self.name}.publisher")
        self.sources: dict[str, Source] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self.http: Any = None
        self.annotations = Annotations()
        self.annotation_rules: list[LabelChanges] = []
        for source in sources:
            self.add_source(source)
        if self.history is not None:
            self._open_history()

    def _open_history(self) -> None:
        """Attach the history, fill memory with its last window, and mark the time the dashboard was down:
        a gap in every restored series and, for the sources that carry on, ``up=0`` (an outage band from
        their last sample before the stop to their first after it)."""
        from .history import History

        if not isinstance(self.history, History):
            with param.edit_constant(self):
                self.history = History(self.history, read_only=self.read_only)
        elif self.read_only and not self.history.read_only:
            raise ValueError("read_only=True with a History opened to write: pass the folder, or "
                             "History(folder, read_only=True)")
        self.store.history = self.history
        self.annotations.keep_in(self.history.folder, read_only=self.history.read_only)
        last = self.store.restore(self.window)
        now = self._wall()
        # right after its last sample: samples pushed since (in flight while the server was down) are still
        # newer, so kept; read-only, the dashboard that owns the folder marks its own outages
        for source, t in ({} if self.history.read_only else last).items():
            self._write_outage(source, t + 1e-3)
        if last:
            log.info("history: restored %s from %s (newest sample %.0f s ago)", ", ".join(sorted(last)),
                     self.history.folder, now - max(last.values()))

    @param.depends("window", watch=True)
    def _window_changed(self) -> None:
        self.store.window_seconds = self.window

    # -- the shared instance ------------------------------------------------------------------------------
    @classmethod
    def shared(cls) -> MetricsService:
        """The process's service (created on first use with the system source)."""
        if MetricsService._shared is None:
            MetricsService._shared = cls(default_sources())
        return MetricsService._shared

    @classmethod
    def set_shared(cls, service: MetricsService | None) -> None:
        """Make ``service`` the process's shared service (what ``shared()`` returns from now on); ``None``
        forgets it, and the next ``shared()`` makes a new one. ``dashboard serve SPEC`` sets the spec's."""
        MetricsService._shared = service

    @classmethod
    def reset_shared(cls) -> None:
        cls.set_shared(None)  # (tests: a new one is made on next use)

    # -- sources ------------------------------------------------------------------------------------------
    def add_source(self, source: Source) -> Source:
        """Add a source; it starts collecting now if the service runs, else when it starts."""
        if source.name in self.sources:
            raise ValueError(f"{self.name}: a source named {source.name!r} already exists")
        self.sources[source.name] = source
        breaker = CircuitBreaker(source.name, self.failure_threshold, self.reset_timeout, clock=self._clock)
        self.breakers[source.name] = breaker
        source.state_machine.on_change(self._publish_transition(source))
        if self.running:
            self.in_own_loop(self._spawn, source)
        return source

    def source(self, name: str) -> Source:
        """The source called ``name``, with a clear error naming the ones there are."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"{self.name}: no source named {name!r} (sources: {', '.join(self.sources)})") from None

    def _publish_transition(self, source: Source) -> Callable[[Transition], None]:
        return lambda change: self.publisher.publish(
            SourceEvent(source.name, change.target.value, change.reason, change.at))

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def _initialize(self) -> None:
        from .sources.http import make_client

        self.http = self.resources.add("http client", make_client(), self._close_http)
        for source in self.sources.values():
            self._spawn(source)
        self._start_alerts()

    async def _close_http(self) -> None:
        client, self.http = self.http, None
        for source in self.sources.values():
            source.http = None
        if client is not None:
            await client.aclose()

    async def _shutdown(self) -> None:
        await self.resources.release_all()  # cancels the collection loops first
        self._stop_alerts()
        for source in self.sources.values():
            await source.shutdown()
            if source.state_machine.state is not ConnectionState.STOPPED:
                source.state_machine.transition(ConnectionState.STOPPED, "service stopped")
        await asyncio.sleep(0)  # let the viewers take the last items before their tasks stop
        self.publisher.idle()
        if self.history is not None:
            await asyncio.to_thread(self.history.flush)

    async def shutdown(self) -> None:
        """Stop collecting and release everything; safe to call more than once."""
        await super().shutdown()
        self.publisher.idle()  # the viewers' delivery tasks, in their own loops

    def _spawn(self, source: Source) -> None:
        source.http = self.http
        self.resources.spawn(self._run(source), name=f"collect:{source.name}")

    # -- the collection loop ------------------------------------------------------------------------------
    async def _run(self, source: Source) -> None:
        """Collect, classify, and perform what :func:`~dashboard.collection.decide` says, until told to stop."""
        machine, breaker = source.state_machine, self.breakers[source.name]
        machine.transition(ConnectionState.CONNECTING, "starting")
        attempt = 0
        planned: float | None = None  # when this collection was due (None: the first one)
        while True:
            started = self._clock()
            late = 0.0 if planned is None else max(0.0, started - planned)  # the host's delay, not the source's
            outcome, batches, error = await self._collect_classified(source)
            step = decide(outcome, connection=machine.state, breaker=breaker.state, failures=breaker.failures,
                          threshold=breaker.failure_threshold, attempt=attempt,
                          error=describe_failure(error, source.timeout) if error is not None else "")
            self._perform(source, step, batches, error, late)
            if step.wait is Wait.STOP:
                return
            wait = self._wait_seconds(source, step.wait, started, attempt)
            planned = self._clock() + wait
            await self._sleep(wait)
            attempt = step.attempt
            if step.then is not None:
                machine.transition(step.then, step.then_reason)

    async def _collect_classified(self, source: Source) -> tuple[Outcome, list[Batch], BaseException | None]:
        try:
            return Outcome.SAMPLES, await self._collect_once(source), None
        except asyncio.CancelledError:
            raise
        except SourceUnavailable as exc:
            return Outcome.UNAVAILABLE, [], exc
        except DataError as exc:
            return Outcome.DATA_ERROR, [], exc
        except Exception as exc:
            return Outcome.FAILURE, [], exc

    def _perform(self, source: Source, step: Step, batches: list[Batch], error: BaseException | None,
                 late: float = 0.0) -> None:
        breaker = self.breakers[source.name]
        if step.breaker == "success":
            breaker.record_success()
        elif step.breaker == "failure":
            breaker.record_failure()
        if step.record == "success":
            self._record_success(source, batches, late)
        elif step.record == "unavailable":  # nothing was collected: no gap to write
            source.record_failure(error or "unavailable")
            log.warning("%s", source.last_error)
        else:
            self._record_failure(source, error or "failed", data=step.record == "data error")
            if step.record == "data error":
                log.warning("%s: %s", source.name, source.last_error)
        if step.connection is not None:
            source.state_machine.transition(step.connection, step.reason)

    def _wait_seconds(self, source: Source, wait: Wait, started: float, attempt: int) -> float:
        if wait is Wait.INTERVAL:
            return max(0.0, source.interval - (self._clock() - started))
        if wait is Wait.BACKOFF:
            delay = self.retry.delay(attempt)
            log.warning("%s: collection failed (%s); retry %d in %.2fs",
                        source.name, source.last_error, attempt + 1, delay)
            return delay
        return self.breakers[source.name].remaining()

    async def _collect_once(self, source: Source) -> list[Batch]:
        if not source.running:
            await source.shutdown()  # a failed open must be shut down before it may be retried
            opening = max(source.timeout, source.start_timeout)
            try:
                await with_timeout(source.initialize(), opening)
            except TimeoutError:
                raise TimeoutError(f"not open within {opening:g}s") from None
            self.store.describe(source.name, source.series)
        result = await with_timeout(source.collect(), source.timeout)
        return [b for b in (result if isinstance(result, list) else [result]) if len(b)]

    def _record_success(self, source: Source, batches: list[Batch], late: float = 0.0) -> None:
        """Write what a collection gave and ``up=1``; a gap before it where the source was silent (samples 2.5
        intervals apart beyond the ``late`` seconds a busy host delayed it) or the host stalled (``STALL``)."""
        last_t, was_up = self.store.latest(source.up_key) if source.up_key in self.store else (-math.inf, 0.0)
        now = max(self._wall(), last_t)
        if not batches and was_up == 1 and now - last_t < UP_HEARTBEAT:  # up, and said so within a second
            return source.record_success(now, samples=0)
        first = batches[0] if batches else None
        if first is not None and source.late_gaps and math.isfinite(last_t) \
                and (first.time[0] - last_t - late > 2.5 * source.interval or late > STALL):
            log.info("%s: no samples for %.1fs: a gap written", source.name, float(first.time[0]) - last_t)
            source.record_gap()
            self._write(Batch.gap(source.name, (last_t + float(first.time[0])) / 2, first.keys))
        for batch in batches[:-1]:
            self._write(batch)
        last = batches[-1] if batches else None
        times = last.time if last is not None else np.array([now])
        up = Batch(source.name, (source.up_key,), times, np.ones((1, times.size)),
                   {source.up_key: SeriesInfo(help="1 when the last collection succeeded")})
        self._write(last.beside(up) if last is not None else up)  # an empty answer: up, and a gap in the rest
        source.record_success(float(times[-1]), samples=sum(b.sample_count for b in batches))

    def _record_failure(self, source: Source, exc: BaseException | str, data: bool = False) -> None:
        reason = describe_failure(exc, source.timeout) if isinstance(exc, BaseException) else exc
        source.record_failure(reason, data=data)
        self._write_outage(source.name, self._wall())

    def _write_outage(self, name: str, t: float) -> None:
        """A gap at ``t`` in every series of source ``name`` and, when the source is still there, its ``up``
        at 0: the line breaks and an outage band starts at the last good sample."""
        source = self.sources.get(name)
        up_key = source.up_key if source is not None else SeriesKey.of("up", source=name)
        gap = Batch.gap(name, t, [k for k in self.store.keys(source=name) if k != up_key])
        if source is not None:
            source.record_gap()
        self._write(gap if source is None else gap.beside(Batch(name, (up_key,), gap.time, np.zeros((1, 1)))))

    def _write(self, batch: Batch) -> None:
        self.store.append(batch)
        self.publisher.publish(batch)
        for rule in self.annotation_rules:
            for note in rule.changes(batch):
                self.add_annotation(note)

    def close_history(self) -> None:
        """Write what is logged into chunks and stop the history's worker (the folder stays)."""
        if self.history is not None:
            self.history.close()

    def __repr__(self) -> str:
        return (f"<MetricsService {self.name!r} state={self.state} sources={list(self.sources)} "
                f"subscribers={self.publisher.subscriber_count}>")


ServiceRegistry.default().register("metrics")(MetricsService)
