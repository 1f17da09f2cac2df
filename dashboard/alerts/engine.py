"""The alert engine: every rule evaluated by the service (never per viewer), vectorized over the store.

Per evaluation the engine reads the newest sample of every series some rule matches, under one hold of
the store's lock (:meth:`~dashboard.metrics.store.Store.latest_many`), and computes each rule's next
states with numpy over all its series at once; only the alerts whose state changes go through their state
machine (which refuses a transition its table does not allow). A change is published like a source event
(:class:`AlertEvent`), written to the store as Prometheus's ``ALERTS`` series (``alertname``,
``alertstate`` and the series' labels; 1 while pending or firing, 0 when it leaves that state), handed to
the rule's receivers, and, where the service keeps a history, saved in ``alerts.json`` in its data folder,
so that a restart resumes each alert where it was and tells no receiver twice.

``evaluate(now)`` takes the time explicitly: tests run it in virtual time.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics.model import Batch, SeriesKey
from .rules import CODE, CODES, RESOLVED_KEEP, Alert, AlertRule, AlertState

log = logging.getLogger("dashboard.alerts")

A = AlertState
I_, P_, F_, R_, N_, E_ = (CODE[s] for s in (A.INACTIVE, A.PENDING, A.FIRING, A.RESOLVED, A.NODATA, A.ERROR))
#: The store's source name of the ALERTS series.
ALERTS_SOURCE = "alerts"
STATE_FILE = "alerts.json"


@dataclass(frozen=True)
class AlertEvent:
    """Published when an alert changes state."""

    name: str
    state: str
    previous: str
    labels: dict[str, str]
    summary: str
    value: float
    at: float
    severity: str


@dataclass
class _RuleAlerts:
    """A rule's alerts, one per matched series, and their state as arrays (the engine's working copy)."""

    rule: AlertRule
    alerts: list[Alert] = field(default_factory=list)
    keys: list[SeriesKey] = field(default_factory=list)
    codes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    since: np.ndarray = field(default_factory=lambda: np.empty(0))
    pending_since: np.ndarray = field(default_factory=lambda: np.empty(0))
    last_breach: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    columns: np.ndarray = field(default_factory=lambda: np.empty(0, np.intp))  # into the evaluation's keys


class AlertEngine:
    """Every alert rule of a service and the alerts they raise."""

    def __init__(self, service: Any, clock: Callable[[], float]) -> None:
        self.service = service
        self._clock = clock
        self.groups: dict[str, _RuleAlerts] = {}
        self.receivers: dict[str, Any] = {}
        self.default_receivers: list[str] = []
        self.version = 0  # bumped at every change of state: views redraw when it moves
        self.evaluations = 0
        self.started = clock()
        self._seen_series = -1
        self._saved: dict[str, dict[str, Any]] = {}
        self._keys: list[SeriesKey] = []
        self._sources: list[str] = []
        self.path: Path | None = None

    # -- rules ----------------------------------------------------------------------------------------------
    def add(self, rule: AlertRule) -> AlertRule:
        if rule.name in self.groups:
            raise ValueError(f"an alert rule named {rule.name!r} already exists")
        unknown = [r for r in rule.receivers if r not in self.receivers]
        if unknown:
            raise ValueError(f"alert {rule.name}: no receiver named {unknown[0]!r} (receivers: "
                             f"{', '.join(self.receivers) or 'none'})")
        self.groups[rule.name] = _RuleAlerts(rule)
        self._seen_series = -1
        return rule

    def rules(self) -> list[AlertRule]:
        return [g.rule for g in self.groups.values()]

    def keep_in(self, folder: Path | str) -> None:
        """Resume alerts from ``folder/alerts.json`` and save their states there."""
        self.path = Path(folder) / STATE_FILE
        try:
            self._saved = json.loads(self.path.read_text()) if self.path.exists() else {}
        except (OSError, ValueError) as exc:
            log.warning("alerts: %s could not be read (%s); alerts start inactive", self.path, exc)
            self._saved = {}

    # -- evaluation -----------------------------------------------------------------------------------------
    def evaluate(self, now: float | None = None) -> list[AlertEvent]:
        """Evaluate every rule at ``now`` (epoch seconds); the changes of state, published and stored."""
        now = self._clock() if now is None else now
        store = self.service.store
        if len(store) != self._seen_series:
            self._match(store)
        keys = self._keys
        t, v = store.latest_many(keys)
        failing = self._failing_sources()
        events: list[AlertEvent] = []
        for group in self.groups.values():
            if group.keys:
                events += self._step(group, now, t[group.columns], v[group.columns], failing)
        self.evaluations += 1
        if events:
            self.version += 1
            self._publish(events, now)
        return events

    def _match(self, store: Any) -> None:
        """Each rule's series (new ones get an alert, resumed from the saved state where there is one)."""
        by_metric: dict[str, list[SeriesKey]] = defaultdict(list)
        for key in store.keys():
            by_metric[key.name].append(key)
        index: dict[SeriesKey, int] = {}
        for group in self.groups.values():
            rule = group.rule
            name = "up" if rule.source_down else rule.metric
            found = [k for k in by_metric.get(name, ()) if k.matches(labels=rule.labels)]
            if not found and rule.absent is not None:
                found = [SeriesKey.of(rule.metric, rule.labels)]  # absent(): one alert for the rule
            known = set(group.keys)
            new = [k for k in found if k not in known]
            if new:
                self._grow(group, new)
            group.columns = np.array([index.setdefault(k, len(index)) for k in group.keys], dtype=np.intp)
        self._keys = list(index)
        self._sources = [store.source_of(k) if k in store else "" for k in self._keys]
        self._seen_series = len(store)

    def _grow(self, group: _RuleAlerts, keys: list[SeriesKey]) -> None:
        for key in keys:
            alert = Alert(group.rule, key, self._clock)
            saved = self._saved.get(alert.id)
            code = I_
            if saved:
                alert = Alert(group.rule, key, self._clock, AlertState(saved["state"]), saved["since"])
                alert.sent = dict(saved.get("sent", {}))
                code = CODE[alert.state]
            group.alerts.append(alert)
            group.keys.append(key)
            group.codes = np.append(group.codes, np.int8(code))
            group.since = np.append(group.since, alert.machine.since)
            group.pending_since = np.append(group.pending_since, (saved or {}).get("pending_since") or math.nan)
            group.last_breach = np.append(group.last_breach, (saved or {}).get("last_breach") or -math.inf)
            group.values = np.append(group.values, math.nan)

    def _failing_sources(self) -> set[str]:
        return {name for name, s in self.service.sources.items() if s.health == "error"}

    def _step(self, group: _RuleAlerts, now: float, t: np.ndarray, v: np.ndarray, failing: set[str]
              ) -> list[AlertEvent]:
        rule = group.rule
        cur = group.codes
        age = now - np.where(np.isfinite(t), t, self.started)
        breach, cleared = _condition(rule, v, age)
        if rule.absent is not None and np.isfinite(t).any():
            breach &= np.isfinite(t)  # the rule's own alert (no series yet) ends once a series exists
        held = breach | ((cur == F_) & ~cleared)
        group.last_breach = np.where(breach, now, group.last_breach)
        held |= (cur == F_) & (now - group.last_breach < rule.keep_firing_for)
        pend_start = np.where(cur == P_, group.pending_since, now)
        fire = held & ((cur == F_) | (now - pend_start >= rule.for_))
        nxt = np.full(cur.shape, I_, dtype=np.int8)
        nxt[held] = P_
        nxt[fire] = F_
        keep_resolved = ~held & (cur == R_) & (now - group.since < RESOLVED_KEEP)
        nxt[(~held & (cur == F_)) | keep_resolved] = R_
        if rule.absent is None and not rule.source_down:
            nxt[(age > rule.stale) | ~np.isfinite(v)] = N_
            sources = np.array([self._sources[c] in failing for c in group.columns], dtype=bool)
            nxt[sources] = E_
        group.pending_since = np.where(nxt == P_, pend_start, np.nan)
        group.values = v
        changed = np.flatnonzero(nxt != cur)
        events = [self._change(group, int(i), CODES[nxt[i]], now) for i in changed]
        group.codes = nxt
        group.since[changed] = now
        return events

    def _change(self, group: _RuleAlerts, i: int, target: AlertState, now: float) -> AlertEvent:
        alert = group.alerts[i]
        previous = alert.state
        value = float(group.values[i])
        alert.value = value
        alert.summary = group.rule.describe(alert.key, target, value)
        alert.machine.transition(target, alert.summary, at=now)
        return AlertEvent(group.rule.name, target.value, previous.value, alert.labels(), alert.summary, value, now,
                          group.rule.severity)

    # -- what a change does -----------------------------------------------------------------------------------
    def _publish(self, events: list[AlertEvent], now: float) -> None:
        keys, values = [], []
        for e in events:
            series = {k: v for k, v in e.labels.items() if k not in ("alertname", "severity")}
            for state, value in ((e.previous, 0.0), (e.state, 1.0)):
                if state in ("pending", "firing"):
                    keys.append(SeriesKey.of("ALERTS", series, alertname=e.name, alertstate=state))
                    values.append(value)
        if keys:
            self.service._write(Batch(ALERTS_SOURCE, tuple(keys), np.array([now]), np.array(values)[:, None]))
        for e in events:
            self.service.publisher.publish(e)
        for receiver in self._receivers_of(events):
            receiver.wake()
        self._save()

    def _receivers_of(self, events: Iterable[AlertEvent]) -> list[Any]:
        names = {r for e in events for r in (self.groups[e.name].rule.receivers or self.default_receivers)}
        return [self.receivers[n] for n in sorted(names) if n in self.receivers]

    def receivers_for(self, alert: Alert) -> list[Any]:
        names = alert.rule.receivers or self.default_receivers
        return [self.receivers[n] for n in names if n in self.receivers]

    def _save(self) -> None:
        if self.path is None:
            return
        state = {}
        for group in self.groups.values():
            for i, alert in enumerate(group.alerts):
                if alert.state is not A.INACTIVE or alert.sent:
                    state[alert.id] = {"state": alert.state.value, "since": float(group.since[i]),
                                       "pending_since": _finite(group.pending_since[i]),
                                       "last_breach": _finite(group.last_breach[i]),
                                       "sent": alert.sent}
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("alerts: could not save their states to %s: %s", self.path, exc)

    def save(self) -> None:
        """Save the alerts' states now (a receiver recorded a delivery)."""
        self._save()

    def add_receiver(self, receiver: Any) -> Any:
        if receiver.name in self.receivers:
            raise ValueError(f"a receiver named {receiver.name!r} already exists")
        self.receivers[receiver.name] = receiver
        receiver.engine = self
        return receiver

    def alerts_for(self, receiver: Any) -> list[Alert]:
        """The alerts of the rules that name ``receiver`` (or of every rule, for a default receiver)."""
        out = []
        for group in self.groups.values():
            if receiver.name in (group.rule.receivers or self.default_receivers):
                out += group.alerts
        return out

    # -- reading --------------------------------------------------------------------------------------------
    def alerts(self, include_inactive: bool = False) -> list[Alert]:
        out = []
        for group in self.groups.values():
            for i, alert in enumerate(group.alerts):
                if include_inactive or alert.state is not A.INACTIVE:
                    alert.value = float(group.values[i]) if i < len(group.values) else math.nan
                    out.append(alert)
        return out


def _condition(rule: AlertRule, v: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(breached now, past the clear level) for each series; NaN breaches nothing and clears."""
    with np.errstate(invalid="ignore"):
        if rule.above is not None:
            clear = rule.above if rule.clear is None else rule.clear
            return v > rule.above, ~(v >= clear)
        if rule.below is not None:
            clear = rule.below if rule.clear is None else rule.clear
            return v < rule.below, ~(v <= clear)
        if rule.outside is not None:
            low, high = rule.outside
            out = (v < low) | (v > high)
            return out, ~out
        if rule.absent is not None:
            gone = age > rule.absent
            return gone, ~gone
        down = v == 0  # source_down: the source's up series
        return down, ~down


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
