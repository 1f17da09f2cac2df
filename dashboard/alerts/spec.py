"""A spec's ``receivers:`` and ``alerts:``, checked like every other field (file:line, field, expected)::

    receivers:
      - name: ops
        type: alertmanager   # or webhook
        url: http://127.0.0.1:9093
        default: true        # told of the rules that name no receiver
    alerts:
      - name: GpuHot
        metric: gpu_temperature_celsius
        above: 85
        clear: 80
        for: 60s
        severity: critical
        summary: "GPU {gpu} at {value:.0f} °C"
        receivers: [ops]

Durations are seconds or text (``90s``, ``5m``, ``1h``). Each field is checked against the param of
:class:`~dashboard.alerts.AlertRule` or :class:`~dashboard.alerts.Receiver` it sets.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node, SequenceNode

from ..specfields import kind_of
from .receivers import Receiver
from .rules import AlertRule, template_problem

#: Fields given as durations.
DURATIONS = {"for", "keep_firing_for", "absent", "interval", "stale", "timeout", "repeat_interval", "reset_timeout"}
_RULE_FIELDS = {"for" if n == "for_" else n: p for n, p in AlertRule.param.objects("existing").items()}
_RECEIVER_FIELDS = {n: p for n, p in Receiver.param.objects("existing").items() if n == "name" or not p.constant}


def check_receivers(checker: Any, node: Node) -> list[dict[str, Any]]:
    """``receivers: [{name, type, url, ...}]``."""
    out = []
    for where, item, fields in _items(checker, node, "receivers"):
        default = fields.pop("default", None)
        params = _params(checker, fields, _RECEIVER_FIELDS, where, "a receiver")
        if default is not None:
            value = checker.value(default[1])
            if not isinstance(value, bool):
                checker.fail(default[1], f"{where}.default", f"expected true or false, got {value!r}")
                params = None
            elif params is not None:
                params["default"] = value
        if params is not None:
            _required(checker, item, where, params, ("name", "url"))
            out.append(params)
    return out


def check_alerts(checker: Any, node: Node, receivers: list[str]) -> list[dict[str, Any]]:
    """``alerts: [{name, metric, above|below|outside|absent|source_down, for, ...}]``."""
    out = []
    for where, item, fields in _items(checker, node, "alerts"):
        params = _params(checker, fields, _RULE_FIELDS, where, "an alert")
        named = checker.value(fields["receivers"][1]) if "receivers" in fields else []
        for name in [r for r in named if r not in receivers][:1] if isinstance(named, list) else []:
            checker.fail(fields["receivers"][1], f"{where}.receivers",
                         f"expected names of receivers ({', '.join(receivers) or 'none are given'}), got {name!r}")
            params = None
        if params is None:
            continue
        if "for" in params:
            params["for_"] = params.pop("for")
        if params is None:
            continue
        try:
            AlertRule(**params)
        except ValueError as exc:
            checker.fail(item, where, str(exc))
            continue
        out.append(params)
    return out


def _items(checker: Any, node: Node, name: str) -> list[tuple[str, Node, dict[str, tuple[Node, Node]]]]:
    if not isinstance(node, SequenceNode):
        checker.fail(node, name, f"expected a list, got {kind_of(node)}")
        return []
    out = []
    for i, item in enumerate(node.value):
        fields = checker.mapping(item, f"{name}[{i}]")
        if fields is not None:
            out.append((f"{name}[{i}]", item, fields))
    return out


def _params(checker: Any, fields: dict[str, tuple[Node, Node]], allowed: dict[str, Any], where: str, owner: str
            ) -> dict[str, Any] | None:
    return checker.params(fields, allowed, where, owner, convert=_convert)


def _convert(name: str, value: Any) -> tuple[Any, str | None]:
    """A field's value as its param takes it (durations as text, a range as a list), and what is wrong with
    it beyond the param's own check (a summary that does not format)."""
    from ..viewurl import parse_duration

    if name in DURATIONS and isinstance(value, str):
        return parse_duration(value), None
    if name == "outside" and isinstance(value, list):
        return tuple(value), None
    if name == "summary" and isinstance(value, str):
        return value, template_problem(value)
    return value, None


def _required(checker: Any, item: Node, where: str, params: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name not in params:
            checker.fail(item, f"{where}.{name}", "missing")
