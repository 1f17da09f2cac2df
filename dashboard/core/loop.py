"""An asyncio event loop in a thread of its own: where a service's collection runs when nothing may delay it.

The Bokeh server's event loop (or a notebook kernel's) builds pages, serializes documents and answers
requests; any of those can hold it for hundreds of milliseconds on a busy machine. A collection loop that
shares it runs late by as much. :class:`LoopThread` gives a service a loop nobody else runs on:

* ``start()`` starts the thread and returns once its loop runs; ``stop()`` cancels what is left on it,
  stops it, joins the thread and closes the loop (idempotent);
* ``call(coro)`` awaits a coroutine on the thread's loop from any other loop (or directly when already
  there); ``submit(coro)`` schedules one from anywhere, a loop or none, and returns a
  ``concurrent.futures.Future``; ``call_soon(fn, ...)`` runs a plain callable there.

Work handed to the thread is the caller's to await: nothing here swallows an exception.

:class:`ThreadedService` is a :class:`~dashboard.core.lifecycle.Service` whose lifecycle and background
tasks run on a loop thread of its own (``threaded=True``, the default), or in the loop that starts it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread  # (registers its exit hook now: the one below must come after it)
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import param

from .lifecycle import Service, ServiceError

log = logging.getLogger("dashboard.loop")

T = TypeVar("T")

#: Loop threads started and not yet stopped: stopped when the interpreter exits, before the thread pools
#: their work uses shut down (else every collection fails, and says so, until the process is gone).
_RUNNING: weakref.WeakSet[LoopThread] = weakref.WeakSet()


def _stop_all() -> None:
    for thread in list(_RUNNING):
        try:
            thread.stop(timeout=5.0)
        except Exception:  # exiting anyway: nothing more to do for it
            log.debug("%s: not stopped at exit", thread.name, exc_info=True)


# threading's own exit hooks run before it joins threads, newest first: this one before the thread pools'
threading._register_atexit(_stop_all)  # (Python 3.9 and later)


class LoopThread:
    """One event loop running in one daemon thread, started and stopped explicitly."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (``start()`` first)."""
        if self._loop is None:
            raise RuntimeError(f"{self.name}: the loop thread is not started")
        return self._loop

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def in_thread(self) -> bool:
        """Whether the caller runs in this loop's thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> LoopThread:
        """Start the thread and its loop; returns once the loop runs. Idempotent."""
        if self.alive:
            return self
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_default_executor())
                finally:
                    loop.close()

        self._loop = loop
        # a daemon: a script that forgets shutdown() still exits (the history keeps what its log holds)
        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()
        _RUNNING.add(self)
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the thread's loop; its result (or exception) in a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the thread's loop (from any loop; directly when already on it)."""
        if self.in_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the thread's loop (at once when called from it)."""
        if self.in_thread():
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the tasks left on the loop, stop it and join the thread. Idempotent; never from inside."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self.in_thread():
            raise RuntimeError(f"{self.name}: stop() joins the loop's thread and cannot run in it")
        if thread.is_alive():
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                log.error("%s: the loop thread did not stop within %.0f s", self.name, timeout)
                return
        self._thread = self._loop = None
        _RUNNING.discard(self)

    def __repr__(self) -> str:
        return f"<LoopThread {self.name!r} alive={self.alive}>"


async def _cancel_all() -> None:
    """Cancel every other task of the running loop and wait for them to end."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


class ThreadedService(Service):
    """A service that runs in an event loop and thread of its own: ``initialize()`` starts the thread and
    runs the whole start-up there (its tasks belong to that loop), ``shutdown()`` runs there and stops the
    thread. Either may be awaited from any loop; ``start()`` works with no loop at all."""

    threaded = param.Boolean(
        default=True, constant=True,
        doc="Run in an event loop and thread of the service's own, so that nothing the caller's loop does (a "
            "page being built, a notebook cell) delays its work; False runs it in the loop that starts it "
            "(tests in virtual time).")

    _loop_thread: LoopThread | None = None

    def start(self) -> Any:
        """Start now, from any thread: ``initialize()`` scheduled on the running event loop (its task), or,
        with none, on the service's own thread (a ``concurrent.futures.Future``); None if it runs already."""
        if self.running:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if not self.threaded:
                raise ServiceError(
                    f"{self.name}: start() schedules the service on the running event loop (the server's or "
                    "the kernel's) and none is running here; in a script use asyncio.run(service.initialize())"
                ) from None
            return self._own_loop().submit(Service.initialize(self))
        return loop.create_task(self.initialize(), name=f"{self.name}:initialize")

    def _own_loop(self) -> LoopThread:
        """The service's loop thread, started if need be."""
        if self._loop_thread is None or not self._loop_thread.alive:
            self._loop_thread = LoopThread(f"{self.name}-loop").start()
            self._lifecycle_lock = None  # the lifecycle's lock belongs to the new loop
        return self._loop_thread

    def in_own_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the service's loop (now, when the caller is there already or it has none)."""
        thread = self._loop_thread
        if self.threaded and thread is not None and thread.alive:
            thread.call_soon(fn, *args)
        else:
            fn(*args)

    async def initialize(self) -> None:
        """Start once (in the service's own thread unless ``threaded=False``); later calls return at once."""
        if not self.threaded:
            return await super().initialize()
        await self._own_loop().call(Service.initialize(self))

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down from a thread with no running loop (a server whose loop has stopped): the collection
        ends before the caller goes on (to close the history it writes into). Idempotent."""
        thread = self._loop_thread
        if not self.threaded or thread is None or not thread.alive:
            return
        try:
            thread.submit(Service.shutdown(self)).result(timeout)
        except Exception:
            log.exception("%s: shutdown failed", self.name)
        thread.stop()
        self._loop_thread = None

    async def shutdown(self) -> None:
        """Stop, release everything and end the service's thread; safe to call more than once."""
        thread = self._loop_thread
        if not self.threaded or thread is None:
            return await super().shutdown()
        if thread.in_thread():
            raise ServiceError(f"{self.name}: shutdown() ends the service's own thread; await it from another loop")
        await thread.call(Service.shutdown(self))
        thread.stop()
        self._loop_thread = None
