"""The base of every metrics source: what it declares, how it collects, and the status it shows.

A source is a :class:`~dashboard.core.lifecycle.Service`: ``initialize()`` opens it (detects what it can
measure, primes counters), ``collect()`` returns one :class:`~dashboard.metrics.model.Batch`, and
``shutdown()`` releases whatever it opened. The :class:`~dashboard.service.MetricsService` drives
``collect()`` on the source's own ``interval`` with retry, circuit breaker and a
:class:`~dashboard.core.state.ConnectionStateMachine`; the status params below are what
``SourceStatus`` shows.

Extension points: override ``_initialize`` (declare series with ``self.declare``) and ``_collect``, and
register the class under the ``type`` a spec names with :func:`source_type`, where it is defined;
:func:`source_types` lists them (the spec, the factory and the docs read it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
import param

from ..core.lifecycle import Service, ServiceRegistry
from ..core.state import ConnectionState, ConnectionStateMachine, Transition
from ..errors import describe_error
from ..metrics.model import Batch, SeriesInfo, SeriesKey
from ..metrics.rates import RateConverter

S = TypeVar("S", bound="Source")


def source_type(name: str) -> Callable[[type[S]], type[S]]:
    """Class decorator: register a :class:`Source` under ``name``, the ``type`` a spec gives it."""
    def register(cls: type[S]) -> type[S]:
        if not issubclass(cls, Source):
            raise TypeError(f"{cls.__name__} is not a Source")
        cls.type = name
        return ServiceRegistry.default().register(name)(cls)
    return register


def source_types() -> dict[str, type[Source]]:
    """Every registered source class by its spec ``type``, sorted by name."""
    registry = ServiceRegistry.default()
    kinds = {name: registry.factory(name) for name in registry.names()}
    return {name: cls for name, cls in kinds.items() if isinstance(cls, type) and issubclass(cls, Source)}


class Source(Service):
    """Something that produces metric samples when asked."""

    interval = param.Number(default=1.0, bounds=(0.01, 3600), doc="Seconds between two collections.")

    timeout = param.Number(
        default=10.0, bounds=(0.01, 600), doc="Seconds a collection may take before it counts as failed.")

    start_timeout = param.Number(
        default=120.0, bounds=(0.01, 3600),
        doc="Seconds opening the source may take before it counts as failed (a first read on a busy machine, "
            "a backfill, is waited for rather than cancelled).")

    connection = param.Selector(
        default=ConnectionState.IDLE.value, objects=[s.value for s in ConnectionState], constant=True,
        doc="Connection state: idle, connecting, connected, retrying, circuit_open or stopped.")

    reason = param.String(default="", constant=True, doc="Why the connection state last changed.")

    last_success = param.Number(
        default=None, allow_None=True, constant=True, bounds=(0, None),
        doc="Wall-clock time (epoch seconds) of the last successful collection.")

    last_error = param.String(default="", constant=True, doc="The last collection error, empty if none.")

    collections = param.Integer(default=0, bounds=(0, None), constant=True,
                                doc="Successful collections so far.")

    failures = param.Integer(default=0, bounds=(0, None), constant=True, doc="Failed collections so far.")

    data_errors = param.Integer(
        default=0, bounds=(0, None), constant=True,
        doc="Collections whose answer could not be read (a subset of failures).")

    gaps = param.Integer(
        default=0, bounds=(0, None), constant=True,
        doc="Gaps (a row of NaN) written into this source's series: it failed, went silent, or the host stalled.")

    health = param.Selector(
        default="waiting", objects=["waiting", "ok", "no data", "error"], constant=True,
        doc="What the last collections gave: ok (samples within the last three intervals, or a push source "
            "listening), no data (only empty answers for longer), error (a failure).")

    #: The ``type`` a spec gives this class (set by :func:`source_type`), and its instances' default name.
    type: ClassVar[str | None] = None

    log_start_failure = False  # the collection loop reports it, in one line, and retries

    #: Whether a collection that comes much later than its interval writes a gap before its samples.
    #: Pushed data comes when it comes: a push source turns this off.
    late_gaps: bool = True

    #: Whether empty collections are what the source normally gives (a push source between pushes): it is
    #: then "ok" while it runs, never "no data".
    quiet_is_normal: bool = False

    _delivered: float = -math.inf  # when a collection last gave samples

    #: Whether the series of one collection share their times (one row per collection). A push source's
    #: series come at their own times; viewers then give each series its own time column, so that one
    #: series' sample is never a gap in another's line.
    aligned: bool = True

    def __init__(self, **params: Any) -> None:
        if self.type is not None:
            params.setdefault("name", self.type)
        super().__init__(**params)
        self.series: dict[SeriesKey, SeriesInfo] = {}
        self.rates = RateConverter()
        self.state_machine = ConnectionStateMachine(self.name)
        self.state_machine.on_change(self._on_transition)
        self.up_key = SeriesKey.of("up", source=self.name)
        self.http: Any = None  # the service's pooled httpx.AsyncClient, set while the service runs

    # -- declarations -----------------------------------------------------------------------------------
    def declare(self, name: str, unit: str = "", kind: str = "gauge", help: str = "", **labels: object
                ) -> SeriesKey:
        """Declare a series this source produces; returns its key."""
        key = SeriesKey.of(name, labels)
        self.series[key] = SeriesInfo(unit=unit, kind=kind, help=help)  # type: ignore[arg-type]
        return key

    # -- collection ---------------------------------------------------------------------------------------
    async def _collect(self) -> Batch | list[Batch]:
        """Return one batch of samples (or several, in time order). Override."""
        raise NotImplementedError

    async def collect(self) -> Batch | list[Batch]:
        """One collection, with counters turned into rates."""
        result = await self._collect()
        if isinstance(result, list):
            return [self.rates.convert(b) for b in result]
        return self.rates.convert(result)

    def make_batch(self, t: float, values: dict[SeriesKey, float], elapsed: float | None = None) -> Batch:
        """A one-row batch at wall time ``t`` from ``values`` (declared series only, in declared order).

        ``elapsed`` is a monotonic timestamp; when given, counter rates are computed over it instead of
        over the wall clock, so a clock step does not fake a burst.
        """
        keys = tuple(k for k in self.series if k in values)
        row = np.fromiter((values[k] for k in keys), dtype=np.float64, count=len(keys))
        batch = Batch(self.name, keys, np.array([t]), row.reshape(-1, 1), self.series)
        if elapsed is not None:
            batch = _with_monotonic_rates(self.rates, batch, elapsed)
        return batch

    # -- status -------------------------------------------------------------------------------------------
    def _on_transition(self, change: Transition) -> None:
        with param.edit_constant(self):
            self.param.update(connection=change.target.value, reason=change.reason)

    def record_success(self, t: float | None = None, samples: int = 1) -> None:
        t = t or time.time()
        if samples:
            self._delivered = t
        # one empty answer between good ones (a rate that does not fill every interval) is not "no data"
        fresh = self.quiet_is_normal or t - self._delivered <= 3 * self.interval
        with param.edit_constant(self):
            self.param.update(last_success=t, collections=self.collections + 1,
                              health="ok" if fresh else "no data")

    def record_gap(self) -> None:
        """Count a gap written into this source's series."""
        with param.edit_constant(self):
            self.gaps += 1

    def record_failure(self, error: BaseException | str, data: bool = False) -> None:
        with param.edit_constant(self):
            self.param.update(last_error=describe_error(error), failures=self.failures + 1, health="error",
                              data_errors=self.data_errors + int(data))

    def status(self) -> dict[str, Any]:
        """A plain dict of this source's status, for tables and logs."""
        return {
            "source": self.name,
            "state": self.connection,
            "reason": self.reason,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "collections": self.collections,
            "failures": self.failures,
            "data_errors": self.data_errors,
            "health": self.health,
            "series": len(self.series),
        }


def _with_monotonic_rates(rates: RateConverter, batch: Batch, elapsed: float) -> Batch:
    """Convert counters over the monotonic timestamp ``elapsed``, keep the wall time for plotting."""
    monotonic = Batch(batch.source, batch.keys, np.array([elapsed]), batch.values, batch.info)
    converted = rates.convert(monotonic)
    info = {k: (SeriesInfo(v.unit, "gauge", v.help) if v.kind == "counter" else v) for k, v in batch.info.items()}
    return Batch(batch.source, batch.keys, batch.time, converted.values, info)
