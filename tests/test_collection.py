"""The collection loop's decisions as a table: every outcome, in every breaker and connection state."""

from __future__ import annotations

import pytest

from dashboard.collection import Outcome, Step, Wait, decide
from dashboard.core.resilience import CircuitBreaker
from dashboard.core.state import ConnectionState as S

CLOSED, HALF = CircuitBreaker.CLOSED, CircuitBreaker.HALF_OPEN

# outcome, connection now, breaker, failures so far, attempt -> the step (threshold 3 throughout)
TABLE = [
    (Outcome.SAMPLES, S.CONNECTING, CLOSED, 0, 0,
     Step("success", "success", S.CONNECTED, "collecting", Wait.INTERVAL, 0)),
    (Outcome.SAMPLES, S.RETRYING, CLOSED, 2, 2,
     Step("success", "success", S.CONNECTED, "collecting", Wait.INTERVAL, 0)),
    (Outcome.SAMPLES, S.CONNECTING, HALF, 3, 0,  # a probe that succeeds closes the breaker
     Step("success", "success", S.CONNECTED, "collecting", Wait.INTERVAL, 0)),
    (Outcome.DATA_ERROR, S.CONNECTING, CLOSED, 0, 0,
     Step("success", "data error", S.CONNECTED, "answering (with unreadable data)", Wait.INTERVAL, 0)),
    (Outcome.DATA_ERROR, S.CONNECTED, CLOSED, 0, 0,  # already connected: the state (and its reason) stay
     Step("success", "data error", None, "", Wait.INTERVAL, 0)),
    (Outcome.DATA_ERROR, S.RETRYING, CLOSED, 2, 2,  # no backoff: the attempt count starts over
     Step("success", "data error", S.CONNECTED, "answering (with unreadable data)", Wait.INTERVAL, 0)),
    (Outcome.FAILURE, S.CONNECTING, CLOSED, 0, 0,
     Step("failure", "failure", S.RETRYING, "OSError: refused", Wait.BACKOFF, 1)),
    (Outcome.FAILURE, S.RETRYING, CLOSED, 1, 1,
     Step("failure", "failure", S.RETRYING, "OSError: refused", Wait.BACKOFF, 2)),
    (Outcome.FAILURE, S.RETRYING, CLOSED, 2, 2,  # the third in a row opens the breaker
     Step("failure", "failure", S.CIRCUIT_OPEN, "3 failures in a row; last: OSError: refused", Wait.BREAKER, 0,
          then=S.CONNECTING, then_reason="half-open: probing")),
    (Outcome.FAILURE, S.CONNECTING, HALF, 3, 0,  # a failed probe opens it again at once
     Step("failure", "failure", S.CIRCUIT_OPEN, "4 failures in a row; last: OSError: refused", Wait.BREAKER, 0,
          then=S.CONNECTING, then_reason="half-open: probing")),
    (Outcome.UNAVAILABLE, S.CONNECTING, CLOSED, 0, 0,
     Step(None, "unavailable", S.STOPPED, "OSError: refused", Wait.STOP, 0)),
]


@pytest.mark.parametrize(("outcome", "connection", "breaker", "failures", "attempt", "expected"), TABLE)
def test_decide(outcome, connection, breaker, failures, attempt, expected):
    step = decide(outcome, connection=connection, breaker=breaker, failures=failures, threshold=3,
                  attempt=attempt, error="" if outcome is Outcome.SAMPLES else "OSError: refused")
    assert step == expected


def test_every_step_moves_along_the_state_machine():
    """No decision asks the state machine for a transition its table refuses (from any state the loop can
    be in when that outcome arrives)."""
    from dashboard.core.state import TRANSITIONS

    for outcome, connection, breaker, failures, attempt, _ in TABLE:
        step = decide(outcome, connection=connection, breaker=breaker, failures=failures, threshold=3,
                      attempt=attempt, error="e")
        if step.connection is not None and step.connection is not connection:
            assert step.connection in TRANSITIONS[connection], (outcome, connection, step.connection)
        if step.then is not None:
            assert step.then in TRANSITIONS[step.connection or connection]
