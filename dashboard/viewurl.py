"""The view in a URL: a served page's query string read into view params, and written back from them.

=========  =====================================================  ================================
parameter  value                                                  param
=========  =====================================================  ================================
window     seconds, or a duration: ``90s``, ``5m``, ``1h``, ``7d``  ``window`` (1 s to 7 d)
from       epoch seconds or ISO 8601 (without a zone: UTC)         ``start`` (given: not live)
to         epoch seconds or ISO 8601 (without a zone: UTC)         ``end`` (given: not live)
live       ``true`` or ``false``                                   ``live``
tz         an IANA time zone name (``Europe/Paris``)               ``timezone``
theme      ``light``, ``dark`` or ``auto``                         ``theme``
=========  =====================================================  ================================

:func:`parse_view` never raises: a bad value becomes a message naming the parameter, what was expected and
what was given, and the parameter is left out (the page keeps its default for it). Pure Python: the page
(:mod:`dashboard.ui.page`) shows the messages and applies the values.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

from .metrics.frames import to_epoch
from .units import time_zones

#: The query parameters of a view, in the order they are written.
QUERY = ("window", "from", "to", "live", "tz", "theme")
#: Seconds per unit of a duration.
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
MAX_WINDOW = 7 * 86400.0
THEMES = ("light", "dark", "auto")


def parse_duration(text: str) -> float:
    """Seconds from ``"300"``, ``"90s"``, ``"5m"``, ``"1h"``, ``"7d"`` (or ``"1h30m"``); ValueError otherwise."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
        if not parts or re.sub(r"\s", "", text) != "".join(n + u for n, u in parts):
            raise ValueError(f"expected seconds or a duration such as 5m, 1h or 7d, got {text!r}") from None
        seconds = sum(float(n) * UNITS[u] for n, u in parts)
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration, got {text!r}")
    return seconds


def _first(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _window(text: str) -> float:
    seconds = parse_duration(text)
    if not 1.0 <= seconds <= MAX_WINDOW:
        raise ValueError(f"expected a window from 1 s to 7 d, got {text!r}")
    return seconds


def _time(text: str) -> float:
    try:
        return to_epoch(float(text)) if re.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*", text) else to_epoch(text)
    except ValueError:
        raise ValueError(f"expected epoch seconds or ISO 8601 (2026-11-29T10:00:00Z), got {text!r}") from None


def _live(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(f"expected true or false, got {text!r}")
    return lowered in ("true", "1")


def check_zone(text: str) -> str:
    """``text`` if it is an IANA time zone name, else a ValueError naming it."""
    if text not in time_zones():
        raise ValueError(f"expected an IANA time zone such as Europe/Paris or UTC, got {text!r}")
    return text


def _theme(text: str) -> str:
    if text not in THEMES:
        raise ValueError(f"expected light, dark or auto, got {text!r}")
    return text


PARSERS = {"window": ("window", _window), "from": ("start", _time), "to": ("end", _time), "live": ("live", _live),
           "tz": ("timezone", check_zone), "theme": ("theme", _theme)}


def parse_view(args: Mapping[str, Any], now: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """The view params a query string asks for (``{"window": 3600.0, "start": ..., "live": False}``) and a
    message for each bad value. ``args`` maps names to values (str, bytes, or lists of them, as Tornado
    gives them). ``from`` without ``to`` holds until now; ``to`` without ``from`` holds one window before it."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for query, (name, parse) in PARSERS.items():
        text = _first(args, query)
        if text is None:
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            errors.append(f"URL parameter {query!r}: {exc}; the default is shown instead")
    if "start" in values or "end" in values:
        start = values.get("start")
        end = values.get("end", time.time() if now is None else now)
        if start is None:
            start = end - values.get("window", 600.0)
        if not end > start:
            errors.append(f"URL parameters 'from' and 'to': expected from before to, got {format_time(start)} "
                          f"and {format_time(end)}; the live view is shown instead")
            values.pop("start", None)
            values.pop("end", None)
        else:
            values.update(start=start, end=end, live=False)
    return values, errors


def format_time(epoch: float) -> str:
    """Epoch seconds as ISO 8601 in UTC (whole seconds when exact)."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    frac = epoch - math.floor(epoch)
    return text + (f"{frac:.3f}"[1:] if frac >= 0.0005 else "") + "Z"


def format_view(view: Any, default_window: float) -> dict[str, str]:
    """The query parameters of ``view`` (an object with the view params), leaving out what is a default."""
    query: dict[str, str] = {}
    if view.window is not None and view.window != default_window:
        query["window"] = _short(view.window)
    if not view.live and view.start is not None and view.end is not None:
        query["from"] = format_time(view.start)
        query["to"] = format_time(view.end)
        query["live"] = "false"
    if view.timezone:
        query["tz"] = view.timezone
    if view.theme != "auto":
        query["theme"] = view.theme
    return query


def _short(seconds: float) -> str:
    """``3600.0`` as ``1h``, ``90.0`` as ``90s``: the shortest exact form."""
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
