"""History on disk at the storage tier: real files, real Parquet and Arrow, no server."""

from __future__ import annotations

import itertools
import logging
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.history import History, Retention
from dashboard.history.chunks import OPEN_PERIOD_CHUNKS
from dashboard.history.files import TIER_SCHEMA, parse_precision, read_parquet, round_significant, write_parquet
from dashboard.history.tiers import TIERS, aggregate, coarsen, columns_from_tier
from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey

A = SeriesKey.of("temp", gpu="0")
B = SeriesKey.of("temp", gpu="1")
INFO = {A: SeriesInfo("C"), B: SeriesInfo("C")}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def opened():
    """Opens histories and closes them after the test (their worker thread must not outlive it)."""
    made: list[History] = []

    def make(*args, **kwargs) -> History:
        made.append(History(*args, **kwargs))
        return made[-1]

    yield make
    for h in made:
        h.close()


def killed(h: History) -> None:
    """What SIGKILL leaves of ``h``: its files as they are; nothing converted, nothing synced."""
    os.close(h._fd)
    h._fd = -1
    h._worker.shutdown(wait=True)
    h._catch_up.shutdown(wait=True)
    h.catalog.close()
    os.close(h._lock_fd)
    h.closed = True


def batch(t0: float, n: int, step: float = 1.0, keys=(A, B)) -> Batch:
    t = t0 + np.arange(n) * step
    return Batch("gpu", keys, t, np.vstack([np.sin(t / 60) * 10 + 50 + i for i in range(len(keys))]), INFO)


def test_samples_come_back_exactly_from_the_log_and_from_chunks(tmp_path, opened):
    clock = Clock()
    h = opened(tmp_path, clock=clock)
    b = batch(clock.now, 300)
    h.write(b)
    (ta, _), (_, vb) = h.raw([A, B], clock.now - 1, clock.now + 1000)  # still in the open log
    np.testing.assert_array_equal(ta, b.time)
    np.testing.assert_array_equal(vb, b.values[1])
    h.flush()
    assert not list((tmp_path / "wal").glob("*.arrow")) and len(list((tmp_path / "raw").glob("*.parquet"))) == 1
    (ta, va), (_tb, vb) = h.raw([A, B], clock.now - 1, clock.now + 1000)
    np.testing.assert_array_equal(ta, b.time)
    np.testing.assert_array_equal(va, b.values[0])
    np.testing.assert_array_equal(vb, b.values[1])
    h.close()
    again = opened(tmp_path, clock=clock)
    assert again.keys() == [A, B] and again.info(A).unit == "C" and again.source_of(B) == "gpu"
    (ta, va), _ = again.raw([A, B], clock.now + 99.5, clock.now + 199)  # (start, end]
    np.testing.assert_array_equal(ta, b.time[100:200])
    again.close()


def test_a_killed_process_leaves_a_log_that_the_next_start_converts(tmp_path, opened):
    clock = Clock()
    h = opened(tmp_path, clock=clock)
    h.write(batch(clock.now, 100))
    killed(h)
    again = opened(tmp_path, clock=clock)
    (ta, _), (tb, _) = again.raw([A, B], 0, 2e9)
    assert ta.size == tb.size == 100
    assert not list((tmp_path / "wal").glob("0000000*.arrow"))[:-1]
    again.close()


def test_a_log_cut_mid_message_keeps_every_whole_message_and_moves_the_file_aside(tmp_path, caplog, opened):
    clock = Clock()
    h = opened(tmp_path, clock=clock)
    for i in range(5):
        h.write(batch(clock.now + i * 10, 10))
    (segment,) = (tmp_path / "wal").glob("*.arrow")
    size = segment.stat().st_size
    killed(h)
    with open(segment, "r+b") as f:
        f.truncate(size - 37)
    with caplog.at_level(logging.WARNING, "dashboard.history"):
        again = opened(tmp_path, clock=clock)
    (ta, _), _ = again.raw([A, B], 0, 2e9)
    assert ta.size == 40, "the four whole messages are kept"
    moved = list((tmp_path / "corrupt").iterdir())
    assert [p.name for p in moved] == [f"wal-{segment.name}"]
    assert segment.name in caplog.text and "cut short" in caplog.text
    again.close()


