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

#: Tier name -> bucket width in seconds; ``raw`` is the samples themselves. Each bucket is a whole number
#: of the finer tier's (a coarser tier is built from the one below), and above 10 s each tier is at most
#: 5 times coarser than the one below: a query through the coarsest tier that fits a pixel column reads at
#: most 5 rows per series and column, whatever the range (with a tier every 10 times it read up to 10,
#: and long zooms cost twice as much).
TIERS: dict[str, float] = {"raw": 0.0, "10s": 10.0, "30s": 30.0, "minute": 60.0, "5min": 300.0,
                           "15min": 900.0, "hour": 3600.0}
#: Tier name -> the time span one chunk of it covers once compacted (small chunks of one span are merged).
#: About the shortest range a query reads from the tier (1,200 columns of its buckets), so that a query
#: reads little more than it needs.
PERIODS: dict[str, float] = {"raw": 3600.0, "10s": 4 * 3600.0, "30s": 12 * 3600.0, "minute": 86400.0,
                             "5min": 4 * 86400.0, "15min": 12 * 86400.0, "hour": 30 * 86400.0}

#: No ``sum``: nothing drew or read one, and its random low bits cost a fifth of the aggregates' bytes.
AGGREGATE_FIELDS = ("series", "t", "tmin", "tmax", "min", "max", "count", "tgap")


def aggregate(series: np.ndarray, t: np.ndarray, v: np.ndarray, width: float, *, ordered: bool = False
              ) -> dict[str, np.ndarray]:
    """Aggregate rows of samples (any order; ``ordered``: already sorted by series, then time) into
    buckets of ``width`` seconds, per series."""
    if t.size == 0:
        return {name: np.empty(0, dtype=np.int32 if name == "series" else
                               np.int64 if name == "count" else np.float64) for name in AGGREGATE_FIELDS}
    bucket = np.floor(t / width) * width
    if not ordered:
        step = np.diff(series)
        if not ((step > 0) | ((step == 0) & (np.diff(t) > 0))).all():
            order = np.lexsort((t, bucket, series))
            series, t, v, bucket = series[order], t[order], v[order], bucket[order]
    starts = np.flatnonzero(np.concatenate(([True], (series[1:] != series[:-1]) | (bucket[1:] != bucket[:-1]))))
    lengths = np.diff(starts, append=v.size)
    gap = np.isnan(v)
    gaps = bool(gap.any())
    with np.errstate(invalid="ignore"):  # a bucket of gaps only: NaN, marked empty below
        low, high = np.fmin.reduceat(v, starts), np.fmax.reduceat(v, starts)
    tmin = np.minimum.reduceat(np.where(v == np.repeat(low, lengths), t, np.inf), starts)
    tmax = np.minimum.reduceat(np.where(v == np.repeat(high, lengths), t, np.inf), starts)
    count = np.add.reduceat((~gap).astype(np.int64), starts) if gaps else lengths.astype(np.int64)
    empty = count == 0
    tgap = np.minimum.reduceat(np.where(gap, t, np.inf), starts) if gaps else np.full(starts.size, np.inf)
    return {
        "series": series[starts].astype(np.int32), "t": bucket[starts],
        "tmin": np.where(empty, np.nan, tmin), "tmax": np.where(empty, np.nan, tmax),
        "min": np.where(empty, np.nan, low), "max": np.where(empty, np.nan, high),
        "count": count,
        "tgap": np.where(np.isinf(tgap), np.nan, tgap),
    }


def coarsen(rows: dict[str, np.ndarray], width: float) -> dict[str, np.ndarray]:
    """Aggregate rows (as :func:`aggregate` returns them: sorted by series, then bucket) into buckets of
    ``width`` seconds, a multiple of theirs: what a coarser tier holds, without reading the samples again."""
    series, t = rows["series"], rows["t"]
    if t.size == 0:
        return {name: rows[name].copy() for name in AGGREGATE_FIELDS}
    bucket = np.floor(t / width) * width
    starts = np.flatnonzero(np.concatenate(([True], (series[1:] != series[:-1]) | (bucket[1:] != bucket[:-1]))))
    group = np.repeat(np.arange(starts.size), np.diff(np.append(starts, t.size)))
    has = rows["count"] > 0
    low = np.minimum.reduceat(np.where(has, rows["min"], np.inf), starts)
    high = np.maximum.reduceat(np.where(has, rows["max"], -np.inf), starts)
    tmin = np.minimum.reduceat(np.where(has & (rows["min"] == low[group]), rows["tmin"], np.inf), starts)
    tmax = np.minimum.reduceat(np.where(has & (rows["max"] == high[group]), rows["tmax"], np.inf), starts)
    count = np.add.reduceat(rows["count"], starts)
    empty = count == 0
    tgap = np.minimum.reduceat(np.where(np.isnan(rows["tgap"]), np.inf, rows["tgap"]), starts)
    return {
        "series": series[starts], "t": bucket[starts],
        "tmin": np.where(empty, np.nan, tmin), "tmax": np.where(empty, np.nan, tmax),
        "min": np.where(empty, np.nan, low), "max": np.where(empty, np.nan, high),
        "count": count,
        "tgap": np.where(np.isinf(tgap), np.nan, tgap),
    }


