"""The metrics model: series keys, what a series measures, and columnar batches of samples.

* :class:`SeriesKey` is a metric name plus a sorted tuple of label pairs; hashable and cheap.
* :class:`SeriesInfo` says what a series measures: its unit, whether it is a gauge or a counter (stored
  as a per-second rate), and a help text.
* :class:`Batch` is what flows from a source through the store to the viewers: one source, a tuple of
  keys, one float64 time column (seconds since the epoch) and a 2-D float64 value array with one row per
  key. NaN is a gap. Batches are immutable by convention and built once per collection.

Names and label values come from sources and are hostile: nothing here renders them; the UI escapes them
at its boundary (or shows them only as canvas text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

Kind = Literal["gauge", "counter"]


class SeriesKey(NamedTuple):
    """A metric name and its labels, e.g. ``cpu_percent{cpu="0"}``."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str, labels: Mapping[str, object] | None = None, **more: object) -> SeriesKey:
        """Build a key from a name and labels given as a mapping and/or keywords."""
        merged = {**(labels or {}), **more}
        return cls(str(name), tuple(sorted((str(k), str(v)) for k, v in merged.items())))

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def label(self, name: str, default: str = "") -> str:
        for key, value in self.labels:
            if key == name:
                return value
        return default

    def matches(self, name: str | None = None, labels: Mapping[str, str] | None = None) -> bool:
        """True when the name is ``name`` (if given) and every label in ``labels`` has that value."""
        if name is not None and self.name != name:
            return False
        return all(self.label(k, None) == str(v) for k, v in (labels or {}).items())  # type: ignore[arg-type]

    def label_text(self) -> str:
        """The labels in Prometheus form without the name: ``{cpu="0"}`` (empty when none)."""
        if not self.labels:
            return ""
        inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in self.labels)
        return "{" + inner + "}"

    def __str__(self) -> str:
        return f"{self.name}{self.label_text()}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class SeriesInfo:
    """What a series measures."""

    unit: str = ""
    kind: Kind = "gauge"
    help: str = ""


@dataclass(frozen=True, eq=False)
class Batch:
    """Samples of several series from one source at shared times, stored column-wise."""

    source: str
    keys: tuple[SeriesKey, ...]
    time: np.ndarray
    values: np.ndarray
    info: Mapping[SeriesKey, SeriesInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        time = np.ascontiguousarray(self.time, dtype=np.float64).reshape(-1)
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values.reshape(len(self.keys), -1) if self.keys else values.reshape(0, time.size)
        if values.shape != (len(self.keys), time.size):
            raise ValueError(
                f"batch from {self.source!r}: values have shape {values.shape}, expected "
                f"({len(self.keys)}, {time.size}) for {len(self.keys)} series and {time.size} times")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"batch from {self.source!r}: a series appears twice")
        object.__setattr__(self, "keys", tuple(self.keys))
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "values", values)

    @classmethod
    def gap(cls, source: str, t: float, keys: Iterable[SeriesKey]) -> Batch:
        """A row of NaN for ``keys`` at ``t``: the plot breaks there."""
        keys = tuple(keys)
        return cls(source, keys, np.array([t]), np.full((len(keys), 1), np.nan))

    def beside(self, other: Batch) -> Batch:
        """This batch and ``other`` (of the same source, at the same times) as one."""
        return Batch(self.source, self.keys + other.keys, self.time, np.vstack((self.values, other.values)),
                     {**self.info, **other.info})

    def __len__(self) -> int:
        return int(self.time.size)

    @property
    def sample_count(self) -> int:
        return int(self.values.size)

    def column(self, key: SeriesKey) -> np.ndarray:
        """The values of ``key`` (raises KeyError when absent)."""
        return self.values[self.keys.index(key)]

    def __repr__(self) -> str:
        return f"<Batch {self.source!r} series={len(self.keys)} rows={len(self)}>"
