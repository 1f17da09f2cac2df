"""How a spec's values are checked against params, in the user's terms (``expected a number from 0.05 to
3,600, got 'fast'``): shared by :mod:`dashboard.spec` for every field it checks."""

from __future__ import annotations

import re
from typing import Any

import param
from yaml.nodes import MappingNode, Node, SequenceNode

#: Params of a source that a spec may not set (they report state).
STATUS_PARAMS = {"state", "running", "error", "connection", "reason", "last_success", "last_error", "collections",
                 "failures", "data_errors", "health", "dropped_series", "dropped_rows", "accepted", "overflow"}


def settable(cls: type[param.Parameterized], named: bool = False) -> dict[str, param.Parameter]:
    """The params of ``cls`` that a spec may set: not constant or read-only, not status, not an object
    (a spec holds data); ``name`` only when ``named``."""
    return {n: p for n, p in cls.param.objects("existing").items()
            if (n == "name" and named) or (n != "name" and n not in STATUS_PARAMS and not p.constant and not p.readonly
                                           and (isinstance(p, param.Dict) or not isinstance(p, param.ClassSelector)))}


def param_problem(p: param.Parameter, value: Any) -> str | None:
    """What is wrong with ``value`` for param ``p`` (None when it is fine), in the user's terms."""
    if isinstance(value, bool) and isinstance(p, param.Number):
        return f"{expected(p)}, got {value!r}"  # YAML's yes/no: never a number here
    try:
        p._validate(value)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        return f"{expected(p)}, got {value!r}" if expected(p) else text
    return None


def expected(p: param.Parameter) -> str:
    bounds = getattr(p, "bounds", None)
    if isinstance(p, param.Number):
        low, high = bounds or (None, None)
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if low is not None and high is not None:
            return f"expected {kind} from {number_text(low)} to {number_text(high)}"
        if low is not None:
            return f"expected {kind} >= {number_text(low)}"
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


def number_text(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def kind_of(node: Node | None) -> str:
    if node is None:
        return "nothing"
    return {MappingNode: "a mapping", SequenceNode: "a list"}.get(type(node), f"{node.value!r}")


#: An origin a page may embed from (``host[:port]``, as ``--allow-websocket-origin`` takes it).
ORIGIN = re.compile(r"[A-Za-z0-9.\[\]:_-]+(:\d{1,5})?")


def check_origins(checker: Any, node: Node) -> list[str]:
    """``allow_websocket_origin: [host:port, ...]``: the pages that may embed (as the option)."""
    value = checker.value(node)
    items = value if isinstance(value, list) else [value]
    for bad in [v for v in items if not isinstance(v, str) or not ORIGIN.fullmatch(v)][:1]:
        checker.fail(node, "allow_websocket_origin", f"expected a list of host:port (as --allow-websocket-origin), "
                                                     f"got {bad!r}")
        return []
    return list(items)
