"""The alert engine: every rule evaluated by the service (never per viewer), vectorized over the store.

Per evaluation the engine reads the newest sample of every series some rule matches, under one hold of
the store's lock (:meth:`~dashboard.metrics.store.Store.latest_many`), and computes each rule's next
states with numpy over all its series at once; only the alerts whose state changes go through their state
machine (which refuses a transition its table does not allow). A change is published like a source event
(:class:`AlertEvent`), written to the store as Prometheus's ``ALERTS`` series (``alertname``,
``alertstate`` and the series' labels; 1 while pending or firing, 0 when it leaves that state), handed to
the rule's receivers, and, where the service keeps a history, saved in ``alerts.json`` in its data folder,
so that a restart resumes each alert where it was and tells no receiver twice.

``evaluate(now)`` takes the time explicitly: tests run it in virtual time. The service evaluates in its
collection thread while pages read the alerts in theirs: every method that reads or changes the alerts
holds the engine's ``lock``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
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
    """A rule and its alerts (one per matched series); their states live in the engine's flat arrays."""

    rule: AlertRule
    alerts: list[Alert] = field(default_factory=list)
    keys: set[SeriesKey] = field(default_factory=set)


#: Condition kinds, as the engine's per-alert array holds them.
KINDS = ("above", "below", "outside", "absent", "source_down")


