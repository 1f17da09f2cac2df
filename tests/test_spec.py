"""YAML specs: every problem named with its line and field; the shipped examples; serve/validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.errors import SourceUnavailable  # noqa: F401  (re-exported for specs)
from dashboard.sources.gpu import gpu_status
from dashboard.spec import SpecError, load_spec, parse_spec
from dashboard.ui import MetricsDashboard

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

BAD = """\
title: x
window: 0
colour: blue
sources:
  - type: prometheus
    urls: http://127.0.0.1:8000/metrics
    interval: fast
  - type: nope
  - type: push
    name: p
    max_series: -3
  - urls: [a]
  - type: push
    name: p
panels:
  - cpu_percent
  - metric: loss
    type: gauge
  - title: no metric
  - metric: x
    labels: [a]
"""


def test_every_problem_is_named_with_line_field_and_expectation():
    with pytest.raises(SpecError) as info:
        parse_spec(BAD, "spec.yaml")
    problems = info.value.problems
    assert problems == [
        "spec.yaml:2: window: expected a number from 1 to 604,800, got 0",
        "spec.yaml:3: colour: unknown field; expected one of title, window, system, columns, sources, panels, history, "
        "allow_websocket_origin, annotations, receivers, alerts, auth",
        "spec.yaml:6: sources[0].urls: expected a list of str, got 'http://127.0.0.1:8000/metrics'",
        "spec.yaml:7: sources[0].interval: expected a number from 0.05 to 3,600, got 'fast'",
        "spec.yaml:8: sources[1].type: expected one of gpu, prometheus, promql, push, replay, synthetic, system, "
        "got 'nope'",
        "spec.yaml:11: sources[2].max_series: expected an integer from 1 to 1,000,000, got -3",
        "spec.yaml:12: sources[3].type: missing; expected one of gpu, prometheus, promql, push, replay, "
        "synthetic, system",
        "spec.yaml:14: sources[4].name: 'p' is already the name of another source",
        "spec.yaml:18: panels[1].type: expected one of plot, stat, got 'gauge'",
        "spec.yaml:19: panels[2].metric: missing; expected the metric name the panel shows",
        "spec.yaml:21: panels[3].labels: expected a mapping, got ['a']",
    ]


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(SpecError, match=r"^s.yaml:3: not valid YAML"):
        parse_spec("title: x\nwindow: 5\n  oops: 1\n", "s.yaml")


def test_an_empty_spec_is_the_default_dashboard():
    spec = parse_spec("", "empty.yaml")
    assert spec.system and not spec.sources and not spec.panels
    assert type(spec.build_sources()[0]).__name__ == "SystemSource"


#: Each example's sources by name, as its service has them on a machine with a GPU (the default
#: dashboard's sources come first when `system` is on).
EXAMPLE_SOURCES = {
    "all-sources.yaml": ["system", "gpu", "exporter", "ingest", "replay"],
    "gpu.yaml": ["gpu"],
    "pages.yaml": ["system", "gpu", "synthetic"],  # (with a scripted GPU, as all-sources.yaml)
    "prometheus-exporter.yaml": ["app"],
    "prometheus-server.yaml": ["prom"],
    "push.yaml": ["ingest"],
    "replay.yaml": ["run"],
    "synthetic.yaml": ["synthetic"],
}


def scripted_nvml(monkeypatch, **nvml):
    """Spec checks and default sources with a scripted NVML (``count=0``: a machine without a GPU)."""
    from dashboard import sources, spec
    from tests.sources.test_gpu import ScriptedNVML

    monkeypatch.setattr(spec, "gpu_status", lambda: gpu_status(ScriptedNVML(**nvml)))
    monkeypatch.setattr(sources, "gpu_status", lambda _nvml=None: gpu_status(ScriptedNVML(**nvml)))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load_and_build(path, monkeypatch):
    scripted_nvml(monkeypatch)  # as on a machine with a GPU, so that gpu.yaml loads too
    spec = load_spec(path)
    service = spec.service()
    layout = MetricsDashboard.from_spec(spec, service)
    names = {p.metric for p in spec.panels}
    shown = {getattr(p, "metric", None) for p in [*layout.cards, *layout.plots]}
    assert names <= shown
    assert list(service.sources) == EXAMPLE_SOURCES[path.name]


def test_every_example_is_listed():
    assert sorted(EXAMPLE_SOURCES) == [p.name for p in EXAMPLES]


def test_the_gpu_example_on_a_machine_without_a_gpu_names_the_reason(monkeypatch):
    scripted_nvml(monkeypatch, count=0)
    with pytest.raises(SpecError) as info:
        load_spec(ROOT / "examples" / "gpu.yaml")
    (problem,) = info.value.problems
    assert problem.endswith("gpu.yaml:8: sources[0]: a GPU source cannot run here: NVML found no GPU"), problem


def test_a_spec_with_a_replay_path_is_relative_to_the_spec(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "r.csv").write_text("time,x\n1,2\n")
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("sources:\n  - type: replay\n    path: data/r.csv\n")
    spec = load_spec(spec_path)
    assert Path(spec.sources[0].params["path"]) == tmp_path / "data" / "r.csv"


def test_validate_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    run = subprocess.run([sys.executable, "-m", "dashboard", "validate", str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert f"{bad}:7: sources[0].interval: expected a number from 0.05 to 3,600, got 'fast'" in run.stderr
    good = subprocess.run([sys.executable, "-m", "dashboard", "validate", str(ROOT / "examples/replay.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and "ok (1 source(s), 2 panel(s))" in good.stdout
    missing = subprocess.run([sys.executable, "-m", "dashboard", "validate", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def wrong_value(p):
    """A value that param ``p`` refuses, and the words the message must use for what was expected."""
    import param

    if isinstance(p, param.Boolean):
        return "maybe", "expected true or false"
    if isinstance(p, param.Number):
        low, high = p.bounds
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if low is None and high is None:
            return "high", f"expected {kind}"
        return (low - 1 if low is not None else high + 1), f"expected {kind}"
    if isinstance(p, param.Selector):
        return "no-such-choice", "expected one of"
    if isinstance(p, param.List):
        return "not a list", "expected a list"
    if isinstance(p, param.Dict):
        return ["not", "a", "mapping"], "expected a mapping"
    if isinstance(p, param.String):
        return 12345, "expected a string"
    raise AssertionError(f"no wrong value known for {type(p).__name__} {p.name}: teach this test one")


def configurable_fields():
    """(where the field goes, class, field name, Parameter) for every field a spec can set, from the params
    of the class it configures."""
    import param

    from dashboard.options import PANEL_TYPES, DashboardOptions
    from dashboard.service import MetricsService
    from dashboard.sources import source_types

    status = {"state", "running", "error", "connection", "reason", "last_success", "last_error", "collections",
              "failures", "data_errors", "health", "dropped_series", "dropped_rows", "accepted", "overflow"}

    def settable(cls):
        return {n: p for n, p in cls.param.objects("existing").items()
                if n != "name" and n not in status and not p.constant and not p.readonly
                and (isinstance(p, param.Dict) or not isinstance(p, param.ClassSelector))}

    for name in ("title", "columns", "system"):
        yield "top", "dashboard", name, DashboardOptions.param[name]
    yield "top", "service", "window", MetricsService.param.window
    for kind, cls in source_types().items():
        for name, p in settable(cls).items():
            yield "source", kind, name, p
    for kind, cls in PANEL_TYPES.items():
        for name, p in settable(cls).items():
            yield "panel", kind, name, p


FIELDS = list(configurable_fields())


def test_the_fields_cover_every_class():
    kinds = {(place, kind) for place, kind, _, _ in FIELDS}
    assert {("source", "system"), ("source", "prometheus"), ("source", "replay"), ("panel", "plot"),
            ("panel", "stat"), ("top", "dashboard"), ("top", "service")} <= kinds
    assert len(FIELDS) >= 55


@pytest.mark.parametrize(("place", "kind", "name", "p"), FIELDS, ids=[f"{k}.{n}" for _, k, n, _ in FIELDS])
def test_one_wrong_value_per_field_is_named_with_its_line(place, kind, name, p):
    import yaml

    value, expected = wrong_value(p)
    given = yaml.safe_dump({name: value}, default_flow_style=True)[1:-2]  # "field: value" on one line
    if place == "top":
        text, where, line = f"columns: 3\n{given}\n" if name != "columns" else f"title: t\n{given}\n", name, 2
    elif place == "source":
        text, where, line = f"sources:\n  - type: {kind}\n    {given}\n", f"sources[0].{name}", 3
    else:
        metric = "    metric: m\n" if name != "metric" else "    title: t\n"
        text, where, line = f"panels:\n  - type: {kind}\n{metric}    {given}\n", f"panels[0].{name}", 4
    with pytest.raises(SpecError) as info:
        parse_spec(text, "s.yaml")
    assert info.value.problems == [f"s.yaml:{line}: {where}: {info.value.problems[0].split(': ', 2)[2]}"]
    assert info.value.problems[0].startswith(f"s.yaml:{line}: {where}: {expected}")
    assert info.value.problems[0].endswith(f"got {value!r}")


def test_a_panel_too_short_fails_validate_naming_its_line(tmp_path):
    """The spec passed `dashboard validate` and then failed in the layout with no file or line."""
    path = tmp_path / "short.yaml"
    path.write_text("panels:\n  - metric: cpu_percent\n    height: 10\n")
    run = subprocess.run([sys.executable, "-m", "dashboard", "validate", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == f"{path}:3: panels[0].height: expected an integer from 60 to 4,000, got 10"


def test_history_retention_in_a_spec_is_checked_like_the_command_line():
    spec = parse_spec("history:\n  retention: {raw: 2d, minute: 30d}\n  max_disk: 1GiB\n  precision: exact\n")
    assert spec.history == {"retention": "raw=2d,minute=30d", "max_disk": "1GiB", "precision": "exact"}
    with pytest.raises(SpecError) as caught:
        parse_spec("title: x\nhistory:\n  retention: soon\n  max_disk: lots\n  keep: 1\n  precision: 0\n",
                   "spec.yaml")
    assert caught.value.problems == [
        "spec.yaml:3: history.retention: expected seconds or a duration such as 5m, 1h or 7d, got 'soon'",
        "spec.yaml:4: history.max_disk: expected a size such as 500MB or 1GiB, got 'lots'",
        "spec.yaml:5: history.keep: unknown field; expected one of retention, max_disk, precision",
        "spec.yaml:6: history.precision: expected a number of significant digits from 1 to 15, or exact; got '0'",
    ]


def test_panel_ids_and_embedding_origins_are_checked():
    spec = parse_spec("allow_websocket_origin: [intranet.example:8080]\n"
                      "panels:\n  - {metric: loss, id: loss-now}\n  - metric: loss\n")
    assert spec.allow_websocket_origin == ["intranet.example:8080"]
    assert [p.id for p in spec.panels] == ["loss-now", ""]
    with pytest.raises(SpecError) as caught:
        parse_spec("allow_websocket_origin: ['http://x/<a>']\npanels:\n  - {metric: a, id: one}\n"
                   "  - {metric: b, id: one}\n  - {metric: c, id: 'two words'}\n", "spec.yaml")
    assert caught.value.problems == [
        "spec.yaml:5: panels[2].id: expected a name of letters, digits and _.:- (as /embed?panel= names it), "
        "got 'two words'",
        "spec.yaml:4: panels[1].id: 'one' is taken by an earlier panel; expected a name of its own",
        "spec.yaml:1: allow_websocket_origin: expected a list of host:port (as --allow-websocket-origin), "
        "got 'http://x/<a>'",
    ]


def test_validate_notes_a_stat_card_that_does_not_say_which_series(tmp_path):
    """A card on a metric with several series shows one of them: validate says so where labels are missing."""
    path = tmp_path / "cards.yaml"
    path.write_text("panels:\n  - metric: memory_percent\n    type: stat\n"
                    "  - metric: memory_percent\n    type: stat\n    labels: {type: ram}\n")
    run = subprocess.run([sys.executable, "-m", "dashboard", "validate", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stdout.splitlines() if ": note: " in line]
    assert notes == [f"{path}:2: note: panels[0]: a stat card on 'memory_percent' without labels: shows one "
                     "series of 'memory_percent' and names it when there are several; give labels: to choose which"]