def test_a_corrupt_chunk_is_moved_aside_and_the_rest_still_answers(tmp_path, caplog, opened):
    clock = Clock()
    h = opened(tmp_path, clock=clock, segment_seconds=30)
    for _i in range(4):
        clock.now += 40
        h.write(batch(clock.now, 20))
    h.flush()
    chunks = sorted((tmp_path / "raw").glob("*.parquet"))
    assert len(chunks) == 4
    chunks[1].write_bytes(b"PAR1 not really parquet")
    with caplog.at_level(logging.WARNING, "dashboard.history"):
        (ta, _), _ = h.raw([A, B], 0, 2e9)
    assert ta.size == 60
    assert chunks[1].name in caplog.text and (tmp_path / "corrupt" / f"raw-{chunks[1].name}").exists()
    h.close()


def test_a_full_disk_is_an_error_in_status_then_writing_resumes(tmp_path, opened):
    """The failure is real: a read-only folder (root ignores modes, so the test uses a file-size limit
    elsewhere; here the segment folder is replaced by a file, which makes every open fail)."""
    clock = Clock()
    h = opened(tmp_path, clock=clock, retry_interval=5)
    h.write(batch(clock.now, 10))
    h.flush()
    wal = tmp_path / "wal"
    wal.rmdir()
    wal.write_text("in the way")
    clock.now += 100
    h.write(batch(clock.now, 10))
    status = h.status()
    assert status["state"].startswith("error: ") and "wal" in status["state"]
    assert status["samples_lost"] == 20
    clock.now += 1
    h.write(batch(clock.now, 10))
    assert h.status()["samples_lost"] == 40, "no retry before retry_interval"
    wal.unlink()
    wal.mkdir()
    clock.now += 10
    h.write(batch(clock.now, 10))
    assert h.status()["state"] == "ok"
    h.flush()
    (ta, _), _ = h.raw([A, B], 0, 2e9)
    assert ta.size == 20
    h.close()


def test_tiers_give_exact_min_and_max_per_column_with_their_times(tmp_path, opened):
    """Columns on bucket edges: each column's min and max are exactly the stored ones. Every drawn point is
    a stored sample at its own time, whatever the columns (for one series; series drawn together share
their rows' times, as in the live decimation) (a bucket across a column's edge gives its
    extremes to the column where they happened)."""
    clock = Clock(1_800_000_000.0)
    h = opened(tmp_path, clock=clock, segment_seconds=1e9)
    rng = np.random.default_rng(1)
    t = clock.now + np.arange(6 * 3600.0)
    v = rng.normal(size=(2, t.size))
    v[0, 5000:5100] = np.nan  # a gap
    h.write(Batch("gpu", (A, B), t, v, INFO))
    h.flush()
    start, columns = clock.now - 60, 100
    end = start + columns * 120.0  # 2 minutes a column: the minute tier
    assert h.tier_for(120.0, start) == "minute"
    assert h.tier_for(300.0, start) == "5min"
    rows_t, rows_v = h.columns([A, B], start, end, columns)
    for col in range(columns):
        lo, hi = start + col * 120.0, start + (col + 1) * 120.0
        drawn = (rows_t >= lo) & (rows_t < hi)
        for row in range(2):
            values = v[row, (t >= lo) & (t < hi)]
            if np.isfinite(values).any():
                assert np.nanmin(rows_v[row, drawn]) == np.nanmin(values)
                assert np.nanmax(rows_v[row, drawn]) == np.nanmax(values)
    for row, key in enumerate((A, B)):
        skewed_t, skewed_v = h.columns([key], clock.now - 7, clock.now + 6 * 3600 - 7, 77)
        shown = np.isfinite(skewed_v[0])
        at = np.searchsorted(t, skewed_t[shown])
        np.testing.assert_array_equal(t[at], skewed_t[shown])
        np.testing.assert_array_equal(v[row, at], skewed_v[0, shown])
        assert np.nanmin(skewed_v[0]) == np.nanmin(v[row]) and np.nanmax(skewed_v[0]) == np.nanmax(v[row])


def test_each_tier_nests_in_the_next_and_is_at_most_five_times_coarser():
    """A coarser tier is built from the one below (so its buckets must be whole numbers of the finer
    ones), and a query reads at most one tier's ratio of rows per series and pixel column."""
    widths = list(TIERS.values())[1:]
    for finer, coarser in itertools.pairwise(widths):
        assert coarser % finer == 0 and coarser / finer <= 5, (finer, coarser)
    assert {"minute", "hour"} <= set(TIERS)


