"""Rules and receivers in a spec: built into the service, and every problem named with its line and field."""

from __future__ import annotations

import pytest

from dashboard.spec import SpecError, parse_spec

GOOD = """system: false
receivers:
  - name: ops
    type: alertmanager
    url: http://127.0.0.1:9093
  - name: hook
    type: webhook
    url: http://127.0.0.1:8080/hook
    default: true
alerts:
  - name: GpuHot
    metric: gpu_temperature_celsius
    above: 85
    clear: 80
    for: 60s
    keep_firing_for: 2m
    severity: critical
    summary: "GPU {gpu} at {value:.0f} °C"
    receivers: [ops]
  - name: Quiet
    metric: heartbeat
    absent: 5m
"""

BAD = """alerts:
  - name: x y
    metric: m
    above: hot
    for: soon
    receivers: [nobody]
  - name: Two
    metric: m
    above: 1
    below: 2
  - name: Sev
    metric: m
    above: 1
    severity: fatal
    summary: "{value:%%%}"
    colour: red
receivers:
  - name: pager
    type: pager
    url: ftp://x
"""


def test_a_spec_builds_rules_and_receivers():
    svc = parse_spec(GOOD).service()
    engine = svc.alert_engine
    hot, quiet = engine.rules()
    assert (hot.name, hot.above, hot.clear, hot.for_, hot.keep_firing_for, hot.receivers) == (
        "GpuHot", 85, 80, 60.0, 120.0, ["ops"])
    assert quiet.absent == 300.0 and quiet.receivers == []
    assert list(engine.receivers) == ["ops", "hook"] and engine.default_receivers == ["hook"]
    engine.evaluate()
    (quiet_alert,) = engine.groups["Quiet"].alerts  # absent: one alert for the rule before any series
    assert [r.name for r in engine.receivers_for(quiet_alert)] == ["hook"], "the default receiver"


def test_every_problem_is_named_with_line_and_field():
    with pytest.raises(SpecError) as info:
        parse_spec(BAD, "s.yaml")
    assert info.value.problems == [
        "s.yaml:19: receivers[0].type: expected one of alertmanager, webhook, got 'pager'",
        "s.yaml:20: receivers[0].url: expected a string, got 'ftp://x'",
        "s.yaml:2: alerts[0].name: expected a string, got 'x y'",
        "s.yaml:4: alerts[0].above: expected a number, got 'hot'",
        "s.yaml:5: alerts[0].for: expected seconds or a duration such as 5m, 1h or 7d, got 'soon'",
        "s.yaml:6: alerts[0].receivers: expected names of receivers (none are given), got 'nobody'",
        "s.yaml:7: alerts[1]: alert Two: expected exactly one condition (above, below, outside, absent or "
        "source_down), got 2",
        "s.yaml:14: alerts[2].severity: expected one of warning, critical, got 'fatal'",
        "s.yaml:15: alerts[2].summary: expected a text over labels, {value}, {alertname} and {state}, got "
        "'{value:%%%}' (Invalid format specifier '%%%' for object of type 'float')",
        "s.yaml:16: alerts[2].colour: unknown field for an alert; expected one of above, absent, below, clear, "
        "for, interval, keep_firing_for, labels, metric, name, outside, receivers, severity, source_down, stale, "
        "summary",
    ]


def test_validate_counts_rules_and_receivers(tmp_path, capsys):
    from dashboard.cli import main

    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD)
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: ok (0 source(s), 0 panel(s), 2 alert rule(s), 2 receiver(s))"
    path.write_text(BAD)
    assert main(["validate", str(path)]) == 1
    assert f"{path}:19: receivers[0].type: expected one of alertmanager, webhook" in capsys.readouterr().err
