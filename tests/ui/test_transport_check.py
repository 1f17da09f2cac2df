"""The transport's private names are looked up once per process and kind of viewer, loudly when gone."""

from __future__ import annotations

import logging

from dashboard.ui import transport


class CommWithoutPrivates:
    """A comm as a pyviz_comms that renamed ``_comm`` would make it."""


def test_check_warns_once_naming_what_is_gone(monkeypatch, caplog):
    monkeypatch.setattr(transport, "_checked", set())
    caplog.set_level(logging.WARNING, logger="dashboard.transport")
    transport.check(None, CommWithoutPrivates())
    transport.check(None, CommWithoutPrivates())
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "pyviz_comms.Comm._comm" in warnings[0]
    transport.check(None)  # a served page: its own kind, checked once too (nothing is gone here)
    assert transport._checked == {"comm", "session"} and len(caplog.records) == 1