def test_aggregates_merge_when_a_bucket_arrives_in_pieces():
    t = np.arange(120.0)
    v = np.arange(120.0)[::-1]
    s = np.zeros(120, np.int32)
    whole = aggregate(s, t, v, 60.0)
    a, b = aggregate(s[:30], t[:30], v[:30], 60.0), aggregate(s[30:], t[30:], v[30:], 60.0)
    pieces = {k: np.concatenate((a[k], b[k])) for k in a}
    one = columns_from_tier([whole], -0.5, 120.0, 1)
    two = columns_from_tier([pieces], -0.5, 120.0, 1)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(one[1][0], [119.0, 0.0])  # max first (at t=0), then min (at t=119)
    np.testing.assert_array_equal(one[0], [0.0, 119.0])


def test_retention_by_age_and_by_size(tmp_path, opened):
    clock = Clock()
    h = opened(tmp_path, Retention.of(3600, max_bytes={"raw": 1e12}), clock=clock, segment_seconds=60)
    for _ in range(5):
        h.write(batch(clock.now, 60))
        clock.now += 1800
    h.flush()
    raw = sorted((tmp_path / "raw").glob("*.parquet"))
    assert len(raw) == 2, [p.name for p in raw]  # written more than an hour ago: gone
    assert len(list((tmp_path / "minute").glob("*.parquet"))) == 5, "the minute tier keeps 90 days"
    size = sum(p.stat().st_size for p in raw)
    h.retention = Retention.of(3600, max_bytes={"raw": size - 1})
    h._retire()
    assert len(list((tmp_path / "raw").glob("*.parquet"))) == 1
    h.close()


def test_retention_names_an_unknown_tier():
    with pytest.raises(ValueError, match="unknown tier 'daily'"):
        Retention.of({"daily": 10})


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(1, 15))
def test_rounding_keeps_the_significant_digits_asked_for(value, digits):
    rounded = round_significant(np.array([value]), digits)[0]
    if not np.isfinite(value):
        assert rounded == value or (np.isnan(rounded) and np.isnan(value))
    elif abs(value) >= np.finfo(float).tiny:  # a normal number: relative error under half the last digit
        assert abs(rounded - value) <= 0.5 * 10.0 ** (1 - digits) * abs(value)
        assert round_significant(np.array([rounded]), digits)[0] == rounded


@pytest.mark.parametrize("text", ["0", "16", "four", "-1"])
def test_a_bad_precision_is_named(text):
    with pytest.raises(ValueError, match=f"significant digits from 1 to 15, or exact; got '{text}'"):
        parse_precision(text)


def test_four_digits_store_noise_in_under_two_bytes_a_sample(tmp_path, opened):
    """What precision buys: a noisy series (every bit of its mantissa random) costs about 7 bytes a sample
    kept whole, under 2 at 4 significant digits, once its finished hour is merged (a log segment's own
    chunk is written at zstd's level 1, the merge at 9); the values read back are the rounded ones."""
    sizes = {}
    for precision in (None, 4):
        folder = tmp_path / str(precision)
        h = opened(folder, precision=precision, segment_seconds=1e9, segment_bytes=1 << 40)
        t = 1_800_000_000.0 + np.arange(200_000.0) / 1000
        v = 50 + 40 * np.sin(t) + np.random.default_rng(0).uniform(0, 5, t.size)
        for half in np.array_split(np.arange(t.size), 2):  # two segments in one hour
            h.write(Batch("synthetic", (A,), t[half], v[half].reshape(1, -1), INFO))
            h.flush()
        h.write(Batch("synthetic", (A,), t[-1:] + 3600, v[-1:].reshape(1, -1), INFO))
        h.flush()  # the next hour began: the first one's chunks are merged into one
        ((_, back),) = h.raw([A], -np.inf, t[-1])
        expected = v if precision is None else round_significant(v, 4)
        np.testing.assert_array_equal(back, expected)
        hour = [c for c in h._chunks["raw"] if c.t1 <= t[-1]]
        assert len(hour) == 1, hour
        sizes[precision] = hour[0].size / t.size
        h.close()
    assert sizes[None] > 6 and sizes[4] < 2, sizes


