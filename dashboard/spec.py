"""A dashboard described in YAML: sources with their params, and panels with the metrics they show.

::

    title: Training box
    window: 600            # seconds of history in view
    system: true           # this machine's source and its default panels (default: true)
    sources:
      - type: prometheus   # see dashboard.sources.source_types()
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
        id: loss-now        # its name at /embed?panel= (default: its metric)
    history:               # dashboard serve's history on disk (its command-line options win)
      retention: 7d        # or per tier: {raw: 2d, minute: 30d}
      max_disk: 1GiB
      precision: 4         # significant digits of each value on disk, or exact
    receivers: [{name: ops, type: alertmanager, url: "http://127.0.0.1:9093"}]   # dashboard.alerts.spec
    alerts: [{name: Hot, metric: cpu_percent, above: 90, clear: 80, for: 60s, receivers: [ops]}]
    annotations:           # an annotation at every change of a label's value
      - metric: app_info
        label: version     # text: "deploy {value}" (over {metric}, {label}, {value})
    auth: {basic_auth_file: users.json}   # who may look: dashboard.authspec

A spec is data. ``load_spec(path)`` reads and checks one without starting anything; every problem is
reported at once, each with its file, line, field and what was expected (``spec.yaml:7:
sources[0].interval: expected a number from 0.05 to 3,600, got 'fast'``). Each check comes from the params
of the class the field configures: a source's params (by its registered ``type``), the service's
(``window``), :class:`~dashboard.options.DashboardOptions` (``title``, ``columns``, ``system``) and each
panel type's options (:data:`~dashboard.options.PANEL_TYPES`). ``Spec.service()`` builds the sources; the
UI builds the layout (``MetricsDashboard.from_spec(spec)``). This module imports neither panel, bokeh nor
anything of ``dashboard.ui``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import param
import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .alerts.spec import check_alerts, check_receivers
from .annotations import text_problem
from .authspec import check_auth
from .options import PANEL_TYPES, DashboardOptions
from .service import MetricsService, default_sources
from .sources import Source, source_types
from .sources.gpu import gpu_status
from .specfields import check_origins, kind_of, param_problem, settable

#: What the top level of a spec configures: each field and the class whose param checks it.
TOP_LEVEL: dict[str, type[param.Parameterized] | None] = {
    "title": DashboardOptions, "window": MetricsService, "system": DashboardOptions,
    "columns": DashboardOptions, "sources": None, "panels": None, "history": None, "allow_websocket_origin": None,
    "annotations": None, "receivers": None, "alerts": None, "auth": None}
#: A panel's ``id`` (what ``/embed?panel=ID`` names).
PANEL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
#: The fields of a spec's ``history`` (the command line's ``--retention``, ``--max-disk`` and ``--precision``
#: win over them).
HISTORY_FIELDS = ("retention", "max_disk", "precision")


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
    id: str = ""  # what /embed?panel= names (the metric when empty)


@dataclass
class Spec:
    """A checked spec."""

    path: str
    title: str = "dashboard"
    window: float | None = None
    system: bool = DashboardOptions.param.system.default
    columns: int = DashboardOptions.param.columns.default
    sources: list[SourceSpec] = field(default_factory=list)
    panels: list[PanelSpec] = field(default_factory=list)
    history: dict[str, str] = field(default_factory=dict)  # retention, max_disk: the command line's texts
    allow_websocket_origin: list[str] = field(default_factory=list)  # host[:port]s of pages that may embed
    annotations: list[dict[str, str]] = field(default_factory=list)  # {metric, label, text}: LabelChanges
    receivers: list[dict[str, Any]] = field(default_factory=list)  # Receiver params (and default)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # AlertRule params
    auth: dict[str, Any] = field(default_factory=dict)  # who may look: dashboard.authspec

    def build_sources(self) -> list[Source]:
        """Fresh source objects for this spec (nothing is opened yet)."""
        out: list[Source] = []
        if self.system and not any(s.type == "system" for s in self.sources):
            out.extend(default_sources())
        kinds = source_types()
        out += [kinds[s.type](**s.params) for s in self.sources]
        return out

    def service(self, history: Any = None) -> MetricsService:
        """A :class:`~dashboard.service.MetricsService` with this spec's sources (not started), keeping
        ``history`` (a folder or a History) when given."""
        params: dict[str, Any] = {} if self.window is None else {"window": float(self.window)}
        if history is not None:
            params["history"] = history
        service = MetricsService(self.build_sources(), **params)
        for rule in self.annotations:
            service.annotate_changes(**rule)
        for receiver in self.receivers:
            service.add_receiver(**receiver)
        for alert in self.alerts:
            service.add_alert(**alert)
        return service


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
            self.fail(node, where, f"expected a mapping of name: value, got {kind_of(node)}")
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

    def params(self, fields: dict[str, tuple[Node, Node]], allowed: dict[str, param.Parameter], where: str,
               owner: str, convert: Any = None) -> dict[str, Any] | None:
        """The values of ``fields``, each checked against its param in ``allowed`` (after ``convert(name,
        value)``, which may raise ValueError, and then return a problem too); None if any is wrong."""
        out, ok = {}, True
        for name, (key_node, node) in fields.items():
            if name not in allowed:
                self.fail(key_node, f"{where}.{name}",
                          f"unknown field for {owner}; expected one of {', '.join(sorted(allowed))}")
                ok = False
                continue
            try:
                value, problem = convert(name, self.value(node)) if convert else (self.value(node), None)
            except ValueError as exc:
                value, problem = None, str(exc)
            problem = problem or param_problem(allowed[name], value)
            if problem:
                self.fail(node, f"{where}.{name}", problem)
                ok = False
            else:
                out[name] = value
        return out if ok else None

    def spec(self, root: Node | None) -> Spec:
        spec = Spec(self.path)
        if root is None:
            return spec  # an empty file: the default dashboard
        fields = self.mapping(root, "spec")
        if fields is None:
            return spec
        for name, (key_node, node) in fields.items():
            owner = TOP_LEVEL.get(name, ...)
            if owner is ...:
                self.fail(key_node, name, f"unknown field; expected one of {', '.join(TOP_LEVEL)}")
            elif owner is not None:
                value = self.value(node)
                problem = param_problem(owner.param[name], value)
                if problem:
                    self.fail(node, name, problem)
                else:
                    setattr(spec, name, value)
        if "sources" in fields:
            spec.sources = self.sources(fields["sources"][1])
        if "panels" in fields:
            spec.panels = self.panels(fields["panels"][1])
        if "history" in fields:
            spec.history = self.history(fields["history"][1])
        if "receivers" in fields:
            spec.receivers = check_receivers(self, fields["receivers"][1])
        if "alerts" in fields:
            spec.alerts = check_alerts(self, fields["alerts"][1], [r["name"] for r in spec.receivers])
        if "annotations" in fields:
            spec.annotations = self.annotations(fields["annotations"][1])
        if "allow_websocket_origin" in fields:
            spec.allow_websocket_origin = check_origins(self, fields["allow_websocket_origin"][1])
        spec.auth = check_auth(self, fields["auth"][1]) if "auth" in fields else {}
        return spec

    def history(self, node: Node) -> dict[str, str]:
        """``history: {retention: 7d, max_disk: 1GiB, precision: 4}``; the first two may name tiers
        (``{raw: 2d, minute: 30d}``)."""
        from .history import Retention
        from .history.files import parse_precision

        fields = self.mapping(node, "history")
        out: dict[str, str] = {}
        for name, (key_node, value_node) in (fields or {}).items():
            if name not in HISTORY_FIELDS:
                self.fail(key_node, f"history.{name}", f"unknown field; expected one of {', '.join(HISTORY_FIELDS)}")
                continue
            value = self.value(value_node)
            text = ",".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
            try:
                parse_precision(text) if name == "precision" else Retention.parse(**{name: text})
            except ValueError as exc:
                self.fail(value_node, f"history.{name}", str(exc))
                continue
            out[name] = text
        return out

    def annotations(self, node: Node) -> list[dict[str, str]]:
        """``annotations: [{metric, label, text}]``: an annotation at every change of a label's value."""
        if not isinstance(node, SequenceNode):
            self.fail(node, "annotations", f"expected a list of {{metric, label, text}}, got {kind_of(node)}")
            return []
        out = []
        for i, item in enumerate(node.value):
            where = f"annotations[{i}]"
            fields = self.mapping(item, where) or {}
            rule = {}
            for name, (key_node, value_node) in fields.items():
                value = self.value(value_node)
                if name not in ("metric", "label", "text"):
                    self.fail(key_node, f"{where}.{name}", "unknown field; expected one of metric, label, text")
                elif not isinstance(value, str) or not value:
                    self.fail(value_node, f"{where}.{name}", f"expected a non-empty string, got {value!r}")
                elif name == "text" and (bad := text_problem(value)):
                    self.fail(value_node, f"{where}.text", bad)
                else:
                    rule[name] = value
            missing = [n for n in ("metric", "label") if n not in fields]
            for name in missing:
                self.fail(item, f"{where}.{name}", f"missing; expected the {name} whose changes are marked")
            if fields and not missing and len(rule) == len(fields):
                out.append(rule)
        return out

    def sources(self, node: Node) -> list[SourceSpec]:
        if not isinstance(node, SequenceNode):
            self.fail(node, "sources", f"expected a list of sources, got {kind_of(node)}")
            return []
        kinds = source_types()
        out, names = [], set()
        for i, item in enumerate(node.value):
            where = f"sources[{i}]"
            fields = self.mapping(item, where)
            if fields is None:
                continue
            if "type" not in fields:
                self.fail(item, f"{where}.type", f"missing; expected one of {', '.join(kinds)}")
                continue
            kind = self.value(fields["type"][1])
            if kind not in kinds:
                self.fail(fields["type"][1], f"{where}.type", f"expected one of {', '.join(kinds)}, got {kind!r}")
                continue
            cls = kinds[kind]
            params = self.params({k: v for k, v in fields.items() if k != "type"}, settable(cls, named=True),
                                 where, cls.__name__)
            given = self.value(fields["name"][1]) if "name" in fields else None
            name = given if isinstance(given, str) else cls.type
            if name in names:
                self.fail(fields["name"][0] if "name" in fields else item, f"{where}.name",
                          f"{name!r} is already the name of another source")
            names.add(name)
            if params is None:
                continue
            if kind == "gpu" and (reason := gpu_status()) is not None:
                self.fail(item, where, f"a GPU source cannot run here: {reason}")
            if kind == "replay" and params.get("path") and not Path(params["path"]).expanduser().is_absolute():
                params["path"] = str(Path(self.path).parent / params["path"])  # relative to the spec
            out.append(SourceSpec(kind, params, item.start_mark.line + 1))
        return out

    def panels(self, node: Node) -> list[PanelSpec]:
        if not isinstance(node, SequenceNode):
            self.fail(node, "panels", f"expected a list of panels, got {kind_of(node)}")
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
            panel = self.panel(item, fields, where) if fields is not None else None
            if panel is not None:
                out.append(panel)
        for i, panel in [(i, p) for i, p in enumerate(out) if p.id and p.id in [q.id for q in out[:i]]]:
            self.problems.append(f"{self.path}:{panel.line}: panels[{i}].id: {panel.id!r} is taken by an earlier "
                                 "panel; expected a name of its own")
        return out

    def panel(self, item: Node, fields: dict[str, tuple[Node, Node]], where: str) -> PanelSpec | None:
        id_node = fields.pop("id")[1] if "id" in fields else None
        panel_id = self.value(id_node) if id_node is not None else ""
        if id_node is not None and (not isinstance(panel_id, str) or not PANEL_ID.fullmatch(panel_id)):
            self.fail(id_node, f"{where}.id", f"expected a name of letters, digits and _.:- (as /embed?panel= names "
                                              f"it), got {panel_id!r}")
            return None
        kind = self.value(fields["type"][1]) if "type" in fields else "plot"
        if kind not in PANEL_TYPES:
            self.fail(fields["type"][1], f"{where}.type", f"expected one of {', '.join(PANEL_TYPES)}, got {kind!r}")
            return None
        cls = PANEL_TYPES[kind]
        options = self.params({k: v for k, v in fields.items() if k != "type"}, settable(cls), where,
                              f"a {kind} panel")
        if options is not None and "labels" in options:
            labels = options["labels"]
            if not all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in labels.items()):
                self.fail(fields["labels"][1], f"{where}.labels", "expected a mapping of label name: value")
                options = None
            else:
                options["labels"] = {k: str(v) for k, v in labels.items()}
        metric = self.value(fields["metric"][1]) if "metric" in fields else None
        if not isinstance(metric, str) or not metric:
            if "metric" not in fields:
                self.fail(item, f"{where}.metric", "missing; expected the metric name the panel shows")
            elif options is not None:
                self.fail(fields["metric"][1], f"{where}.metric", f"expected a metric name, got {metric!r}")
            return None
        if options is None:
            return None
        options.pop("metric")
        return PanelSpec(metric, item.start_mark.line + 1, kind, options, panel_id)

