"""A dashboard from a YAML spec: sources with their params, and panels with the metrics they show.

::

    title: Training box
    window: 600            # seconds of history in view
    system: true           # this machine's source and its default panels (default: true)
    sources:
      - type: prometheus   # system, synthetic, prometheus, promql, push, replay, gpu
        name: app
        urls: [http://127.0.0.1:8000/metrics]
        include: ["app_*", "process_*"]
      - type: push
        name: train
    panels:
      - metric: app_requests_total
        title: Requests per second
      - metric: loss
        type: stat          # plot (default) or stat

``load_spec(path)`` reads and checks a spec without starting anything; every problem is reported at
once, each with its file, line, field and what was expected (``spec.yaml:7: sources[0].interval:
expected a number >= 0.05, got 'fast'``). ``Spec.service()`` builds the sources; ``Spec.layout(service)``
the Panel layout (imported only then: this module does not import panel or bokeh). The same spec loads in
a notebook: ``load_spec("spec.yaml").layout()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import param
import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import service as _service  # noqa: F401  (registers the source types)
from .core.lifecycle import ServiceRegistry
from .sources.base import Source

TOP_LEVEL = {"title": str, "window": (int, float), "system": bool, "sources": list, "panels": list,
             "columns": int}
PANEL_FIELDS = {"metric": str, "title": str, "labels": dict, "unit": str, "window": (int, float), "type": str,
                "height": int}
PANEL_TYPES = ("plot", "stat")
#: Params of a source that a spec may not set (they report state).
_STATUS = {"state", "running", "error", "connection", "reason", "last_success", "last_error", "collections",
           "failures", "data_errors", "health", "dropped_series", "dropped_rows", "accepted", "overflow"}


class SpecError(ValueError):
    """Every problem of a spec, one per line: ``file:line: field: what was expected``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class SourceSpec:
    type: str
    params: dict[str, Any]
    line: int


@dataclass
class PanelSpec:
    metric: str
    line: int
    type: str = "plot"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Spec:
    """A checked spec."""

    path: str
    title: str = "dashboard"
    window: float | None = None
    system: bool = True
    columns: int = 2
    sources: list[SourceSpec] = field(default_factory=list)
    panels: list[PanelSpec] = field(default_factory=list)

    def build_sources(self) -> list[Source]:
        """Fresh source objects for this spec (nothing is opened yet)."""
        registry = ServiceRegistry.default()
        out: list[Source] = []
        if self.system and not any(s.type == "system" for s in self.sources):
            from .service import default_sources

            out.extend(default_sources())
        for s in self.sources:
            out.append(registry.build(s.type, **s.params))  # type: ignore[arg-type]
        return out

    def service(self) -> Any:
        """A :class:`~dashboard.service.MetricsService` with this spec's sources (not started)."""
        from .service import MetricsService

        params = {} if self.window is None else {"window": float(self.window)}
        return MetricsService(self.build_sources(), **params)

    def layout(self, service: Any = None) -> Any:
        """The Panel layout of this spec for ``service`` (a new one from the spec by default)."""
        from .ui.layout import MetricsDashboard

        return MetricsDashboard.from_spec(self, service if service is not None else self.service())


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file; raises :class:`SpecError` listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    return parse_spec(text, str(p))