def test_raw_chunks_compress_a_regular_series_below_four_bytes_per_sample(tmp_path, opened):
    clock = Clock()
    h = opened(tmp_path, clock=clock, segment_seconds=1e9, segment_bytes=1 << 40)
    t = clock.now + np.arange(100_000.0)
    h.write(Batch("sys", (A,), t, np.round(np.abs(np.sin(t / 100)) * 100, 1).reshape(1, -1), INFO))
    h.flush()
    (chunk,) = (tmp_path / "raw").glob("*.parquet")
    assert pq.ParquetFile(chunk).metadata.num_rows == 100_000
    assert os.path.getsize(chunk) / 100_000 < 4
    h.close()


def test_one_process_per_data_folder(tmp_path, opened):
    from dashboard.history import HistoryInUse

    opened(tmp_path)
    with pytest.raises(HistoryInUse, match=f"{tmp_path} is in use by another dashboard \\(pid {os.getpid()}\\)"):
        History(tmp_path)


@pytest.mark.parametrize(("retention", "max_disk", "raw", "raw_bytes"), [
    ("7d", "1GiB", 7 * 86400, 0.55 * 1024**3),
    ("raw=2h,minute=30d,hour=1y", "raw=10MB", 7200, 10e6),
    (None, None, 7 * 86400, float("inf")),
])
def test_retention_from_the_command_line(retention, max_disk, raw, raw_bytes):
    parsed = Retention.parse(retention, max_disk)
    assert parsed.seconds["raw"] == raw and parsed.bytes["raw"] == pytest.approx(raw_bytes)


@pytest.mark.parametrize(("retention", "max_disk", "message"), [
    ("soon", None, "expected seconds or a duration such as 5m, 1h or 7d, got 'soon'"),
    (None, "lots", "expected a size such as 500MB or 1GiB, got 'lots'"),
    ("raw=0s", None, "the raw tier must keep more than 0"),
    ("daily=1d", None, "unknown tier 'daily'"),
])
def test_bad_retention_is_named(retention, max_disk, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Retention.parse(retention, max_disk)


def test_small_chunks_of_a_finished_hour_are_merged_into_one(tmp_path, opened):
    """A slow source: one chunk a minute per tier, merged once its period is over, and 16 at a time while
    it lasts; the samples are the same."""
    clock = Clock(1_800_000_000.0)
    h = opened(tmp_path, clock=clock, segment_seconds=60)
    written = []
    for _minute in range(150):
        b = batch(clock.now, 6, step=10.0)
        written.append(b)
        h.write(b)
        clock.now += 60
    h.flush()
    h._compact()  # the files merged away in the last round are deleted in the next
    raw = sorted((tmp_path / "raw").glob("*.parquet"))
    finished = [p for p in raw if int(p.name.split("_")[0]) < (1_800_000_000 + 7200) * 1e6]
    assert len(finished) == 2, f"{len(finished)} raw chunks for the two finished hours"
    assert 2 < len(raw) < 2 + OPEN_PERIOD_CHUNKS, "the current hour's minutes are merged 16 at a time"
    hours = list((tmp_path / "hour").glob("*.parquet"))
    assert len(hours) < OPEN_PERIOD_CHUNKS, "the hour tier's month is current: merged, not 150 files"
    (ta, va), (tb, _) = h.raw([A, B], 0, 2e9)
    np.testing.assert_array_equal(ta, np.concatenate([b.time for b in written]))
    np.testing.assert_array_equal(va, np.concatenate([b.values[0] for b in written]))
    assert tb.size == 900
    _rows_t, rows_v = h.columns([A], written[0].time[0] - 1, clock.now, 30)
    assert np.nanmax(rows_v) == max(b.values[0].max() for b in written)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 7200, allow_nan=False),
                          st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")))),
                min_size=1, max_size=200))
def test_a_coarser_tier_from_the_finer_one_equals_one_from_the_samples(samples):
    series = np.array([s for s, _, _ in samples], dtype=np.int32)
    t = np.array([t for _, t, _ in samples])
    v = np.array([v for _, _, v in samples])
    widths = list(TIERS.values())[1:]  # each tier from the one below, as the history builds them
    fine = aggregate(series, t, v, widths[0])
    for width in widths[1:]:
        direct, derived = aggregate(series, t, v, width), coarsen(fine, width)
        for name in direct:
            np.testing.assert_array_equal(direct[name], derived[name], err_msg=f"{name} at {width:g} s")
        fine = derived