class AlertEngine:
    """Every alert rule of a service and the alerts they raise."""

    def __init__(self, service: Any, clock: Callable[[], float]) -> None:
        self.service = service
        self._clock = clock
        self.lock = threading.RLock()  # evaluated in the collection thread, read by pages in theirs
        self.groups: dict[str, _RuleAlerts] = {}
        self.receivers: dict[str, Any] = {}
        self.default_receivers: list[str] = []
        self.version = 0  # bumped at every change of state: views redraw when it moves
        self.evaluations = 0
        self.started = clock()
        self._seen_series = 0
        self._fresh: set[str] = set()  # rules added since the last match: every series is new to them
        self._saved: dict[str, dict[str, Any]] = {}
        self.path: Path | None = None
        # every alert of every rule, flat, with its state and its rule's numbers as arrays
        self._alerts: list[Alert] = []
        self._changed: list[Alert] = []  # the alerts of the last evaluation's events
        self._rule_of: list[AlertRule] = []
        self._keys: list[SeriesKey] = []
        self._col = np.empty(0, dtype=np.intp)
        self._codes = np.empty(0, dtype=np.int8)
        self._since = self._pending = self._last_breach = self._values = np.empty(0)
        self._due = np.empty(0)  # per rule: when it is evaluated next
        self._interval = np.empty(0)
        self._seen_rules = 0

    # -- rules ----------------------------------------------------------------------------------------------
    def add(self, rule: AlertRule) -> AlertRule:
        with self.lock:
            return self._add(rule)

    def _add(self, rule: AlertRule) -> AlertRule:
        if rule.name in self.groups:
            raise ValueError(f"an alert rule named {rule.name!r} already exists")
        unknown = [r for r in rule.receivers if r not in self.receivers]
        if unknown:
            raise ValueError(f"alert {rule.name}: no receiver named {unknown[0]!r} (receivers: "
                             f"{', '.join(self.receivers) or 'none'})")
        self.groups[rule.name] = _RuleAlerts(rule)
        self._fresh.add(rule.name)
        return rule

    def rules(self) -> list[AlertRule]:
        with self.lock:
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
        with self.lock:
            return self._evaluate(self._clock() if now is None else now)

    def _evaluate(self, now: float) -> list[AlertEvent]:
        store = self.service.store
        if len(store) != self._seen_series or self._fresh:
            self._match(store)
        events: list[AlertEvent] = []
        due = now >= self._due - 1e-9  # each rule at its own interval
        if self._alerts and due.any():
            self._due = np.where(due, now + self._interval, self._due)
            t, v = store.latest_many(self._keys)
            events = self._step(now, t[self._col], v[self._col], due[self._rule_index])
        self.evaluations += 1
        if events:
            self.version += 1
            self._publish(events, now)
        return events

    def _match(self, store: Any) -> None:
        """Give the series new to the store (and every series, to a rule new to the engine) an alert of each
        rule they match, resumed from the saved state where there is one."""
        keys = store.keys()
        new_keys, self._seen_series = keys[max(self._seen_series, 0):], len(keys)
        by_metric: dict[str, list[SeriesKey]] = defaultdict(list)
        for key in keys if self._fresh else new_keys:
            by_metric[key.name].append(key)
        fresh = {k for ks in by_metric.values() for k in ks} if self._fresh else set(new_keys)
        grew = False
        for group in self.groups.values():
            rule = group.rule
            found = [k for k in by_metric.get("up" if rule.source_down else rule.metric, ())
                     if k.matches(labels=rule.labels) and (rule.name in self._fresh or k in fresh)]
            if not found and rule.absent is not None and not group.alerts:
                found = [SeriesKey.of(rule.metric, rule.labels)]  # absent(): one alert for the rule
            new = [k for k in found if k not in group.keys]
            if new:
                self._grow(group, new)
                grew = True
        self._fresh = set()
        if grew or not len(self._col):
            self._keys = list(dict.fromkeys(a.key for a in self._alerts))
            index = {k: i for i, k in enumerate(self._keys)}
            self._col = np.array([index[a.key] for a in self._alerts], dtype=np.intp)
            self._source_of = np.array([store.source_of(k) if k in store else "" for k in self._keys], dtype=object)
            self._rule_params()

    def _grow(self, group: _RuleAlerts, keys: list[SeriesKey]) -> None:
        codes, since, pending, breach = [], [], [], []
        for key in keys:
            saved = self._saved.get(f"{group.rule.name}:{key}")
            if saved:
                alert = Alert(group.rule, key, self._clock, AlertState(saved["state"]), saved["since"])
                alert.sent = dict(saved.get("sent", {}))
            else:
                alert = Alert(group.rule, key, self._clock)
            group.alerts.append(alert)
            group.keys.add(key)
            self._alerts.append(alert)
            self._rule_of.append(group.rule)
            codes.append(CODE[alert.state])
            since.append(alert.machine.since)
            pending.append((saved or {}).get("pending_since") or math.nan)
            breach.append((saved or {}).get("last_breach") or -math.inf)
        self._codes = np.append(self._codes, np.array(codes, dtype=np.int8))
        self._since = np.append(self._since, since)
        self._pending = np.append(self._pending, pending)
        self._last_breach = np.append(self._last_breach, breach)
        self._values = np.append(self._values, np.full(len(keys), math.nan))

    def _rule_params(self) -> None:
        """Each alert's rule's numbers, as arrays beside its state (read once a rule, gathered per alert)."""
        rules = [g.rule for g in self.groups.values()]
        position = {id(r): i for i, r in enumerate(rules)}
        self._rule_index = np.array([position[id(r)] for r in self._rule_of], dtype=np.intp)
        per_rule = np.array([_numbers(r) for r in rules], dtype=np.float64).reshape(len(rules), 8)
        kind, self._hi, self._lo, self._clear, self._for, self._keep, self._stale, self._absent = \
            per_rule[self._rule_index].T
        self._kind = kind.astype(np.int8)
        self._interval = np.array([r.interval for r in rules])
        self._due = np.resize(self._due, len(rules))  # a rule new to the engine is due at once
        self._due[self._seen_rules:] = -np.inf
        self._seen_rules = len(rules)

    def _step(self, now: float, t: np.ndarray, v: np.ndarray, due: np.ndarray) -> list[AlertEvent]:
        cur, kind = self._codes, self._kind
        seen = np.isfinite(t)
        age = now - np.where(seen, t, self.started)
        breach, cleared = _conditions(kind, v, age, self._hi, self._lo, self._clear, self._absent)
        absent = kind == 3
        if absent.any():  # an absent rule's own alert (no series yet) ends once one of its series exists
            has_series = np.bincount(self._rule_index[absent], weights=seen[absent], minlength=len(self.groups)) > 0
            breach &= ~(absent & ~seen & has_series[self._rule_index])
        firing = cur == F_
        held = breach | (firing & ~cleared)
        self._last_breach = np.where(breach & due, now, self._last_breach)
        held |= firing & (now - self._last_breach < self._keep)
        pend_start = np.where(cur == P_, self._pending, now)
        fire = held & (firing | (now - pend_start >= self._for))
        nxt = np.full(cur.shape, I_, dtype=np.int8)
        nxt[held] = P_
        nxt[fire] = F_
        nxt[~held & (firing | ((cur == R_) & (now - self._since < RESOLVED_KEEP)))] = R_
        valued = kind < 3  # thresholds: no fresh sample is no data; a failing source is an error
        nxt[valued & ((age > self._stale) | ~np.isfinite(v))] = N_
        failing = [name for name, src in self.service.sources.items() if src.health == "error"]
        if failing:
            nxt[valued & np.isin(self._source_of[self._col], failing)] = E_
        nxt = np.where(due, nxt, cur)  # rules not due keep their alerts as they are
        self._pending = np.where(nxt == P_, np.where(due, pend_start, self._pending), np.nan)
        self._values = np.where(due, v, self._values)
        changed = np.flatnonzero(nxt != cur)
        events = [self._change(int(i), CODES[nxt[i]], now) for i in changed]
        self._changed = [self._alerts[int(i)] for i in changed]
        self._codes = nxt
        self._since[changed] = now
        return events

    def _change(self, i: int, target: AlertState, now: float) -> AlertEvent:
        alert = self._alerts[i]
        rule = alert.rule
        previous = alert.state
        value = float(self._values[i])
        alert.value = value
        alert.summary = rule.describe(alert.key, target, value)
        alert.machine.transition(target, alert.summary, at=now)
        labels = alert.labels()
        return AlertEvent(labels["alertname"], target.value, previous.value, labels, alert.summary, value, now,
                          labels["severity"])

    # -- what a change does -----------------------------------------------------------------------------------
    def _publish(self, events: list[AlertEvent], now: float) -> None:
        keys, values = [], []
        for e, alert in zip(events, self._changed, strict=True):
            for state, value in ((e.previous, 0.0), (e.state, 1.0)):
                if state in ("pending", "firing"):
                    keys.append(alert.alerts_key(state))
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
        keep = set(np.flatnonzero(self._codes != I_).tolist()) | {i for i, a in enumerate(self._alerts) if a.sent}
        for i in sorted(keep):
            alert = self._alerts[i]
            state[alert.id] = {"state": alert.state.value, "since": float(self._since[i]),
                               "pending_since": _finite(self._pending[i]),
                               "last_breach": _finite(self._last_breach[i]), "sent": alert.sent}
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
        with self.lock:
            if receiver.name in self.receivers:
                raise ValueError(f"a receiver named {receiver.name!r} already exists")
            self.receivers[receiver.name] = receiver
            receiver.engine = self
            return receiver

    def alerts_for(self, receiver: Any) -> list[Alert]:
        """The alerts of the rules that name ``receiver`` (or of every rule, for a default receiver)."""
        out = []
        with self.lock:
            for group in self.groups.values():
                if receiver.name in (group.rule.receivers or self.default_receivers):
                    out += group.alerts
        return out

    # -- reading --------------------------------------------------------------------------------------------
    def alerts(self, include_inactive: bool = False) -> list[Alert]:
        """The alerts (not the inactive ones unless asked), with their newest values."""
        with self.lock:
            shown = range(len(self._alerts)) if include_inactive else np.flatnonzero(self._codes != I_).tolist()
            out = []
            for i in shown:
                alert = self._alerts[i]
                alert.value = float(self._values[i])
                out.append(alert)
            return out


