"""The connection state machine refuses transitions outside its table, loudly."""

from __future__ import annotations

import logging

import pytest

from dashboard.core.state import TRANSITIONS, ConnectionState, ConnectionStateMachine, InvalidTransition

S = ConnectionState


def test_happy_path_and_history(clock):
    sm = ConnectionStateMachine("prom", clock=clock)
    assert sm.state is S.IDLE
    assert sm.transition(S.CONNECTING, "starting")
    clock.advance(1)
    assert sm.transition("connected", "ok")
    assert sm.state is S.CONNECTED and sm.reason == "ok" and sm.since == clock.now
    assert [(t.previous, t.target) for t in sm.history] == [(S.IDLE, S.CONNECTING), (S.CONNECTING, S.CONNECTED)]


def test_same_state_is_not_a_change_but_refreshes_reason():
    sm = ConnectionStateMachine("s")
    sm.transition(S.CONNECTING)
    assert sm.transition(S.CONNECTING, "still trying") is False
    assert sm.reason == "still trying"
    assert len(sm.history) == 1


@pytest.mark.parametrize("start", list(S))
def test_every_refused_transition_raises(start):
    for target in S:
        sm = ConnectionStateMachine("s")
        sm._state = start
        if target is start or target in TRANSITIONS[start]:
            sm.transition(target)
            assert sm.state is target
        else:
            with pytest.raises(InvalidTransition, match=f"s: cannot go from {start.value} to {target.value}"):
                sm.transition(target)
            assert sm.state is start, "a refused transition changes nothing"


def test_error_names_allowed_targets():
    sm = ConnectionStateMachine("gpu")
    with pytest.raises(InvalidTransition, match=r"\(allowed: connecting, stopped\)"):
        sm.transition(S.CONNECTED)


def test_listeners_and_logging(caplog_dashboard):
    sm = ConnectionStateMachine("exporter")
    seen = []
    sm.on_change(seen.append)
    sm.on_change(lambda t: 1 / 0)  # a broken listener does not stop the machine
    sm.transition(S.CONNECTING)
    sm.transition(S.RETRYING, "connection refused")
    assert [t.target for t in seen] == [S.CONNECTING, S.RETRYING]
    warning = [r for r in caplog_dashboard.records if r.levelno == logging.WARNING and "retrying" in r.message]
    assert warning and "exporter" in warning[0].message and "connection refused" in warning[0].message
