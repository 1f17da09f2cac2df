"""Tier arithmetic: raw samples into per-minute and per-hour aggregates, and aggregates into pixel columns.

An aggregate row is one series over one bucket (``t`` its start): ``min`` and ``max`` with the times they
occurred (``tmin``, ``tmax``), ``sum`` and ``count`` of the values that are numbers, and ``tgap``, the time
of the first gap (NaN sample) in the bucket, NaN when none. Aggregates merge: two rows of one series and
bucket (written by two log segments) are one row's worth of information, so nothing needs rewriting when a
bucket's samples arrive in pieces.

A query over a long range reads the coarsest tier whose buckets are no wider than a pixel column, and
:func:`columns_from_tier` answers the same contract as the live decimation: per pixel column, the exact
min and max of what was stored, at the times they happened, in time order; a column where every series
has only gaps stays a gap (a NaN row).
"""

from __future__ import annotations

import numpy as np

#: Tier name -> bucket width in seconds; ``raw`` is the samples themselves.
TIERS: dict[str, float] = {"raw": 0.0, "minute": 60.0, "hour": 3600.0}

AGGREGATE_FIELDS = ("series", "t", "tmin", "tmax", "min", "max", "sum", "count", "tgap")


def aggregate(series: np.ndarray, t: np.ndarray, v: np.ndarray, width: float) -> dict[str, np.ndarray]:
    """Aggregate rows of samples (any order) into buckets of ``width`` seconds, per series."""
    if t.size == 0:
        return {name: np.empty(0, dtype=np.int32 if name == "series" else
                               np.int64 if name == "count" else np.float64) for name in AGGREGATE_FIELDS}
    bucket = np.floor(t / width) * width
    order = np.lexsort((t, bucket, series))
    series, t, v, bucket = series[order], t[order], v[order], bucket[order]
    starts = np.flatnonzero(np.concatenate(([True], (series[1:] != series[:-1]) | (bucket[1:] != bucket[:-1]))))
    gap = np.isnan(v)
    low = np.minimum.reduceat(np.where(gap, np.inf, v), starts)
    high = np.maximum.reduceat(np.where(gap, -np.inf, v), starts)
    group = np.repeat(np.arange(starts.size), np.diff(np.append(starts, v.size)))
    tmin = np.minimum.reduceat(np.where(v == low[group], t, np.inf), starts)
    tmax = np.minimum.reduceat(np.where(v == high[group], t, np.inf), starts)
    count = np.add.reduceat((~gap).astype(np.int64), starts)
    empty = count == 0
    tgap = np.minimum.reduceat(np.where(gap, t, np.inf), starts)
    return {
        "series": series[starts].astype(np.int32), "t": bucket[starts],
        "tmin": np.where(empty, np.nan, tmin), "tmax": np.where(empty, np.nan, tmax),
        "min": np.where(empty, np.nan, low), "max": np.where(empty, np.nan, high),
        "sum": np.add.reduceat(np.where(gap, 0.0, v), starts), "count": count,
        "tgap": np.where(np.isinf(tgap), np.nan, tgap),
    }


def columns_from_tier(rows: list[dict[str, np.ndarray]], start: float, width: float, columns: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate rows of several series (one dict of arrays per series, any order, buckets possibly split
    in pieces) as pixel columns: (time, values[series, n]) with, per column, a row at the time of the first
    extreme and one at the time of the last, every series' min and max placed in its own time order."""
    n_series = len(rows)
    low = np.full((n_series, columns), np.inf)
    high = np.full((n_series, columns), -np.inf)
    t_low = np.full((n_series, columns), np.nan)
    t_high = np.full((n_series, columns), np.nan)
    gap = np.zeros((n_series, columns), dtype=bool)
    for i, r in enumerate(rows):
        _fold(r, start, width, columns, low[i], high[i], t_low[i], t_high[i], gap[i])
    has = np.isfinite(low)
    first_t = np.nanmin(np.where(has, np.fmin(t_low, t_high), np.nan), axis=0, initial=np.inf)
    last_t = np.nanmax(np.where(has, np.fmax(t_low, t_high), np.nan), axis=0, initial=-np.inf)
    data_cols = np.isfinite(first_t)
    gap_cols = ~data_cols & gap.any(axis=0)
    out_t, out_v = [], []
    for col in np.flatnonzero(data_cols | gap_cols):
        if gap_cols[col]:
            out_t.append(start + (col + 0.5) * width)
            out_v.append(np.full(n_series, np.nan))
            continue
        a = np.where(has[:, col], np.where(t_low[:, col] <= t_high[:, col], low[:, col], high[:, col]), np.nan)
        b = np.where(has[:, col], np.where(t_low[:, col] <= t_high[:, col], high[:, col], low[:, col]), np.nan)
        if first_t[col] == last_t[col]:
            out_t.append(first_t[col])
            out_v.append(a)
        else:
            out_t += [first_t[col], last_t[col]]
            out_v += [a, b]
    if not out_t:
        return np.empty(0), np.empty((n_series, 0))
    return np.asarray(out_t), np.column_stack(out_v)


def _fold(r: dict[str, np.ndarray], start: float, width: float, columns: int, low: np.ndarray,
          high: np.ndarray, t_low: np.ndarray, t_high: np.ndarray, gap: np.ndarray) -> None:
    """Fold one series' aggregate rows into the per-column arrays (in place)."""
    has = r["count"] > 0
    col_min = _column(r["tmin"], start, width, columns)
    col_max = _column(r["tmax"], start, width, columns)
    col_gap = _column(r["tgap"], start, width, columns)
    ok = has & (col_min >= 0)
    _place(low, t_low, col_min[ok], r["min"][ok], r["tmin"][ok], np.minimum)
    ok = has & (col_max >= 0)
    _place(high, t_high, col_max[ok], r["max"][ok], r["tmax"][ok], np.maximum)
    gap[col_gap[col_gap >= 0]] = True


def _column(t: np.ndarray, start: float, width: float, columns: int) -> np.ndarray:
    """The pixel column of each time, -1 outside the range (or for NaN)."""
    with np.errstate(invalid="ignore"):
        col = np.floor((t - start) / width)
    col = np.where(np.isfinite(col) & (col >= 0) & (col < columns), col, -1)
    return col.astype(np.int64)


def _place(best: np.ndarray, when: np.ndarray, col: np.ndarray, value: np.ndarray, t: np.ndarray,
           pick: np.ufunc) -> None:
    """Per column, the extreme ``value`` (``pick`` is min or max) and the earliest time it occurred."""
    if col.size == 0:
        return
    pick.at(best, col, value)
    winner = value == best[col]
    cols, times = col[winner], t[winner]
    first = np.full(best.size, np.inf)
    np.minimum.at(first, cols, times)
    found = np.isfinite(first)
    when[found] = first[found]
