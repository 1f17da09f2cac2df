"""The worker side of a :class:`~dashboard.history.History`: closed log segments turned into chunks.

A closed segment waits in a queue, oldest first. The history's worker thread runs at the lowest CPU
priority (nice 19), so that converting and compacting yield the CPU to the collection loop and to the
browser; on a machine whose cores are all busy it can get no CPU at all. So when the oldest segment has
waited more than ``max_lag`` seconds, a second thread at the normal priority converts everything waiting
(one segment at a time, whichever thread). :meth:`SegmentWorker.backlog` says how far behind it is.

This module is part of the storage layer: it never imports panel or bokeh.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from .files import sync

log = logging.getLogger("dashboard.history")


class SegmentWorker:
    """Closed segments to chunks, in the background (mixed into :class:`~dashboard.history.History`)."""

    _lock: threading.RLock
    _pending: dict[Path, list[pa.RecordBatch]]
    _clock: Callable[[], float]

    def _start_workers(self, max_lag: float) -> None:
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dashboard-history",
                                                             initializer=lower_priority)
        self._todo: collections.deque[tuple[int, Path, list[pa.RecordBatch], float]] = collections.deque()
        self._converting = threading.Lock()  # one segment at a time, whichever thread
        self._catch_up = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dashboard-history-catch-up",
                                                               initializer=normal_priority)
        self._catching_up = False
        #: Seconds a closed segment may wait for the worker before the catch-up thread takes over.
        self.max_lag = max_lag
        self.caught_up = 0  # segments the catch-up thread converted

    def _queue_segment(self, fd: int, path: Path) -> None:
        """Hand a closed segment to the worker (which syncs, converts and deletes it), and to the catch-up
        thread as well when the oldest one waiting is more than ``max_lag`` seconds old."""
        self._todo.append((fd, path, self._pending[path], time.monotonic()))
        self._worker.submit(self._next_segment)
        _, lag = self.backlog()
        if not self._catching_up and lag > self.max_lag:
            self._catching_up = True
            self._catch_up.submit(self._catch_up_all)

    def _next_segment(self) -> bool:
        """Finish the oldest segment waiting, if any (either thread); whether there was one."""
        with self._converting:
            try:
                fd, path, batches, _ = self._todo.popleft()
            except IndexError:
                return False
            self._finish_segment(fd, path, batches)
            return True

    def _catch_up_all(self) -> None:
        """At the normal priority: finish every segment waiting (the worker fell behind)."""
        try:
            while True:
                while self._next_segment():
                    self.caught_up += 1
                self._catching_up = False
                if not self._todo:  # (one closed while the flag still said "catching up": taken too)
                    return
                self._catching_up = True
        finally:
            self._catching_up = False

    def backlog(self) -> tuple[int, float]:
        """Segments closed and waiting to be converted, and how long the oldest has waited (seconds)."""
        todo = list(self._todo)
        return len(todo), (time.monotonic() - todo[0][3]) if todo else 0.0

    def _drain(self) -> None:
        """Wait until every segment queued so far is in chunks."""
        self._worker.submit(lambda: None).result()
        while self._next_segment():  # (none left unless the catch-up thread holds one: waited for here)
            pass

    def _stop_workers(self) -> None:
        self._worker.shutdown(wait=True)
        self._catch_up.shutdown(wait=True)

    def _finish_segment(self, fd: int, path: Path, batches: list[pa.RecordBatch]) -> None:
        try:
            sync(fd)
            os.close(fd)
            if batches:
                self._convert(path, batches)  # type: ignore[attr-defined]
            path.unlink(missing_ok=True)
            self._retire()  # type: ignore[attr-defined]
            self._compact()  # type: ignore[attr-defined]
        except OSError as exc:  # the chunk could not be written: the segment stays, converted at next start
            self._failed(exc, self._clock(), 0)  # type: ignore[attr-defined]
            with self._lock:
                self._pending.pop(path, None)
        except Exception:
            log.exception("history: converting %s failed; it stays for the next start", path)


def lower_priority() -> None:
    """Run the calling thread at the lowest CPU priority (nice 19, Linux: a thread is a task of its own),
    so that converting and compacting chunks yields the CPU to the collection loop and to the browser."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: the default priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def normal_priority() -> None:
    """Run the calling thread at the process's priority (a thread started from the nice-19 worker would
    inherit nice 19; going back needs the right to, which is tried and otherwise left)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, os.getpid()))
