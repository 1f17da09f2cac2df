"""Alert rules and the states of their alerts.

An :class:`AlertRule` names a metric and label matchers, a condition (``above``, ``below``, ``outside`` a
range, ``absent`` for a time, the source down), ``for_`` (how long the condition holds before the alert
fires), a ``clear`` level (hysteresis: fires above 80, clears below 75), ``keep_firing_for``, a severity
and a summary template over the series' labels and value (``"GPU {gpu} at {value:.0f} °C"``). One rule
gives one :class:`Alert` per matching series, including series that appear later.

An alert's state moves along :data:`TRANSITIONS` only (the seed's state machine, corrected: a refused
transition raises): inactive, pending, firing, resolved, plus nodata (no fresh sample) and error (the
source failing). Firing never goes straight back to inactive: it is resolved first, which is what a
receiver is told.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import param

from ..core.state import StateMachine
from ..metrics.model import SeriesKey


class AlertState(str, enum.Enum):
    """Where an alert stands."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    NODATA = "nodata"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


A = AlertState
_ANY = frozenset(AlertState)
#: Allowed transitions. Firing is left through resolved (the receivers hear of it), or for nodata/error.
TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    A.INACTIVE: frozenset({A.PENDING, A.FIRING, A.NODATA, A.ERROR}),
    A.PENDING: frozenset({A.INACTIVE, A.FIRING, A.NODATA, A.ERROR}),
    A.FIRING: frozenset({A.RESOLVED, A.NODATA, A.ERROR}),
    A.RESOLVED: _ANY - {A.RESOLVED},
    A.NODATA: _ANY - {A.NODATA, A.RESOLVED},
    A.ERROR: _ANY - {A.ERROR, A.RESOLVED},
}
#: The order of the state codes the engine keeps in its arrays.
CODES: tuple[AlertState, ...] = tuple(AlertState)
CODE = {state: i for i, state in enumerate(CODES)}
#: Seconds a resolved alert stays listed before it goes back to inactive (Prometheus keeps 15 minutes).
RESOLVED_KEEP = 900.0


class AlertRule(param.Parameterized):
    """One rule: a condition on the series of a metric, and what to do when it holds."""

    name = param.String(default="Alert", regex=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$",
                        doc="The alert's name (its alertname label): letters, digits and _.")
    metric = param.String(default="", doc="The metric whose series are checked.")
    labels = param.Dict(default={}, doc="Only series whose labels have these values.")
    above = param.Number(default=None, allow_None=True, bounds=(None, None),
                         doc="Fires while the newest value is above this.")
    below = param.Number(default=None, allow_None=True, bounds=(None, None),
                         doc="Fires while the newest value is below this.")
    outside = param.Range(default=None, allow_None=True, doc="Fires while the newest value is outside (low, high).")
    absent = param.Number(default=None, allow_None=True, bounds=(0, 30 * 86400),
                          doc="Fires when a series (or every series of the rule) has had no sample for this "
                              "many seconds.")
    source_down = param.Boolean(default=False, doc="Fires while the series' source is failing.")
    clear = param.Number(default=None, allow_None=True, bounds=(None, None),
                         doc="Hysteresis: a firing alert of `above` clears only below this (of `below`, "
                             "only above it); the threshold itself by default.")
    for_ = param.Number(default=0.0, bounds=(0, 30 * 86400), label="for",
                        doc="Seconds the condition holds (pending) before the alert fires.")
    keep_firing_for = param.Number(default=0.0, bounds=(0, 30 * 86400),
                                   doc="Seconds a firing alert keeps firing after its condition ends.")
    severity = param.Selector(default="warning", objects=["warning", "critical"], doc="How bad it is.")
    summary = param.String(default="{alertname} {state}",
                           doc="A text over the series' labels, {value}, {alertname} and {state}.")
    receivers = param.List(default=[], item_type=str, doc="Names of the receivers told of it.")
    interval = param.Number(default=1.0, bounds=(0.05, 3600), doc="Seconds between evaluations.")
    stale = param.Number(default=300.0, bounds=(1, 30 * 86400),
                         doc="A series with no sample for this long has no data (nodata).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        conditions = [self.above is not None, self.below is not None, self.outside is not None,
                      self.absent is not None, self.source_down]
        if sum(conditions) != 1:
            raise ValueError(f"alert {self.name}: expected exactly one condition (above, below, outside, absent "
                             f"or source_down), got {sum(conditions)}")
        if not self.metric and not self.source_down:
            raise ValueError(f"alert {self.name}: expected the metric it checks")
        problem = template_problem(self.summary)
        if problem:
            raise ValueError(f"alert {self.name}: summary: {problem}")

    @property
    def condition(self) -> str:
        """Which condition the rule has."""
        for name in ("above", "below", "outside", "absent"):
            if getattr(self, name) is not None:
                return name
        return "source_down"

    def threshold(self) -> list[float]:
        """The levels drawn on the plots (the threshold, or both ends of the range)."""
        if self.outside is not None:
            return [float(self.outside[0]), float(self.outside[1])]
        return [float(x) for x in (self.above, self.below) if x is not None]

    def matches(self, key: SeriesKey) -> bool:
        return key.matches(self.metric or None, self.labels)

    def describe(self, key: SeriesKey, state: AlertState, value: float) -> str:
        """The summary for one series (a missing label reads as empty)."""
        fields = _Fields(dict(key.labels), alertname=self.name, state=state.value, value=value)
        try:
            return self.summary.format_map(fields)[:1000]
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            return f"{self.name} {state.value} (summary: {type(exc).__name__}: {exc})"


