"""What a source's collection loop does next: a pure function from what happened to a :class:`Step`.

:class:`~dashboard.service.MetricsService` runs one loop per source. Each turn collects once, classifies
what happened as an :class:`Outcome`, asks :func:`decide` for the next :class:`Step` and performs it:
record it on the circuit breaker and the source, move the connection state, wait. All the policy lives
here and is tested as a table (``tests/test_collection.py``); the loop only does what a step says.

========================  =========  ======================  ===============================  ==========
outcome                   breaker    record                  connection                       then wait
========================  =========  ======================  ===============================  ==========
samples (or none)         success    success                 connected                        interval
data error                success    failure (data)          connected (if not already)       interval
failure, breaker closes   failure    failure                 retrying                         backoff
failure, breaker opens    failure    failure                 circuit open, then probing       breaker
unavailable               --         unavailable             stopped                          stop
========================  =========  ======================  ===============================  ==========

A data error (the peer answered with something unreadable) neither backs off nor touches the breaker:
asking again at once would read the same thing. A source that cannot run here (no GPU) stops with the
reason instead of retrying. The breaker opens at ``threshold`` failures in a row, or at the first
failure of a half-open probe; after its timeout the loop probes once (``connecting``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .core.resilience import CircuitBreaker
from .core.state import ConnectionState


class Outcome(enum.Enum):
    """What one collection gave."""

    SAMPLES = "samples"  # it answered, possibly with no samples
    DATA_ERROR = "data error"  # it answered with something unreadable
    FAILURE = "failure"  # no answer: network, timeout, any other exception
    UNAVAILABLE = "unavailable"  # it cannot run on this machine


class Wait(enum.Enum):
    """How long the loop waits before its next collection."""

    INTERVAL = "interval"  # what is left of the source's interval
    BACKOFF = "backoff"  # the retry policy's delay for the attempt
    BREAKER = "breaker"  # until the open breaker lets one probe through
    STOP = "stop"  # no next collection: the loop ends


@dataclass(frozen=True)
class Step:
    """What the loop does after one collection, in order: breaker, record, connection, wait, then."""

    breaker: str | None  # "success" or "failure" to record on the breaker; None: leave it
    record: str  # "success", "failure", "data error" or "unavailable", on the source
    connection: ConnectionState | None  # the state to move to now (None: stay)
    reason: str
    wait: Wait
    attempt: int  # the backoff attempt the next failure will use
    then: ConnectionState | None = None  # the state to move to after waiting
    then_reason: str = ""


def decide(outcome: Outcome, *, connection: ConnectionState, breaker: str, failures: int, threshold: int,
           attempt: int, error: str = "") -> Step:
    """The next step after ``outcome``.

    ``connection`` is the source's state now, ``breaker`` its breaker's state and ``failures`` the failures
    in a row it has counted so far; ``attempt`` is the backoff attempt of the next failure; ``error``
    describes the outcome when it is not samples.
    """
    if outcome is Outcome.SAMPLES:
        return Step("success", "success", ConnectionState.CONNECTED, "collecting", Wait.INTERVAL, 0)
    if outcome is Outcome.DATA_ERROR:
        moves = connection is not ConnectionState.CONNECTED
        return Step("success", "data error", ConnectionState.CONNECTED if moves else None,
                    "answering (with unreadable data)" if moves else "", Wait.INTERVAL, 0)
    if outcome is Outcome.UNAVAILABLE:
        return Step(None, "unavailable", ConnectionState.STOPPED, error, Wait.STOP, attempt)
    if breaker == CircuitBreaker.HALF_OPEN or failures + 1 >= threshold:
        return Step("failure", "failure", ConnectionState.CIRCUIT_OPEN,
                    f"{failures + 1} failures in a row; last: {error}", Wait.BREAKER, 0,
                    then=ConnectionState.CONNECTING, then_reason="half-open: probing")
    return Step("failure", "failure", ConnectionState.RETRYING, error, Wait.BACKOFF, attempt + 1)
