"""State machines with an explicit table of allowed transitions: a source's connection, an alert's state.

The seed's ``ConnectionState`` ignored a bad transition silently; here a refused transition raises
:class:`InvalidTransition`, naming the machine, both states and what *is* allowed. Every change is
recorded (state, reason, time) and logged under the ``dashboard.state`` logger with the owner's name.

A transition to the state the machine is already in is not a change: it refreshes the reason and
returns ``False``, so a loop may report "still connected" without special cases.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dashboard.state")


class ConnectionState(str, enum.Enum):
    """Where a source stands with whatever it collects from."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"
    CIRCUIT_OPEN = "circuit_open"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


S = ConnectionState

#: Allowed transitions. ``CIRCUIT_OPEN -> CONNECTING`` is the breaker's half-open probe.
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    S.IDLE: frozenset({S.CONNECTING, S.STOPPED}),
    S.CONNECTING: frozenset({S.CONNECTED, S.RETRYING, S.CIRCUIT_OPEN, S.STOPPED}),
    S.CONNECTED: frozenset({S.RETRYING, S.CIRCUIT_OPEN, S.STOPPED}),
    S.RETRYING: frozenset({S.CONNECTED, S.CIRCUIT_OPEN, S.STOPPED}),
    S.CIRCUIT_OPEN: frozenset({S.CONNECTING, S.STOPPED}),
    S.STOPPED: frozenset({S.CONNECTING}),
}


class InvalidTransition(RuntimeError):
    """A transition that the table does not allow."""


@dataclass(frozen=True)
class Transition:
    """One recorded change of state."""

    previous: Any
    target: Any
    reason: str
    at: float


Listener = Callable[[Transition], None]


class StateMachine:
    """Holds one state of an ``enum``, changes it only along ``table`` (state -> the states that may
    follow it). Refused transitions raise :class:`InvalidTransition`; a change is recorded, logged (at
    WARNING for the states in ``warn``) and passed to the listeners."""

    def __init__(self, owner: str, table: Mapping[Any, frozenset[Any]], initial: Any,
                 clock: Callable[[], float] = time.time, history: int = 50, warn: frozenset[Any] = frozenset()
                 ) -> None:
        self.owner = owner
        self.table = table
        self._kind = type(initial)
        self._clock = clock
        self._state = initial
        self.reason = ""
        self.since = clock()
        self.history: list[Transition] = []
        self._history_size = history
        self._warn = warn
        self._listeners: list[Listener] = []

    @property
    def state(self) -> Any:
        return self._state

    def can(self, target: Any) -> bool:
        """Whether ``target`` may follow the current state."""
        return target is self._state or target in self.table[self._state]

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(transition)`` after every change."""
        self._listeners.append(listener)

    def transition(self, target: Any, reason: str = "", at: float | None = None) -> bool:
        """Move to ``target`` (at time ``at``, now by default); returns False when already there. Raises
        InvalidTransition if refused."""
        target = self._kind(target)
        if target is self._state:
            self.reason = reason or self.reason
            return False
        allowed = self.table[self._state]
        if target not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise InvalidTransition(
                f"{self.owner}: cannot go from {self._state.value} to {target.value} (allowed: {names})")
        change = Transition(self._state, target, reason, self._clock() if at is None else at)
        self._state, self.reason, self.since = target, reason, change.at
        self.history = [*self.history[-(self._history_size - 1):], change]
        level = logging.WARNING if target in self._warn else logging.INFO
        log.log(level, "%s: %s -> %s%s", self.owner, change.previous.value, target.value,
                f" ({reason})" if reason else "")
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("%s: state listener failed", self.owner)
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.owner!r} {self._state.value}>"


class ConnectionStateMachine(StateMachine):
    """Holds a :class:`ConnectionState`, changes it only along :data:`TRANSITIONS`."""

    def __init__(self, owner: str, clock: Callable[[], float] = time.time, history: int = 50) -> None:
        super().__init__(owner, TRANSITIONS, ConnectionState.IDLE, clock, history,
                         warn=frozenset({S.RETRYING, S.CIRCUIT_OPEN}))