def alerts_key(alertname: str, series: SeriesKey, state: str) -> SeriesKey:
    """The ``ALERTS`` series of an alert of ``series`` in ``state``: alertname, alertstate and the series'
    labels."""
    return SeriesKey.of("ALERTS", dict(series.labels), alertname=alertname, alertstate=state)


class _Fields(dict):
    def __init__(self, labels: dict[str, str], **more: Any) -> None:
        super().__init__(labels)
        self.update(more)

    def __missing__(self, key: str) -> str:
        return ""


def template_problem(text: str) -> str | None:
    """What is wrong with a summary template (None when it formats with any labels)."""
    try:
        text.format_map(_Fields({}, alertname="a", state="firing", value=1.5))
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        return f"expected a text over labels, {{value}}, {{alertname}} and {{state}}, got {text!r} ({exc})"
    return None


class Alert:
    """One series of one rule: its state machine and what receivers are told."""

    def __init__(self, rule: AlertRule, key: SeriesKey | None, clock: Any, state: AlertState = A.INACTIVE,
                 since: float | None = None) -> None:
        self.rule = rule
        self.key = key or SeriesKey.of(rule.metric or "up", rule.labels)
        self.machine = StateMachine(f"alert {rule.name}{self.series_text}", TRANSITIONS, state, clock,
                                    warn=frozenset({A.FIRING}))
        if since is not None:
            self.machine.since = since
        self.value = math.nan
        self.summary = ""
        self._labels = {**dict(self.key.labels), "alertname": rule.name, "severity": rule.severity}
        self.sent: dict[str, dict[str, Any]] = {}  # receiver -> what it was last told: {"state", "at", "starts"}

    def alerts_key(self, state: str) -> SeriesKey:
        """Its ``ALERTS`` series in ``state`` (pending or firing)."""
        cache = self.__dict__.setdefault("_alerts_keys", {})
        key = cache.get(state)
        if key is None:
            key = cache[state] = alerts_key(self.rule.name, self.key, state)
        return key

    @property
    def series_text(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in self.key.labels) + "}" if self.key.labels else ""

    @property
    def id(self) -> str:
        """Stable across restarts: the rule's name and the series."""
        return f"{self.rule.name}:{self.key}"

    @property
    def state(self) -> AlertState:
        return self.machine.state

    def labels(self) -> dict[str, str]:
        """What a receiver groups by: the series' labels, alertname and severity."""
        return dict(self._labels)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.rule.name, "state": self.state.value, "labels": self.labels(), "summary": self.summary,
                "value": None if math.isnan(self.value) else self.value, "since": self.machine.since,
                "severity": self.rule.severity, "metric": self.key.name}
