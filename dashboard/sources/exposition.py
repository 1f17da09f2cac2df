"""Prometheus exposition (text format 0.0.4 and OpenMetrics) into samples, via prometheus_client's parser.

Two readers:

* :func:`parse_payload` reads a whole scrape. The parser is a generator, so every family is materialized
  inside the ``try``: a malformed payload raises :class:`~dashboard.errors.DataError` naming the source and
  the parser's reason, never half a scrape.
* :func:`parse_lines` reads pushed text line by line (``POST /ingest``): each bad line becomes a
  :class:`~dashboard.errors.ParseError` with its number and reason, every good line is kept.

What becomes a series: counters stay counters (the source turns them into rates, resets handled);
gauges and untyped samples are gauges; for histograms and summaries ``_count`` and ``_sum`` are counters
(the scrape source adds their ratio as ``<name>_mean``) and summary quantiles are gauges. Buckets,
``_created`` and info/stateset samples are left out: they would flood the store without making a line
worth plotting.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.openmetrics.parser import text_string_to_metric_families as _parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as _parse_text

from ..errors import DataError, ParseError
from ..metrics.model import Kind, SeriesKey

#: Longest metric name, label name or label value accepted from a peer.
MAX_NAME = 200
_COUNTER_PARTS = ("_count", "_sum")
_SKIPPED_SUFFIXES = ("_bucket", "_created", "_gcount", "_gsum")
_SKIPPED_TYPES = {"info", "stateset", "gaugehistogram"}
_TYPE_LINE = re.compile(r"^#\s*TYPE\s+(\S+)\s+(\S+)\s*$")
#: Prometheus' metric and label names (its data model); a label name beginning with ``__`` is reserved.
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Prometheus metric name (None: it is)."""
    if METRIC_NAME.match(name):
        return None
    return f"{name[:40]!r} is not a Prometheus metric name (letters, digits, '_' and ':', not first a digit)"


def label_problem(name: str) -> str | None:
    """Why ``name`` is not a label name a push may use (None: it is)."""
    if not LABEL_NAME.match(name):
        return f"label {name[:40]!r} is not a Prometheus label name (letters, digits and '_', not first a digit)"
    if name.startswith("__"):
        return f"label {name[:40]!r}: names beginning with '__' are reserved by Prometheus"
    return None


@dataclass(frozen=True)
class Sample:
    """One parsed sample: its series, value, whether it is a counter, and its own timestamp if it had one."""

    key: SeriesKey
    value: float
    kind: Kind = "gauge"
    timestamp: float | None = None
    help: str = ""


@dataclass(frozen=True)
class Selector:
    """Which samples to keep: metric-name globs to include and exclude, and label values to match."""

    include: Sequence[str] = ("*",)
    exclude: Sequence[str] = ()
    labels: Mapping[str, str] | None = None

    def keeps(self, key: SeriesKey) -> bool:
        name = key.name
        if not any(fnmatch.fnmatchcase(name, p) for p in self.include):
            return False
        if any(fnmatch.fnmatchcase(name, p) for p in self.exclude):
            return False
        return key.matches(labels=self.labels)


ALL = Selector()


def is_openmetrics(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text"


def parse_payload(text: str, *, openmetrics: bool = False, source: str = "",
                  selector: Selector = ALL) -> list[Sample]:
    """Every kept sample of a scrape; a malformed payload raises DataError (nothing is half-read)."""
    parse = _parse_openmetrics if openmetrics else _parse_text
    try:
        families = list(parse(text))
    except Exception as exc:  # the parser raises ValueError, and on odd input other errors too
        raise DataError(f"malformed exposition: {_reason(exc)}", source=source) from None
    out: list[Sample] = []
    for family in families:
        out.extend(s for s in _samples(family) if selector.keeps(s.key))
    return out


def parse_lines(text: str, *, source: str = "", selector: Selector = ALL
                ) -> tuple[list[Sample], list[ParseError]]:
    """Pushed exposition text, one line at a time: (good samples, one error per bad line)."""
    types: dict[str, str] = {}
    samples: list[Sample] = []
    errors: list[ParseError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _TYPE_LINE.match(line)
            if match:
                types[match.group(1)] = match.group(2).lower()
            continue
        try:
            parsed = _one_line(line, types)
        except ParseError as exc:
            errors.append(ParseError(number, exc.reason, source=source))
            continue
        samples.extend(s for s in parsed if selector.keeps(s.key))
    return samples, errors


def _one_line(line: str, types: Mapping[str, str]) -> list[Sample]:
    try:
        families = list(_parse_text(line + "\n"))
    except Exception as exc:
        raise ParseError(0, f"not a sample line ({_reason(exc)})") from None
    out: list[Sample] = []
    for family in families:
        for sample in family.samples:
            kind = _declared_kind(sample.name, types)
            if kind is None:
                continue
            problem = name_problem(sample.name) or next(filter(None, map(label_problem, sample.labels)), None)
            if problem:
                raise ParseError(0, problem)
            out.append(_checked(sample.name, sample.labels, sample.value, kind, sample.timestamp, ""))
    return out


def _declared_kind(name: str, types: Mapping[str, str]) -> Kind | None:
    """The kind of a pushed sample from the ``# TYPE`` lines before it (gauge when untyped)."""
    for base, suffix in ((name, ""), *((name[: -len(s)], s) for s in ("_total", *_COUNTER_PARTS, "_bucket")
                                       if name.endswith(s))):
        declared = types.get(base)
        if declared is None:
            continue
        if suffix == "_bucket" or declared in _SKIPPED_TYPES:
            return None
        if declared == "counter" or (declared in ("histogram", "summary") and suffix in _COUNTER_PARTS):
            return "counter"
        return "gauge"
    return "gauge"


def _samples(family) -> Iterable[Sample]:
    if family.type in _SKIPPED_TYPES:
        return
    for sample in family.samples:
        name = sample.name
        if name.endswith(_SKIPPED_SUFFIXES):
            continue
        counter = family.type == "counter" or (
            family.type in ("histogram", "summary") and name.endswith(_COUNTER_PARTS))
        try:
            yield _checked(name, sample.labels, sample.value, "counter" if counter else "gauge",
                           sample.timestamp, family.documentation)
        except ParseError:
            continue  # a name or label too long for us: left out of a scrape (counted by the caller)


def _checked(name: str, labels: Mapping[str, str], value: float, kind: Kind, timestamp, help: str) -> Sample:
    if len(name) > MAX_NAME:
        raise ParseError(0, f"metric name longer than {MAX_NAME} characters")
    for k, v in labels.items():
        if len(k) > MAX_NAME or len(v) > MAX_NAME:
            raise ParseError(0, f"label {k[:40]!r} longer than {MAX_NAME} characters")
    t = None if timestamp is None else float(timestamp)
    if t is not None and not math.isfinite(t):
        raise ParseError(0, "timestamp is not finite")
    return Sample(SeriesKey.of(name, labels), float(value), kind, t, help)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:300]
