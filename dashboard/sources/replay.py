"""``ReplaySource``: a recorded CSV or Parquet file, replayed at real time times ``speed``, or loaded whole.

Two layouts, told apart by their columns (or forced with ``layout``):

* **long**: ``time, name, value`` and optionally ``labels`` (a JSON object such as ``{"gpu": "0"}``, or
  ``gpu=0,host=a``), one sample per row;
* **wide**: a ``time`` column and one column per series (the column name is the metric name).

``time`` is seconds since the epoch or anything pandas reads as a date. In ``replay`` mode the first row
plays when the source starts and the rest follow at their recorded spacing divided by ``speed`` (times are
shifted to now, so the plot follows); with ``loop`` the file starts over after a gap. In ``history`` mode
the whole file is written at once with its own times.

Rows that cannot be read (a time or value that is not a number, a name missing) are left out and counted
in ``dropped_rows``; the first few are named with their line number in ``last_error``-style messages in
the log and in :attr:`problems`. A file without the columns a layout needs is a clear error at open.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import param

from ..errors import DataError
from ..metrics.model import Batch, SeriesInfo, SeriesKey
from .base import Source, source_type

log = logging.getLogger("dashboard.sources.replay")


@source_type("replay")
class ReplaySource(Source):
    """Plays back a recorded file of metrics."""

    path = param.String(default="", doc="CSV (.csv, .csv.gz) or Parquet (.parquet) file to play.")

    speed = param.Number(default=1.0, bounds=(0.001, 1_000_000), doc="Playback speed: 2 plays twice as fast.")

    loop = param.Boolean(default=False, doc="Start over when the file ends (replay mode).")

    mode = param.Selector(default="replay", objects=["replay", "history"],
                          doc="replay: at real time times speed; history: the whole file at once, as recorded.")

    layout = param.Selector(default="auto", objects=["auto", "long", "wide"],
                            doc="long: time, name, labels, value rows; wide: a time column and one per series.")

    time_column = param.String(default="time", doc="Name of the time column.")

    interval = param.Number(default=0.1, bounds=(0.01, 60), doc="Seconds between two steps of the playback.")

    dropped_rows = param.Integer(default=0, bounds=(0, None), constant=True,
                                 doc="Rows of the file that could not be read.")

    aligned = False
    late_gaps = False

    def __init__(self, *, clock: Callable[[], float] = time.time, **params: Any) -> None:
        super().__init__(**params)
        self._clock = clock
        self.problems: list[str] = []
        self._t = np.empty(0)
        self._keys: list[SeriesKey] = []
        self._rows: np.ndarray = np.empty(0, dtype=np.int64)  # key index per sample
        self._v = np.empty(0)
        self._cursor = 0
        self._lap_start = 0.0  # wall time at which the current lap's first row plays

    # -- reading the file -----------------------------------------------------------------------------------
    async def _initialize(self) -> None:
        import asyncio

        frame = await asyncio.to_thread(read_table, self.path)
        t, keys, rows, values = self._samples(frame)
        order = np.argsort(t, kind="stable")
        self._t, self._rows, self._v, self._keys = t[order], rows[order], values[order], keys
        for key in keys:
            self.declare(key.name, "", "gauge", f"replayed from {Path(self.path).name}", **key.label_dict)
        self._cursor = 0
        self._lap_start = self._clock()

    def _samples(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[SeriesKey], np.ndarray, np.ndarray]:
        columns = [str(c) for c in frame.columns]
        if self.time_column not in columns:
            raise DataError(f"{self.path}: no {self.time_column!r} column (columns: {', '.join(columns)[:200]})",
                            source=self.name)
        layout = self.layout
        if layout == "auto":
            layout = "long" if {"name", "value"} <= set(columns) else "wide"
        t = _times(frame[self.time_column])
        if layout == "long":
            return self._long(frame, columns, t)
        return self._wide(frame, columns, t)

    def _long(self, frame: pd.DataFrame, columns: list[str], t: np.ndarray):
        missing = [c for c in ("name", "value") if c not in columns]
        if missing:
            raise DataError(f"{self.path}: a long file needs columns time, name, value; missing {missing}",
                            source=self.name)
        values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
        names = frame["name"].astype("string").fillna("")
        labels = frame["labels"] if "labels" in columns else pd.Series([""] * len(frame))
        index: dict[SeriesKey, int] = {}
        rows = np.full(len(frame), -1, dtype=np.int64)
        for i, (name, label_text, raw) in enumerate(zip(names, labels, frame["value"], strict=True)):
            line = i + 2  # the header is line 1
            reason = _row_problem(t[i], name, values[i], raw)
            key = None
            if reason is None:
                try:
                    key = SeriesKey.of(str(name), parse_labels(label_text))
                except ValueError as exc:
                    reason = f"labels: {exc}"
            if reason is not None:
                self._problem(line, reason)
                continue
            rows[i] = index.setdefault(key, len(index))
        good = rows >= 0
        return t[good], list(index), rows[good], values[good]

    def _wide(self, frame: pd.DataFrame, columns: list[str], t: np.ndarray):
        series = [c for c in columns if c != self.time_column]
        if not series:
            raise DataError(f"{self.path}: a wide file needs a column per series beside {self.time_column!r}",
                            source=self.name)
        bad_t = ~np.isfinite(t)
        for i in np.flatnonzero(bad_t)[:5]:
            self._problem(int(i) + 2, f"{self.time_column}: not a time")
        self._count_dropped(int(bad_t.sum()) - min(5, int(bad_t.sum())))
        keys = [SeriesKey.of(c) for c in series]
        ts, rows, vals = [], [], []
        for j, column in enumerate(series):
            v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
            ok = ~bad_t & ~np.isnan(v)
            ts.append(t[ok])
            rows.append(np.full(int(ok.sum()), j, dtype=np.int64))
            vals.append(v[ok])
        return np.concatenate(ts), keys, np.concatenate(rows), np.concatenate(vals)

    def _problem(self, line: int, reason: str) -> None:
        self._count_dropped(1)
        if len(self.problems) < 20:
            text = f"{self.path}: line {line}: {reason}"
            self.problems.append(text)
            log.warning("%s: %s", self.name, text)

    def _count_dropped(self, n: int) -> None:
        if n > 0:
            with param.edit_constant(self):
                self.dropped_rows += n

    # -- playing --------------------------------------------------------------------------------------------
    async def _collect(self) -> list[Batch]:
        if self._t.size == 0:
            return []
        if self.mode == "history":
            if self._cursor:
                return []
            self._cursor = self._t.size
            return self._batches(0, self._t.size, self._t)
        now = self._clock()
        t0 = self._t[0]
        due = t0 + (now - self._lap_start) * self.speed
        stop = int(np.searchsorted(self._t, due, side="right"))
        batches = []
        if stop > self._cursor:
            played = self._lap_start + (self._t[self._cursor:stop] - t0) / self.speed
            batches = self._batches(self._cursor, stop, played)
            self._cursor = stop
        if self._cursor >= self._t.size and self.loop:
            batches.append(self._restart())
        return batches

    def _restart(self) -> Batch:
        """Start over one recorded step after the end; a NaN half a step after the last row, so the last
        point does not join the first."""
        span = float(self._t[-1] - self._t[0])
        step = span / max(1, self._t.size - 1) if span > 0 else 1.0
        last = self._lap_start + span / self.speed
        self._lap_start = last + step / self.speed
        self._cursor = 0
        return Batch(self.name, tuple(self._keys), np.array([last + step / self.speed / 2]),
                     np.full((len(self._keys), 1), math.nan))

    def _batches(self, lo: int, hi: int, times: np.ndarray) -> list[Batch]:
        rows, values = self._rows[lo:hi], self._v[lo:hi]
        out = []
        for j in np.unique(rows):
            mine = rows == j
            key = self._keys[int(j)]
            t, v = times[mine], values[mine]
            keep = np.concatenate(([True], np.diff(t) > 0))  # one sample per time and series
            out.append(Batch(self.name, (key,), t[keep], v[keep].reshape(1, -1), {key: SeriesInfo()}))
        return out


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, with a clear error for a missing file or a wrong format."""
    if not path:
        raise DataError("replay: give a file (path=...)")
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"replay: no such file: {p}")
    suffixes = "".join(p.suffixes[-2:]).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype={"labels": "string", "name": "string"}, keep_default_na=False,
                           na_values=[""])
    except ImportError as exc:
        raise DataError(f"replay: {p.name}: reading Parquet needs pyarrow (pip install 'dashboard[parquet]'): "
                        f"{exc}") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"replay: {p.name}: not a readable table: {str(exc)[:200]}") from None


def _times(column: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().sum() >= max(1, int(column.notna().sum() * 0.5)):
        return numeric.to_numpy(dtype=np.float64)
    stamps = pd.to_datetime(column, errors="coerce", utc=True)
    ns = stamps.astype("int64").to_numpy().astype(np.float64)
    return np.where(stamps.isna().to_numpy(), np.nan, ns / 1e9)


def _row_problem(t: float, name: Any, value: float, raw: Any) -> str | None:
    if not math.isfinite(t):
        return "time: not a time"
    if not isinstance(name, str) or not name.strip():
        return "name: missing"
    if math.isnan(value) and str(raw).strip().lower() not in ("nan", ""):
        return f"value: {str(raw)[:40]!r} is not a number"
    return None


def parse_labels(text: Any) -> dict[str, str]:
    """Labels from a JSON object or ``k=v,k=v`` (empty: none)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return {}
    text = str(text).strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a JSON object ({exc})") from None
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{part[:40]!r} is not name=value")
        out[name.strip()] = value.strip()
    return out
