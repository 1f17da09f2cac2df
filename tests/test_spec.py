"""YAML specs: every problem named with its line and field; the shipped examples; serve/validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.errors import SourceUnavailable  # noqa: F401  (re-exported for specs)
from dashboard.sources.gpu import gpu_status
from dashboard.spec import SpecError, load_spec, parse_spec

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
        "spec.yaml:2: window: expected seconds between 1 and 604800, got 0",
        "spec.yaml:3: colour: unknown field; expected one of title, window, system, sources, panels, columns",
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


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load_and_build(path):
    if path.name == "gpu.yaml" and gpu_status() is not None:
        with pytest.raises(SpecError, match="a GPU source cannot run here: NVML"):
            load_spec(path)
        return
    spec = load_spec(path)
    service = spec.service()
    layout = spec.layout(service)
    names = {p.metric for p in spec.panels}
    shown = {getattr(p, "metric", None) for p in [*layout.cards, *layout.plots]}
    assert names <= shown
    assert len(service.sources) == len(spec.sources) + (1 if spec.system else 0) + (
        1 if spec.system and gpu_status() is None else 0)


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
