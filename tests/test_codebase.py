"""Codebase rules: import boundaries, documented params, a complete __all__, agreeing dependency lists."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import param
import pytest
import tomllib

import dashboard

ROOT = Path(__file__).resolve().parents[1]
NO_UI = ["dashboard.core", "dashboard.metrics", "dashboard.sources", "dashboard.service"]


@pytest.mark.parametrize("module", NO_UI)
def test_collection_and_storage_never_import_panel_or_bokeh(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('panel', 'bokeh')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", f"{module} pulled in {out.stdout.strip()}"


def all_modules():
    for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
        if info.name in ("dashboard.__main__", "dashboard.app"):
            continue
        yield importlib.import_module(info.name)


def test_every_module_has_a_docstring():
    missing = [m.__name__ for m in all_modules() if not (m.__doc__ or "").strip()]
    assert missing == []


def own_params():
    """(qualified name, Parameter) of every public param that a dashboard class itself defines."""
    seen = set()
    for module in all_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, param.Parameterized) or not cls.__module__.startswith("dashboard"):
                continue
            for name, p in cls.param.objects("existing").items():
                owner = next((c for c in cls.__mro__ if name in vars(c)), None)
                if owner is None or not owner.__module__.startswith("dashboard") or name.startswith("_"):
                    continue
                qualified = f"{owner.__name__}.{name}"
                if qualified not in seen:
                    seen.add(qualified)
                    yield qualified, p


def test_every_public_param_has_a_doc():
    assert sorted(name for name, p in own_params() if not (p.doc or "").strip()) == []


def test_numeric_params_have_bounds():
    assert sorted(name for name, p in own_params() if isinstance(p, param.Number) and p.bounds is None) == []


def test_the_param_checks_see_the_params():
    names = {name for name, _ in own_params()}
    assert {"MetricsService.window", "Source.interval", "FeedSettings.flush_interval",
            "TimeSeriesPlot.metric", "RetryPolicy.cap"} <= names


def test_all_is_complete_and_importable():
    for name in dashboard.__all__:
        assert getattr(dashboard, name) is not None, name
    public = {n for n in dir(dashboard) if not n.startswith("_") and n[0].isupper()
              and getattr(getattr(dashboard, n), "__module__", "").startswith("dashboard")}
    assert public <= set(dashboard.__all__)
    for pkg in ("dashboard.core", "dashboard.metrics", "dashboard.sources", "dashboard.ui"):
        module = importlib.import_module(pkg)
        defined = {n for n, v in vars(module).items()
                   if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))}
        assert defined <= set(module.__all__), f"{pkg}: {sorted(defined - set(module.__all__))}"


def _requirement_names(reqs):
    return {re.split(r"[<>=!\s\[]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in reqs}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = _requirement_names(project["dependencies"])
    dependencies = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    conda_lines = re.findall(r"^  - ([a-z][^\s#]*)", dependencies, re.M)
    conda = _requirement_names([c for c in conda_lines if not c.startswith(("python", "pip"))])
    assert conda == pip, "environment.yml and pyproject.toml list different dependencies"
    assert re.search(r"^  - python>=3\.10$", (ROOT / "environment.yml").read_text(), re.M)
    assert project["requires-python"] == ">=3.10"


def test_bokeh_is_at_least_the_patched_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("bokeh>=3.8.2") for d in project["dependencies"])