def columns_from_tier(rows: list[dict[str, np.ndarray]], start: float, width: float, columns: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate rows of several series (one dict of arrays per series, any order, buckets possibly split
    in pieces) as pixel columns: see :func:`columns_from_rows`."""
    row = np.concatenate([np.full(r["t"].size, i, dtype=np.int64) for i, r in enumerate(rows)]) if rows \
        else np.empty(0, np.int64)
    merged = {name: np.concatenate([r[name] for r in rows]) for name in AGGREGATE_FIELDS} if rows else {}
    return columns_from_rows(row, merged, len(rows), start, width, columns)


def columns_from_rows(row: np.ndarray, r: dict[str, np.ndarray], n_series: int, start: float, width: float,
                      columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate rows (``row``: which series each belongs to) as pixel columns: (time, values[series, n])
    with, per column, a row at the time of the first extreme and one at the time of the last, every series'
    min and max placed in its own time order; a column where the series have only gaps is a NaN row.
    One pass with unbuffered ufuncs over every row of every series: no sort, no loop over series."""
    if n_series == 0 or row.size == 0:
        return np.empty(0), np.empty((n_series, 0))
    cells = n_series * columns
    has = r["count"] > 0
    low, t_low = _extremes(row, r["tmin"], r["min"], has, start, width, columns, cells, np.minimum)
    high, t_high = _extremes(row, r["tmax"], r["max"], has, start, width, columns, cells, np.maximum)
    gaps = np.flatnonzero(np.isfinite(r["tgap"]))  # few rows have one
    col_gap = _column(r["tgap"][gaps], start, width, columns)
    gap = np.zeros(cells, dtype=bool)
    ok = col_gap >= 0
    gap[row[gaps[ok]] * columns + col_gap[ok]] = True
    low, high, t_low, t_high, gap = (x.reshape(n_series, columns) for x in (low, high, t_low, t_high, gap))
    has_low, has_high = np.isfinite(low), np.isfinite(high)  # a bucket across a column's edge may give
    both = has_low & has_high  # a column its min and the next one its max
    lows_first = t_low <= t_high
    alone = np.where(has_low, low, np.where(has_high, high, np.nan))
    a = np.where(both, np.where(lows_first, low, high), alone)
    b = np.where(both, np.where(lows_first, high, low), alone)
    first_t = np.min(np.fmin(np.where(has_low, t_low, np.inf), np.where(has_high, t_high, np.inf)), axis=0)
    last_t = np.max(np.fmax(np.where(has_low, t_low, -np.inf), np.where(has_high, t_high, -np.inf)), axis=0)
    data_cols = np.isfinite(first_t)
    chosen = np.flatnonzero(data_cols | (gap.any(axis=0) & ~data_cols))
    if chosen.size == 0:
        return np.empty(0), np.empty((n_series, 0))
    counts = np.where(data_cols[chosen] & (first_t[chosen] != last_t[chosen]), 2, 1)
    col = np.repeat(chosen, counts)
    second = np.zeros(col.size, dtype=bool)
    second[(np.cumsum(counts) - 1)[counts == 2]] = True
    middle = start + (col + 0.5) * width
    out_t = np.where(data_cols[col], np.where(second, last_t[col], first_t[col]), middle)
    out_v = np.where(second, b[:, col], a[:, col])
    return out_t, out_v


def _extremes(row: np.ndarray, t: np.ndarray, value: np.ndarray, has: np.ndarray, start: float, width: float,
              columns: int, cells: int, pick: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """Per (series, column) cell, the extreme ``value`` (``pick``: min or max; an infinity where none) and
    the earliest time it occurred. Rows come in runs of one cell (a chunk is sorted by series and time):
    each run is folded with ``reduceat``, and only the runs' results are scattered to the cells. A row
    outside the range or without a value goes to a spare cell past the last, dropped at the end."""
    col = _column(t, start, width, columns)
    cell = row * columns + col
    cell[(col < 0) | ~has] = cells
    fill = np.inf if pick is np.minimum else -np.inf
    best, when = np.full(cells + 1, fill), np.full(cells + 1, np.inf)
    runs = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))
    with np.errstate(invalid="ignore"):  # the spare cell's NaN
        if runs.size * 2 < cell.size:
            run_best = pick.reduceat(value, runs)
            lengths = np.diff(runs, append=cell.size)
            run_when = np.minimum.reduceat(np.where(value == np.repeat(run_best, lengths), t, np.inf), runs)
            cell, value, t = cell[runs], run_best, run_when
        pick.at(best, cell, value)
        winner = value == best[cell]
        np.minimum.at(when, cell[winner], t[winner])
    best[cells], when[cells] = fill, np.inf
    return best[:cells], when[:cells]


def _column(t: np.ndarray, start: float, width: float, columns: int) -> np.ndarray:
    """The pixel column of each time, -1 outside the range (or for NaN)."""
    with np.errstate(invalid="ignore"):
        col = np.floor((t - start) / width)
        col[~((col >= 0) & (col < columns))] = -1  # NaN fails both comparisons
        return col.astype(np.int64)
