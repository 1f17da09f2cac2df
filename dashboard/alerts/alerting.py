"""The service's side of alerts: rules and receivers added to a :class:`~dashboard.service.MetricsService`,
the evaluation loop it owns, and the alerts as a DataFrame (a mixin of the service)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from .engine import AlertEngine
from .receivers import Receiver
from .rules import AlertRule

log = logging.getLogger("dashboard.alerts")


class Alerting:
    """Alert rules and receivers of a service; evaluated by the service, never per viewer."""

    _alert_engine: AlertEngine | None = None
    _alert_tasks: frozenset[str] = frozenset()  # the tasks started (the evaluation, each receiver)

    @property
    def alert_engine(self) -> AlertEngine:
        """The service's alert engine (made on first use; it keeps its states beside the history)."""
        if self._alert_engine is None:
            engine = self._alert_engine = AlertEngine(self, self._wall)  # type: ignore[attr-defined]
            if self.history is not None:  # type: ignore[attr-defined]
                engine.keep_in(self.history.folder)  # type: ignore[attr-defined]
        return self._alert_engine

    def add_alert(self, rule: AlertRule | None = None, **params: Any) -> AlertRule:
        """Add an alert rule (an :class:`AlertRule`, or its params); evaluated at its interval from now on."""
        rule = rule if rule is not None else AlertRule(**params)
        self.alert_engine.add(rule)
        if self.running:  # type: ignore[attr-defined]
            self.in_own_loop(self._start_alerts)  # type: ignore[attr-defined]
        return rule

    def add_receiver(self, receiver: Receiver | None = None, default: bool = False, **params: Any) -> Receiver:
        """Add a receiver (a :class:`Receiver`, or its params); ``default``: told of rules that name none."""
        receiver = receiver if receiver is not None else Receiver(**params)
        self.alert_engine.add_receiver(receiver)
        if default:
            self.alert_engine.default_receivers.append(receiver.name)
        if self.running:  # type: ignore[attr-defined]
            self.in_own_loop(self._start_alerts)  # type: ignore[attr-defined]
        return receiver

    def alerts(self, include_inactive: bool = False) -> pd.DataFrame:
        """The current alerts: name, state, labels, summary, value, since (UTC), severity."""
        rows = [a.as_dict() for a in self.alert_engine.alerts(include_inactive)] if self._alert_engine else []
        frame = pd.DataFrame(rows, columns=["name", "state", "labels", "summary", "value", "since", "severity",
                                            "metric"])
        frame["since"] = pd.to_datetime(frame["since"], unit="s", utc=True)
        return frame

    def _start_alerts(self) -> None:
        """Start the evaluation loop and each receiver's task (those not started yet)."""
        engine = self._alert_engine
        if engine is None or (not engine.groups and not engine.receivers):
            return
        started = set(self._alert_tasks)
        spawn = self.resources.spawn  # type: ignore[attr-defined]
        if "evaluate" not in started and engine.groups:
            started.add("evaluate")
            spawn(self._evaluate_alerts(), name="alerts")
        for name, receiver in engine.receivers.items():
            if name not in started:
                started.add(name)
                receiver.http = self.http  # type: ignore[attr-defined]
                spawn(receiver.run(self._sleep), name=f"receiver:{name}")  # type: ignore[attr-defined]
        self._alert_tasks = frozenset(started)

    def _stop_alerts(self) -> None:
        """The tasks were cancelled with the service's resources: they start again with it."""
        self._alert_tasks = frozenset()

    async def _evaluate_alerts(self) -> None:
        engine = self.alert_engine
        sleep = self._sleep  # type: ignore[attr-defined]
        while True:
            try:
                engine.evaluate(self._wall())  # type: ignore[attr-defined]
            except Exception:  # a bug must not stop alerting for good: logged, and the next round runs
                log.exception("alerts: an evaluation failed")
            await sleep(min((r.interval for r in engine.rules()), default=1.0))