def parse_spec(text: str, path: str = "<spec>") -> Spec:
    """Check a spec given as text (``path`` names it in messages)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SpecError([f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    checker = _Checker(path)
    spec = checker.spec(root)
    if checker.problems:
        raise SpecError(checker.problems)
    return spec


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[str] = []
        self._constructor = SafeConstructor()

    def fail(self, node: Node | None, where: str, what: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        self.problems.append(f"{self.path}{line}: {where}: {what}")

    def value(self, node: Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: Node | None, where: str) -> dict[str, tuple[Node, Node]] | None:
        if not isinstance(node, MappingNode):
            self.fail(node, where, f"expected a mapping of name: value, got {_kind(node)}")
            return None
        out = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                self.fail(key_node, where, f"expected a name, got {key!r}")
                continue
            if key in out:
                self.fail(key_node, f"{where}.{key}" if where != "spec" else key, "given twice")
            out[key] = (key_node, value_node)
        return out

    def spec(self, root: Node | None) -> Spec:
        spec = Spec(self.path)
        if root is None:
            return spec  # an empty file: the default dashboard
        fields = self.mapping(root, "spec")
        if fields is None:
            return spec
        for name, (key_node, node) in fields.items():
            if name not in TOP_LEVEL:
                self.fail(key_node, name, f"unknown field; expected one of {', '.join(TOP_LEVEL)}")
                continue
            if name in ("sources", "panels"):
                continue
            value = self.value(node)
            if not _is(value, TOP_LEVEL[name]):
                self.fail(node, name, f"expected {_type_name(TOP_LEVEL[name])}, got {value!r}")
                continue
            if name == "window" and not (1 <= value <= 7 * 86400):
                self.fail(node, name, f"expected seconds between 1 and 604800, got {value!r}")
                continue
            if name == "columns" and not 1 <= value <= 6:
                self.fail(node, name, f"expected 1 to 6, got {value!r}")
                continue
            setattr(spec, name, value)
        if "sources" in fields:
            spec.sources = self.sources(fields["sources"][1])
        if "panels" in fields:
            spec.panels = self.panels(fields["panels"][1])
        return spec

    def sources(self, node: Node) -> list[SourceSpec]:
        if not isinstance(node, SequenceNode):
            self.fail(node, "sources", f"expected a list of sources, got {_kind(node)}")
            return []
        registry = ServiceRegistry.default()
        out, names = [], set()
        for i, item in enumerate(node.value):
            where = f"sources[{i}]"
            fields = self.mapping(item, where)
            if fields is None:
                continue
            if "type" not in fields:
                self.fail(item, f"{where}.type", f"missing; expected one of {', '.join(_types(registry))}")
                continue
            kind = self.value(fields["type"][1])
            if kind not in _types(registry):
                self.fail(fields["type"][1], f"{where}.type",
                          f"expected one of {', '.join(_types(registry))}, got {kind!r}")
                continue
            params = self.source_params(registry.factory(kind), fields, where)
            given = self.value(fields["name"][1]) if "name" in fields else None
            name = given if isinstance(given, str) else _default_name(registry.factory(kind))
            if name in names:
                self.fail(fields["name"][0] if "name" in fields else item, f"{where}.name",
                          f"{name!r} is already the name of another source")
            names.add(name)
            if params is None:
                continue
            if kind == "gpu":
                self.gpu_check(item, where)
            if kind == "replay" and params.get("path") and not Path(params["path"]).expanduser().is_absolute():
                params["path"] = str(Path(self.path).parent / params["path"])  # relative to the spec
            out.append(SourceSpec(kind, params, item.start_mark.line + 1))
        return out

    def source_params(self, cls: type, fields: dict[str, tuple[Node, Node]], where: str) -> dict | None:
        allowed = {n: p for n, p in cls.param.objects("existing").items()
                   if n == "name" or (n not in _STATUS and not p.constant and not p.readonly)}
        params, ok = {}, True
        for name, (key_node, node) in fields.items():
            if name == "type":
                continue
            if name not in allowed:
                self.fail(key_node, f"{where}.{name}",
                          f"unknown field for {cls.__name__}; expected one of {', '.join(sorted(allowed))}")
                ok = False
                continue
            value = self.value(node)
            problem = _param_problem(allowed[name], value)
            if problem:
                self.fail(node, f"{where}.{name}", problem)
                ok = False
                continue
            params[name] = value
        return params if ok else None

    def gpu_check(self, node: Node, where: str) -> None:
        from .sources.gpu import gpu_status

        reason = gpu_status()
        if reason is not None:
            self.fail(node, where, f"a GPU source cannot run here: {reason}")

    def panels(self, node: Node) -> list[PanelSpec]:
        if not isinstance(node, SequenceNode):
            self.fail(node, "panels", f"expected a list of panels, got {_kind(node)}")
            return []
        out = []
        for i, item in enumerate(node.value):
            where = f"panels[{i}]"
            if isinstance(item, ScalarNode):  # "- cpu_percent" is a plot of that metric
                value = self.value(item)
                if isinstance(value, str) and value:
                    out.append(PanelSpec(value, item.start_mark.line + 1))
                else:
                    self.fail(item, where, f"expected a metric name or a mapping, got {value!r}")
                continue
            fields = self.mapping(item, where)
            if fields is None:
                continue
            panel = self.panel(item, fields, where)
            if panel is not None:
                out.append(panel)
        return out

    def panel(self, item: Node, fields: dict[str, tuple[Node, Node]], where: str) -> PanelSpec | None:
        options, ok = {}, True
        for name, (key_node, node) in fields.items():
            if name not in PANEL_FIELDS:
                self.fail(key_node, f"{where}.{name}", f"unknown field; expected one of {', '.join(PANEL_FIELDS)}")
                ok = False
                continue
            value = self.value(node)
            expected = PANEL_FIELDS[name]
            if not _is(value, expected) or (name == "metric" and not value):
                self.fail(node, f"{where}.{name}", f"expected {_type_name(expected)}, got {value!r}")
                ok = False
            elif name == "type" and value not in PANEL_TYPES:
                self.fail(node, f"{where}.type", f"expected one of {', '.join(PANEL_TYPES)}, got {value!r}")
                ok = False
            elif name == "labels" and not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                              for k, v in value.items()):
                self.fail(node, f"{where}.labels", "expected a mapping of label name: value")
                ok = False
            elif name in ("window", "height") and not (value > 0 and math.isfinite(value)):
                self.fail(node, f"{where}.{name}", f"expected a positive number, got {value!r}")
                ok = False
            else:
                options[name] = value
        if "metric" not in fields:
            self.fail(item, f"{where}.metric", "missing; expected the metric name the panel shows")
            return None
        if not ok:
            return None
        metric = options.pop("metric")
        kind = options.pop("type", "plot")
        if "labels" in options:
            options["labels"] = {k: str(v) for k, v in options["labels"].items()}
        return PanelSpec(metric, item.start_mark.line + 1, kind, options)


def _types(registry: ServiceRegistry) -> list[str]:
    return [n for n in registry.names() if n != "metrics"]


def _default_name(cls: type) -> str:
    try:
        return cls().name
    except Exception:
        return cls.__name__


def _param_problem(p: param.Parameter, value: Any) -> str | None:
    """What is wrong with ``value`` for param ``p`` (None when it is fine), in the user's terms."""
    try:
        p._validate(value)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        return f"{_expected(p)}, got {value!r}" if _expected(p) else text
    return None