def _conditions(kind: np.ndarray, v: np.ndarray, age: np.ndarray, hi: np.ndarray, lo: np.ndarray,
                clear: np.ndarray, absent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(breached now, past the clear level) of every alert at once, by its rule's kind of condition; NaN
    breaches nothing and clears."""
    with np.errstate(invalid="ignore"):
        above, below, outside = kind == 0, kind == 1, kind == 2
        out_of_range = (v < lo) | (v > hi)
        breach = np.where(above, v > hi, np.where(below, v < lo, np.where(outside, out_of_range,
                                                                           np.where(kind == 3, age > absent, v == 0))))
        held = np.where(above, v >= clear, np.where(below, v <= clear, breach))
    return breach, ~held


def _numbers(r: AlertRule) -> tuple[float, ...]:
    """A rule's kind of condition and levels, in the order of the engine's arrays."""
    above, below, outside, clear = r.above, r.below, r.outside, r.clear
    hi = above if above is not None else (outside[1] if outside else math.nan)
    lo = below if below is not None else (outside[0] if outside else math.nan)
    level = clear if clear is not None else (above if above is not None else below if below is not None else math.nan)
    absent = r.absent if r.absent is not None else math.inf
    return (KINDS.index(r.condition), hi, lo, level, r.for_, r.keep_firing_for, r.stale, absent)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
