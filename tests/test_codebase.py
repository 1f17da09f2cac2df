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
NO_UI = ["dashboard.core", "dashboard.metrics", "dashboard.sources", "dashboard.service", "dashboard.collection",
         "dashboard.spec", "dashboard.options", "dashboard.config", "dashboard.units", "dashboard.viewurl",
         "dashboard.history"]


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
    assert {"MetricsService.window", "Source.interval", "Config.flush_interval",
            "PlotOptions.metric", "RetryPolicy.cap"} <= names


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


def _imports(path: Path, module: str) -> set[tuple[str, str | None]]:
    """What ``module`` (at ``path``) imports, at any depth of its code (lazy imports and ``TYPE_CHECKING``
    blocks included): ``(module, None)`` for ``import module``, ``(module, name)`` for ``from module import
    name`` (relative imports resolved)."""
    import ast

    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(a.name, None) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found |= {(base, a.name) for a in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports: ``from x import y`` is an edge to
    the module ``x.y`` when there is one (``from . import transport``), else to ``x``. Parent packages that
    Python imports on the way are not edges (every module would be in a circle with its package)."""
    files = {}
    for path in (ROOT / "dashboard").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for module, path in files.items():
        targets = {f"{base}.{name}" if f"{base}.{name}" in files else base for base, name in _imports(path, module)}
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (as a list that starts and ends with the same module), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_lazy_imports():
    graph = import_graph()
    assert "dashboard.ui.layout" in graph["dashboard.server"]
    assert "dashboard.sources.http" in graph["dashboard.service"], "a lazy import inside a method"


def test_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "dashboard").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_private_names_of_bokeh_and_panel_are_read_in_the_transport_only():
    """Other modules reach Bokeh's, Panel's and Tornado's internals only through ``ui/transport.py``."""
    pattern = re.compile(r"\b(?:data|callbacks|session_context|_session|_socket|write_lock|_block|comm|pane)"
                         r"\._[a-z]\w*|getattr\([^)]*['\"]_[a-z]")
    offenders = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        if path.name == "transport.py":
            continue
        offenders += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1)
                      if pattern.search(line)]
    assert offenders == []


def test_the_readme_lists_every_source_type():
    """The docs list the registered types: a section per source, headed with its type."""
    from dashboard.sources import source_types

    readme = (ROOT / "README.md").read_text()
    documented = re.findall(r"^### .* \(`(\w+)`\)$", readme, re.M)
    assert sorted(documented) == sorted(source_types())
