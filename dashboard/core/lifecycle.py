"""Service lifecycle: one safe ``initialize()``/``shutdown()`` pair, a hook to override, and a registry.

``Service`` is the corrected form of the seed's ``BaseService``:

* ``initialize()`` and ``shutdown()`` are final, guarded by one lock and idempotent; subclasses override
  ``_initialize()`` and ``_shutdown()`` instead (the pattern of dask's ``Server.start``/``start_unsafe``).
* A failure during start-up is recorded on the ``error`` param, the state becomes ``failed`` and
  everything the hook acquired is released through the service's :class:`ResourceManager`.
* State is a param (``state`` and ``running``), so a widget or a badge binds to it for free.
* ``async with service:`` initializes and shuts down.
* A service that was shut down may be initialized again; one that failed must be shut down first.

``ServiceRegistry`` is the seed's factory: services are registered under a name and created (and
initialized) by name, which is what the spec file and the CLI use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import param

from .resources import ResourceManager

log = logging.getLogger("dashboard.lifecycle")

LIFECYCLE_STATES = ("created", "starting", "running", "stopping", "stopped", "failed")


class ServiceError(RuntimeError):
    """Raised when a service is used in a state that does not allow it."""


class Service(param.Parameterized):
    """Base class of every long-lived, async component (sources, the metrics service)."""

    state = param.Selector(
        default="created", objects=list(LIFECYCLE_STATES), constant=True,
        doc="Lifecycle state: created, starting, running, stopping, stopped or failed.")

    running = param.Boolean(
        default=False, constant=True,
        doc="True between a successful initialize() and the next shutdown(); bind widgets to it.")

    error = param.String(
        default=None, allow_None=True, constant=True,
        doc="Text of the exception that made the last initialize() fail, if any.")

    #: Whether a failed start-up is logged here, with its traceback. A source's is not: the loop that opens
    #: it reports the failure (one line) and retries, since an exporter that is down is no bug.
    log_start_failure: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._lifecycle_lock: asyncio.Lock | None = None
        self.resources = ResourceManager(owner=self.name)

    # -- hooks ------------------------------------------------------------------------------------------
    async def _initialize(self) -> None:
        """Acquire what the service needs. Override; never call directly."""

    async def _shutdown(self) -> None:
        """Stop background work. Override; never call directly. Resources are released afterwards."""

    # -- final API --------------------------------------------------------------------------------------
    def _lock(self) -> asyncio.Lock:
        if self._lifecycle_lock is None:
            self._lifecycle_lock = asyncio.Lock()
        return self._lifecycle_lock

    def _set_state(self, state: str, **extra: Any) -> None:
        previous = self.state
        with param.edit_constant(self):
            self.param.update(state=state, running=(state == "running"), **extra)
        if previous != state:
            log.info("%s: %s -> %s", self.name, previous, state)

    async def initialize(self) -> None:
        """Start the service once; later calls return at once while it runs."""
        async with self._lock():
            if self.state == "running":
                return
            if self.state == "failed":
                raise ServiceError(
                    f"{self.name} failed to start ({self.error}); call shutdown() before retrying")
            self._set_state("starting", error=None)
            try:
                await self._initialize()
            except BaseException as exc:
                self._set_state("failed", error=f"{type(exc).__name__}: {exc}")
                if isinstance(exc, asyncio.CancelledError):
                    log.info("%s: start-up cancelled", self.name)
                elif self.log_start_failure:
                    log.exception("%s: start-up failed", self.name)
                else:
                    log.debug("%s: start-up failed", self.name, exc_info=True)
                await self.resources.release_all()
                raise
            self._set_state("running")

    async def shutdown(self) -> None:
        """Stop the service and release every resource it holds; safe to call more than once."""
        async with self._lock():
            if self.state in ("created", "stopped"):
                return
            self._set_state("stopping")
            try:
                await self._shutdown()
            finally:
                await self.resources.release_all()
                self._set_state("stopped")

    async def __aenter__(self) -> Service:
        await self.initialize()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} state={self.state}>"


S = TypeVar("S", bound=Service)


class ServiceRegistry:
    """A factory of services by name: ``register`` a class, then ``create`` initialized instances."""

    _default: ClassVar[ServiceRegistry | None] = None

    def __init__(self) -> None:
        self._factories: dict[str, Callable[..., Service]] = {}

    @classmethod
    def default(cls) -> ServiceRegistry:
        """The process-wide registry that built-in sources register into."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def register(self, name: str) -> Callable[[type[S]], type[S]]:
        """Class decorator: make ``create(name, ...)`` build this class."""

        def decorator(factory: type[S]) -> type[S]:
            if name in self._factories and self._factories[name] is not factory:
                raise ValueError(f"a service is already registered as {name!r}")
            self._factories[name] = factory
            return factory

        return decorator

    def factory(self, kind: str) -> Callable[..., Service]:
        """What ``build(kind)`` calls (raises KeyError naming the registered kinds)."""
        try:
            return self._factories[kind]
        except KeyError:
            raise KeyError(f"no service registered as {kind!r} (registered: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._factories)

    def build(self, kind: str, /, **params: Any) -> Service:
        """Construct (without initializing) the service registered as ``kind``."""
        try:
            factory = self._factories[kind]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"no service registered as {kind!r} (known: {known})") from None
        return factory(**params)

    async def create(self, kind: str, /, **params: Any) -> Service:
        """Construct and initialize the service registered as ``kind``."""
        service = self.build(kind, **params)
        await service.initialize()
        return service