def _expected(p: param.Parameter) -> str:
    bounds = getattr(p, "bounds", None)
    if isinstance(p, param.Number):
        low, high = bounds or (None, None)
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if low is not None and high is not None:
            return f"expected {kind} from {_num(low)} to {_num(high)}"
        if low is not None:
            return f"expected {kind} >= {_num(low)}"
        return f"expected {kind}"
    if isinstance(p, param.Boolean):
        return "expected true or false"
    if isinstance(p, param.Selector):
        return f"expected one of {', '.join(map(str, p.objects))}"
    if isinstance(p, param.List):
        item = getattr(p, "item_type", None)
        return f"expected a list{f' of {item.__name__}' if isinstance(item, type) else ''}"
    if isinstance(p, param.Dict):
        return "expected a mapping"
    if isinstance(p, param.String):
        return "expected a string"
    return ""


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _is(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False
    return isinstance(value, expected)


def _type_name(expected: Any) -> str:
    names = {str: "a string", bool: "true or false", list: "a list", dict: "a mapping", int: "an integer"}
    if isinstance(expected, tuple):
        return "a number"
    return names.get(expected, expected.__name__)


def _kind(node: Node | None) -> str:
    if node is None:
        return "nothing"
    return {MappingNode: "a mapping", SequenceNode: "a list"}.get(type(node), f"{node.value!r}")
