"""Alert rules in virtual time: pending then firing after `for`, hysteresis without flapping,
keep_firing_for, no data, a failing source, absent series, series that appear later, refused transitions,
the ALERTS series, and states that survive a restart."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.alerts import AlertRule, AlertState
from dashboard.core.state import InvalidTransition
from dashboard.metrics.model import Batch, SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.push import PushSource

T0 = 1_764_410_400.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def service(**params) -> tuple[MetricsService, Clock]:
    clock = Clock()
    return MetricsService([PushSource(name="app")], wall=clock, **params), clock


def write(svc, clock, t: float, name: str = "temp", source: str = "app", **values: float) -> None:
    """Samples at T0 + t (one per label value of ``gpu``), and the clock set there."""
    clock.t = T0 + t
    keys = tuple(SeriesKey.of(name, gpu=g) for g in values)
    svc._write(Batch(source, keys, np.array([clock.t]), np.array([[v] for v in values.values()])))


def states(svc) -> dict[str, str]:
    return {a.key.label("gpu"): a.state.value for a in svc.alert_engine.alerts(include_inactive=True)}


def step(svc, clock, t: float, **values: float) -> list[tuple[str, str, str]]:
    write(svc, clock, t, **values)
    return [(e.labels["gpu"], e.previous, e.state) for e in svc.alert_engine.evaluate(clock.t)]


def test_pending_then_firing_after_for_one_alert_per_series():
    svc, clock = service()
    svc.add_alert(name="GpuHot", metric="temp", above=85, clear=80, for_=60, summary="GPU {gpu} at {value:.0f} °C")
    assert step(svc, clock, 0, g0=90, g1=50) == [("g0", "inactive", "pending")]
    assert step(svc, clock, 30, g0=91, g1=50) == []
    assert step(svc, clock, 60, g0=92, g1=50) == [("g0", "pending", "firing")]
    (alert,) = svc.alert_engine.alerts()
    assert alert.summary == "GPU g0 at 92 °C" and alert.labels() == {"gpu": "g0", "alertname": "GpuHot",
                                                                     "severity": "warning"}
    frame = svc.alerts()
    assert frame[["name", "state", "summary", "value"]].values.tolist() == [["GpuHot", "firing", "GPU g0 at 92 °C",
                                                                              92.0]]
    assert frame.since[0].timestamp() == T0 + 60


def test_a_condition_that_ends_before_for_goes_back_to_inactive():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=85, for_=60)
    assert step(svc, clock, 0, g0=90) == [("g0", "inactive", "pending")]
    assert step(svc, clock, 30, g0=70) == [("g0", "pending", "inactive")]
    assert step(svc, clock, 40, g0=90) == [("g0", "inactive", "pending")]
    assert step(svc, clock, 90, g0=90) == [], "for counts from the new start"
    assert step(svc, clock, 100, g0=90) == [("g0", "pending", "firing")]


def test_hysteresis_keeps_a_firing_alert_until_the_clear_level():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80, clear=75)
    assert step(svc, clock, 0, g0=81) == [("g0", "inactive", "firing")]
    for i, v in enumerate([79, 81, 76, 79.9, 80.5, 75.5]):  # flapping across 80: no change
        assert step(svc, clock, 1 + i, g0=v) == []
    assert step(svc, clock, 10, g0=74) == [("g0", "firing", "resolved")]
    assert step(svc, clock, 11, g0=79) == [], "below the threshold: stays resolved"
    assert step(svc, clock, 12, g0=80.1) == [("g0", "resolved", "firing")]


def test_keep_firing_for():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80, keep_firing_for=30)
    step(svc, clock, 0, g0=90)
    assert step(svc, clock, 10, g0=50) == []
    assert step(svc, clock, 29, g0=50) == [], "30 s from the last evaluation that found it true"
    assert step(svc, clock, 31, g0=50) == [("g0", "firing", "resolved")]


def test_below_outside_and_new_series_picked_up():
    svc, clock = service()
    svc.add_alert(name="Cold", metric="temp", below=10)
    svc.add_alert(name="Odd", metric="temp", outside=(0, 100))
    step(svc, clock, 0, g0=50)
    assert states(svc) == {"g0": "inactive"}
    write(svc, clock, 1, g0=5, g1=-1)  # a series that appears later
    events = {(e.name, e.labels["gpu"], e.state) for e in svc.alert_engine.evaluate(clock.t)}
    assert events == {("Cold", "g0", "firing"), ("Cold", "g1", "firing"), ("Odd", "g1", "firing")}


def test_no_data_and_a_failing_source():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80, stale=60)
    step(svc, clock, 0, g0=90)
    clock.t = T0 + 61
    assert [(e.previous, e.state) for e in svc.alert_engine.evaluate(clock.t)] == [("firing", "nodata")]
    assert step(svc, clock, 62, g0=90) == [("g0", "nodata", "firing")]
    svc.sources["app"].record_failure("connection refused")
    clock.t += 1
    assert [(e.previous, e.state) for e in svc.alert_engine.evaluate(clock.t)] == [("firing", "error")]


def test_source_down_and_absent_rules():
    svc, clock = service()
    svc.add_alert(name="AppDown", source_down=True, labels={"source": "app"})
    svc.add_alert(name="NoHeartbeat", metric="heartbeat", absent=60)
    write(svc, clock, 0, name="up", g0=1)
    svc._write(Batch("app", (SeriesKey.of("up", source="app"),), np.array([T0]), np.array([[1.0]])))
    assert svc.alert_engine.evaluate(T0) == []
    svc._write(Batch("app", (SeriesKey.of("up", source="app"),), np.array([T0 + 5]), np.array([[0.0]])))
    clock.t = T0 + 61
    fired = {(e.name, e.state) for e in svc.alert_engine.evaluate(clock.t)}
    assert fired == {("AppDown", "firing"), ("NoHeartbeat", "firing")}, "no heartbeat was ever seen in 61 s"
    svc._write(Batch("hb", (SeriesKey.of("heartbeat"),), np.array([T0 + 62]), np.array([[1.0]])))
    assert {(e.name, e.state) for e in svc.alert_engine.evaluate(T0 + 62)} == {("NoHeartbeat", "resolved")}


def test_refused_transitions_raise_and_rules_are_checked():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80)
    step(svc, clock, 0, g0=90)
    (alert,) = svc.alert_engine.alerts()
    with pytest.raises(InvalidTransition, match="cannot go from firing to inactive"):
        alert.machine.transition(AlertState.INACTIVE)
    with pytest.raises(ValueError, match="exactly one condition"):
        AlertRule(name="Both", metric="temp", above=1, below=2)
    with pytest.raises(ValueError, match="summary"):
        AlertRule(name="Bad", metric="temp", above=1, summary="{value:%%%}")
    with pytest.raises(ValueError, match="already exists"):
        svc.add_alert(name="Hot", metric="temp", above=1)
    with pytest.raises(ValueError, match="no receiver named 'ops'"):
        svc.add_alert(name="Other", metric="temp", above=1, receivers=["ops"])


def test_alerts_series_in_the_store():
    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80, for_=10)
    step(svc, clock, 0, g0=90)
    step(svc, clock, 10, g0=90)
    step(svc, clock, 20, g0=50)
    frame = svc.frame("ALERTS", start=T0 - 1, end=T0 + 30)
    got = [(r.time.timestamp() - T0, r.labels, r.value) for r in frame.itertuples()]
    pending, firing = ('{alertname="Hot",alertstate="pending",gpu="g0"}',
                       '{alertname="Hot",alertstate="firing",gpu="g0"}')
    assert got == [(0.0, pending, 1.0), (10.0, pending, 0.0), (10.0, firing, 1.0), (20.0, firing, 0.0)]


def test_states_survive_a_restart_with_history(tmp_path):
    svc, clock = service(history=tmp_path)
    svc.add_alert(name="Hot", metric="temp", above=80)
    step(svc, clock, 0, g0=90)
    (alert,) = svc.alert_engine.alerts()
    alert.sent["ops"] = {"state": "firing", "at": clock.t, "starts": clock.t}
    svc.alert_engine.save()
    svc.close_history()
    again, clock2 = service(history=tmp_path)
    again.add_alert(name="Hot", metric="temp", above=80)
    write(again, clock2, 5, g0=91)
    assert again.alert_engine.evaluate(clock2.t) == [], "still firing: no new event"
    (alert,) = again.alert_engine.alerts()
    assert alert.state is AlertState.FIRING and alert.machine.since == T0 and alert.sent["ops"]["at"] == T0
    again.close_history()


def test_each_rule_at_its_own_interval():
    svc, clock = service()
    svc.add_alert(name="Fast", metric="temp", above=80, interval=1)
    svc.add_alert(name="Slow", metric="temp", above=80, interval=10)
    write(svc, clock, 0, g0=50)
    assert svc.alert_engine.evaluate(clock.t) == []
    write(svc, clock, 1, g0=90)
    assert [e.name for e in svc.alert_engine.evaluate(clock.t)] == ["Fast"], "Slow is not due for 9 s"
    write(svc, clock, 5, g0=91)
    assert svc.alert_engine.evaluate(clock.t) == []
    write(svc, clock, 10, g0=92)
    assert [(e.name, e.value) for e in svc.alert_engine.evaluate(clock.t)] == [("Slow", 92.0)]


def test_alerts_series_are_exposed_for_prometheus():
    from prometheus_client import CollectorRegistry, generate_latest

    from dashboard.exporter import SeriesCollector

    svc, clock = service()
    svc.add_alert(name="Hot", metric="temp", above=80)
    step(svc, clock, 0, g0=90)
    registry = CollectorRegistry()
    registry.register(SeriesCollector(svc))
    text = generate_latest(registry).decode()
    assert 'ALERTS{alertname="Hot",alertstate="firing",gpu="g0",source="alerts"} 1.0' in text