def test_a_write_after_close_is_counted_lost_not_raised(tmp_path, caplog):
    clock = Clock()
    h = History(tmp_path / "h", clock=clock)
    h.write(batch(clock.now, 10))
    h.close()
    h.write(batch(clock.now + 1, 10))  # a collection that ran on while its server stopped
    assert h.samples_lost == 20
    assert "is closed" in caplog.text


def folder_state(folder) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``folder``: its bytes, modification time and inode change time (ns)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        out[str(path.relative_to(folder))] = (path.read_bytes() if path.is_file() else b"", st.st_mtime_ns,
                                               st.st_ctime_ns)
    return out


def test_a_read_only_open_reads_chunks_and_the_log_and_changes_no_byte(tmp_path, opened):
    import shutil

    from dashboard.history.disk import HistoryInUse

    clock = Clock()
    original = tmp_path / "original"
    h = opened(original, clock=clock, segment_seconds=60)
    first, second = batch(clock.now, 300), batch(clock.now + 300, 120)
    h.write(first)
    h.flush()  # chunks in every tier
    clock.now += 400
    h.write(second)  # still in the open log segment
    (original / "corrupt" / "raw-junk.parquet").write_bytes(b"not parquet")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)  # a folder copied for analysis while its dashboard runs
    (copy / "raw" / "1-2-99.parquet").write_bytes(b"unreadable")  # a chunk that cannot be read
    with pytest.raises(HistoryInUse, match="being written by a dashboard"):
        History(original, read_only=True)
    before = folder_state(copy)
    reader = opened(copy, read_only=True, clock=clock)
    (ta, va), (tb, _) = reader.raw([A, B], 0, 2e9)
    np.testing.assert_array_equal(ta, np.concatenate([first.time, second.time]))
    np.testing.assert_array_equal(va, np.concatenate([first.values[0], second.values[0]]))
    assert tb.size == 420
    shown = reader.columns([A], first.time[0] - 1, second.time[-1], 12)  # from a coarser tier and the log
    assert shown is not None and np.nanmax(shown[1]) == pytest.approx(va.max())
    reader.write(batch(clock.now + 500, 10))  # offered, kept in memory only, counted
    assert reader.status()["state"] == "read-only" and reader.status()["samples_unwritten"] == 20
    with pytest.raises(HistoryInUse):
        History(copy)  # no dashboard starts writing while it is read
    reader.close()
    assert folder_state(copy) == before, "reading changed the folder"
    with pytest.raises(FileNotFoundError, match="not a data folder"):
        History(tmp_path / "nothing here", read_only=True)
    assert not (tmp_path / "nothing here").exists()


def test_a_starved_worker_is_caught_up_at_the_normal_priority(tmp_path, opened):
    import threading

    from ..support import poll

    clock = Clock()
    h = opened(tmp_path, clock=clock, segment_seconds=10, max_lag=0.2)
    held = threading.Event()
    h._worker.submit(held.wait, 60)  # the nice-19 worker gets no CPU (a busy machine): it takes nothing
    try:
        for _ in range(4):  # four segments closed, one every 10 s of the history's clock
            h.write(batch(clock.now, 10))
            clock.now += 11
        assert h.status()["backlog_segments"] >= 3
        poll(lambda: h.backlog()[1] > 0.2, timeout=10, what="the oldest segment to wait past max_lag")
        h.write(batch(clock.now, 10))
        clock.now += 11
        h.write(batch(clock.now, 10))
        poll(lambda: h.status()["backlog_segments"] == 0, timeout=30, what="the backlog converted")
        assert h.caught_up >= 4 and not held.is_set(), "converted while the worker was still held"
        assert len(list((tmp_path / "raw").glob("*.parquet"))) >= 4
        (ta, _), _ = h.raw([A, B], 0, 2e9)
        assert ta.size == 60, "nothing lost or doubled"
    finally:
        held.set()


