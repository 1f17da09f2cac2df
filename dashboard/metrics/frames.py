"""The store's samples as pandas: times given by users read as epoch seconds, and tidy or wide frames.

Pandas appears here, at the edge, and nowhere else in the collection and storage layers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .model import SeriesKey

if TYPE_CHECKING:
    from .store import Store


def to_epoch(when: float | str | object) -> float:
    """Epoch seconds from a number (or its text), an ISO 8601 text (``2026-11-29T10:00:00Z``; without a zone, UTC) or a
    ``datetime``/``Timestamp``; a clear error names what was given otherwise."""
    if isinstance(when, (int, float, np.integer, np.floating)) and not isinstance(when, bool):
        return float(when)
    if isinstance(when, str):  # "1764410400.5" (a URL's query) is epoch seconds too
        with contextlib.suppress(ValueError):
            return float(when)
    try:
        stamp = pd.Timestamp(when)
    except (TypeError, ValueError):
        raise ValueError(f"expected epoch seconds, ISO 8601 text or a datetime, got {when!r}") from None
    if stamp is pd.NaT:
        raise ValueError(f"expected epoch seconds, ISO 8601 text or a datetime, got {when!r}")
    return (stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")).timestamp()


def to_frame(store: Store, keys: Iterable[SeriesKey] | None = None, seconds: float | None = None,
             wide: bool = False, start: float | None = None, end: float | None = None,
             columns: int | None = None) -> pd.DataFrame:
    """Samples as a tidy DataFrame (time, metric, labels, value), or wide (a column per series): the store's
    window (or the last ``seconds``), or every sample from ``start`` to ``end`` (epoch seconds, both
    included; either may be left open). With ``columns``, the range as a plot of that many pixel columns
    draws it (:meth:`Store.query`): see :func:`columns_frame`."""
    keys = list(store.keys() if keys is None else keys)
    if columns is not None:
        return columns_frame(store, keys, start, end, seconds, columns, wide)
    ranged = start is not None or end is not None
    lo = np.nextafter(start, -np.inf) if start is not None else -np.inf
    hi = end if end is not None else np.inf
    if wide:
        times, values = store.between(keys, lo, hi) if ranged else store.aligned(keys, seconds)
        frame = pd.DataFrame(values.T, columns=[str(k) for k in keys],
                             index=pd.to_datetime(times, unit="s", utc=True))
        frame.index.name = "time"
        return frame
    pieces = []
    for key in keys:
        if ranged:
            t, rows = store.between([key], lo, hi)
            v = rows[0]
        else:
            t, v = store.window(key, seconds)
        pieces.append(pd.DataFrame({
            "time": pd.to_datetime(t, unit="s", utc=True),
            "metric": key.name,
            "labels": key.label_text(),
            "value": v,
        }))
    if not pieces:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "metric": pd.Series(dtype=str),
                             "labels": pd.Series(dtype=str), "value": pd.Series(dtype=float)})
    return pd.concat(pieces, ignore_index=True)


def columns_frame(store: Store, keys: list[SeriesKey], start: float | None, end: float | None,
                  seconds: float | None, columns: int, wide: bool) -> pd.DataFrame:
    """``keys`` from ``start`` to ``end`` (by default the last ``seconds``, or the store's window, up to now)
    at ``columns`` pixel columns: each column's min and max at their times, what a zoomed plot draws (a
    tidy frame leaves out the rows where a series has no value). ``frame.attrs["grid"]`` says where the
    columns lie: what answered them (``memory``, ``raw``, or the history's aggregate tier), the first
    column's start (epoch seconds), their width (seconds) and their number. From a tier the columns snap
    to its buckets, so each column's min and max are exactly its samples'."""
    if not isinstance(columns, (int, np.integer)) or isinstance(columns, bool) or not 1 <= columns <= 100_000:
        raise ValueError(f"columns: expected a whole number from 1 to 100000, got {columns!r}")
    newest = store.latest_many(keys)[0] if keys else np.empty(0)
    end = float(end) if end is not None else float(newest.max()) if newest.size and np.isfinite(newest).any() \
        else time.time()
    start = float(start) if start is not None else end - (seconds or store.window_seconds)
    t, v = store.query(keys, start, end, int(columns)) if keys else (np.empty(0), np.empty((0, 0)))
    source, first, width, count = store.grid(keys, start, end, int(columns))
    times = pd.to_datetime(t, unit="s", utc=True)
    if wide:
        frame = pd.DataFrame(v.T, columns=[str(k) for k in keys], index=times)
        frame.index.name = "time"
    else:
        frame = pd.DataFrame({"time": np.tile(times, len(keys)), "metric": np.repeat([k.name for k in keys], t.size),
                              "labels": np.repeat([k.label_text() for k in keys], t.size),
                              "value": v.reshape(-1)})
        frame = frame[frame["value"].notna()].reset_index(drop=True)
    frame.attrs["grid"] = {"source": source, "start": first, "width": width, "columns": count}
    return frame