def test_a_tier_holds_one_row_per_series_and_bucket_after_hours_of_one_minute_segments(tmp_path, opened):
    clock = Clock(1_800_000_000.0 + 17.0)  # buckets and segments do not line up
    h = opened(tmp_path, clock=clock, segment_seconds=60)
    keys = tuple(SeriesKey.of("load", host=str(i)) for i in range(4))
    info = dict.fromkeys(keys, SeriesInfo())
    start = clock.now
    rng = np.random.default_rng(5)
    every = []
    for _ in range(6 * 60):  # six hours, a batch of 60 one-second samples a minute: a segment each
        t = clock.now + np.arange(60.0)
        values = rng.normal(50, 10, (4, 60))
        values[:, rng.random(60) < 0.01] = np.nan  # a few gaps
        h.write(Batch("box", keys, t, values, info))
        every.append(values)
        clock.now += 60.0
    h.close()
    samples = np.hstack(every)
    times = start + np.arange(samples.shape[1], dtype=float)
    for tier, width in list(TIERS.items())[1:]:
        table = pa.concat_tables([read_parquet(p) for p in sorted((tmp_path / tier).glob("*.parquet"))])
        pairs = list(zip(table.column("series").to_pylist(), table.column("t").to_pylist(), strict=True))
        assert len(pairs) == len(set(pairs)), f"{tier}: a bucket in more than one row"
        buckets = np.unique(np.floor(times / width))
        assert table.num_rows == 4 * buckets.size, tier
        series = table.column("series").to_numpy()
        first = table.filter(pa.compute.equal(table.column("series"), int(series[0])))
        bucket = np.floor(times / width) * width
        for row in first.to_pylist()[:: max(1, first.num_rows // 7)]:
            inside = bucket == row["t"]
            values = samples[0][inside]
            assert row["count"] == np.count_nonzero(~np.isnan(values))
            if row["count"]:
                assert row["min"] == np.nanmin(values) and row["max"] == np.nanmax(values)
                assert row["tmin"] == times[inside][np.nanargmin(values)], "the min's time, to the last bit"
                assert row["tmax"] == times[inside][np.nanargmax(values)]


def test_every_tier_answers_each_column_s_true_min_and_max(tmp_path):
    """Series that start and stop at different times, with gaps, written a minute at a time; any range and
    column count read from any tier gives, per series and column of the answer's grid, the min and max of
    the samples there, and NaN only where the series has none."""
    from hypothesis import assume

    t0 = 1_800_000_000.0 + 7.0
    keys = (A, B, SeriesKey.of("temp", gpu="2"))
    spans = [(0, 3 * 3600), (40 * 60, 130 * 60), (60 * 60, 3 * 3600)]
    rng = np.random.default_rng(11)
    samples = []
    for first, last in spans:
        t = t0 + np.arange(first, last, dtype=float)
        v = np.cumsum(rng.normal(0, 1, t.size)) + 50
        v[rng.random(t.size) < 0.002] = np.nan
        v[(t > t0 + 100 * 60) & (t < t0 + 103 * 60)] = np.nan  # an outage of every series
        samples.append((t, v))
    writer = History(tmp_path, clock=Clock(t0), segment_seconds=1e9)
    for minute in range(3 * 60):
        lo, hi = t0 + minute * 60, t0 + (minute + 1) * 60
        for key, (t, v) in zip(keys, samples, strict=True):
            inside = (t >= lo) & (t < hi)
            if inside.any():
                writer.write(Batch("gpu", (key,), t[inside], v[inside].reshape(1, -1), INFO))
        writer.flush()  # a segment a minute
    writer.close()
    h = History(tmp_path, read_only=True)

    @settings(max_examples=60, deadline=None)
    @given(st.floats(-600, 3 * 3600), st.floats(300, 4 * 3600), st.integers(5, 600))
    def check(offset, span, columns):
        start, end = t0 + offset, t0 + offset + span
        tier, first, width, n = h.grid(start, end, columns)
        assume(tier != "raw")
        bucket = TIERS[tier]
        assert first <= start < first + width and first % bucket == 0 and width % bucket == 0
        answer = h.columns(list(keys), start, end, columns)
        assert answer is not None
        times, values = answer
        column = np.floor((times - first) / width).astype(int)
        assert ((column >= 0) & (column < n)).all(), "every point in its column"
        for row, (t, v) in enumerate(samples):
            read = (t >= first) & (np.floor(t / bucket) * bucket <= end)  # the buckets the range meets
            where = np.floor((t[read] - first) / width).astype(int)
            for k in np.unique(np.concatenate([where, column])):
                real = v[read][where == k]
                real = real[~np.isnan(real)]
                got = values[row][column == k]
                got = got[~np.isnan(got)]
                if real.size == 0:
                    assert got.size == 0, (tier, k, "a value where the series has no sample")
                else:
                    assert got.size and got.min() == real.min() and got.max() == real.max(), (tier, k, row)

    try:
        check()
    finally:
        h.close()


def test_an_aggregate_s_times_are_stored_as_offsets_and_read_back_exactly_old_chunks_as_they_are(tmp_path):
    """Aggregates keep their min's, max's and first gap's times as offsets from the bucket's start (they
    compress to almost nothing); reading adds the start back, to the last bit. A chunk written before
    (absolute times, and a ``sum`` column) reads as it did."""
    rng = np.random.default_rng(8)
    t = np.floor((1_800_000_000 + rng.uniform(0, 86400, 500)) / 10) * 10
    rows = {"series": np.arange(500, dtype=np.int32) % 7, "t": t, "tmin": t + rng.uniform(0, 10, 500),
            "tmax": t + rng.uniform(0, 10, 500), "min": rng.normal(size=500), "max": rng.normal(size=500),
            "count": np.full(500, 3, np.int64), "tgap": np.where(rng.random(500) < 0.5, np.nan, t + 9.999)}
    table = pa.table(rows, schema=TIER_SCHEMA)
    write_parquet(table, tmp_path / "new.parquet", "10s")
    stored = pq.ParquetFile(tmp_path / "new.parquet").schema_arrow.names
    assert "tmin" not in stored and "tmin_after_t" in stored
    _same(read_parquet(tmp_path / "new.parquet"), table)  # every time back to the last bit, NaN kept
    _same(read_parquet(tmp_path / "new.parquet", ["tmax", "series"]), table.select(["tmax", "series"]))
    old = table.append_column("sum", pa.array(rng.normal(size=500)))
    pq.write_table(old, tmp_path / "old.parquet")
    _same(read_parquet(tmp_path / "old.parquet", TIER_SCHEMA.names), table)


def _same(got: pa.Table, expected: pa.Table) -> None:
    assert got.schema == expected.schema
    for name in expected.column_names:
        np.testing.assert_array_equal(got.column(name).to_numpy(), expected.column(name).to_numpy(), err_msg=name)


def test_a_frame_at_pixel_columns_says_where_they_lie_and_holds_each_column_s_extremes(tmp_path, opened):
    """``svc.frame(..., columns=N)`` over a range on disk only: what a plot that wide draws, from the tier
    that fits, its grid in ``frame.attrs`` (snapped to the tier's buckets); each column's rows are the min
    and the max of the series' samples there."""
    from dashboard.service import MetricsService

    clock = Clock()
    h = opened(tmp_path, clock=clock)
    start = clock.now
    rng = np.random.default_rng(3)
    for _ in range(6 * 60):  # six hours of two series, a minute at a time
        t = clock.now + np.arange(60.0)
        h.write(Batch("box", (A, B), t, rng.normal(50, 10, (2, 60)), {A: SeriesInfo(), B: SeriesInfo()}))
        clock.now += 60.0
    h.close()
    svc = MetricsService([], capacity=100, history=History(tmp_path, read_only=True))
    try:
        frame = svc.frame("temp", start=start + 100, end=start + 5 * 3600, columns=300)
        samples = svc.frame("temp", start=start, end=start + 6 * 3600)
    finally:
        svc.close_history()
    grid = frame.attrs["grid"]
    assert grid == {"source": "30s", "start": start + 90, "width": 60.0, "columns": 299}, "two buckets a column"
    for labels, rows in frame.groupby("labels"):
        mine = samples[samples["labels"] == labels]
        t = mine["time"].map(pd.Timestamp.timestamp).to_numpy()
        column = np.floor((t - grid["start"]) / grid["width"])
        for index, drawn in rows.groupby(np.floor((rows["time"].map(pd.Timestamp.timestamp) - grid["start"])
                                                  / grid["width"])):
            inside = mine["value"].to_numpy()[column == index]
            assert drawn["value"].min() == inside.min() and drawn["value"].max() == inside.max()
