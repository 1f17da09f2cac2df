"""A service with history: restart restores the window with the outage marked, ranges older than memory come
from disk in one seamless answer (real files, real service; no server)."""

from __future__ import annotations

import numpy as np

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.metrics.store import Store
from dashboard.service import MetricsService

from ..support import ScriptedSource

LOAD = SeriesKey.of("load", host="a")
TEMP = SeriesKey.of("temp", host="a")
INFO = {LOAD: SeriesInfo("%"), TEMP: SeriesInfo("C")}
T0 = 1_800_000_000.0


def write(svc: MetricsService, t: np.ndarray, source: str = "box") -> np.ndarray:
    values = np.vstack([np.sin(t / 7.0) * 50 + 50, np.cos(t / 13.0) * 20 + 40])
    svc._write(Batch(source, (LOAD, TEMP), t, values, INFO))
    return values


def test_a_restarted_service_shows_the_last_window_with_the_outage_marked(tmp_path):
    first = MetricsService([], window=600, history=tmp_path)
    t = T0 + np.arange(3000.0)
    values = write(first, t)
    first.close_history()  # a clean stop; the kill -9 case is the server test's
    wall = T0 + 3600.0
    second = MetricsService([ScriptedSource(name="box")], window=600, history=tmp_path, wall=lambda: wall)
    try:
        restored_t, restored = second.store.window(LOAD, 10_000)
        np.testing.assert_array_equal(restored_t[:-1], t[-600:])  # the last window, then the gap
        np.testing.assert_array_equal(restored[:-1], values[0, -600:])
        gap_at = t[-1] + 1e-3  # right after the last sample: a push sent while it was down is still newer
        assert np.isnan(restored[-1]) and restored_t[-1] == gap_at, "the outage is a gap in the line"
        up_t, up = second.store.window(SeriesKey.of("up", source="box"), 10_000)
        assert up[-1] == 0 and up_t[-1] == gap_at, "and up=0: an outage band from the last sample to the next"
        assert wall > gap_at
    finally:
        second.close_history()


def test_a_range_older_than_memory_reads_disk_in_one_answer(tmp_path):
    svc = MetricsService([], window=60, capacity=500, history=tmp_path)
    reference = Store(capacity=100_000, window=60)
    try:
        t = T0 + np.arange(4000.0) * 0.5
        for chunk in np.array_split(t, 40):
            batch_values = np.vstack([np.sin(chunk / 7.0) * 50 + 50, np.cos(chunk / 13.0) * 20 + 40])
            batch_values[:, (chunk > T0 + 900) & (chunk < T0 + 905)] = np.nan  # a gap, on disk by now
            batch = Batch("box", (LOAD, TEMP), chunk, batch_values, INFO)
            svc._write(batch)
            reference.append(batch)
        assert svc.store.size(LOAD) == 500, "memory holds the newest 500 samples only"
        frame = svc.frame("load", start=T0 + 100, end=T0 + 1999.5)
        assert len(frame) == 3800 and frame["value"].isna().sum() == 9
        for start, end, columns in ((T0, T0 + 2000, 200), (T0 + 950, T0 + 1990, 37), (T0 - 50, T0 + 600, 10)):
            got_t, got_v = svc.store.query([LOAD, TEMP], start, end, columns)
            want_t, want_v = reference.query([LOAD, TEMP], start, end, columns)
            np.testing.assert_array_equal(got_t, want_t)
            np.testing.assert_array_equal(got_v, want_v)
    finally:
        svc.close_history()


def test_samples_the_store_refuses_are_not_logged(tmp_path):
    svc = MetricsService([], history=tmp_path)
    try:
        write(svc, T0 + np.array([1.0, 2.0, 3.0]))
        write(svc, T0 + np.array([2.5, 4.0, 3.5, 5.0]))  # 2.5 and 3.5 are older than what is held
        svc.history.flush()
        ((t, _),) = svc.history.raw([LOAD], 0, 2e9)
        np.testing.assert_array_equal(t, T0 + np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    finally:
        svc.close_history()


def test_the_status_table_shows_the_history_and_its_error(tmp_path):
    from dashboard.ui.status import SourceStatus, render_rows

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    svc = MetricsService([], history=blocked)
    try:
        write(svc, T0 + np.arange(3.0))  # kept in memory; the disk cannot take it
        rows = SourceStatus(service=svc).rows()
        at = rows["source"].index("history")
        assert rows["state"][at] == "error" and "NotADirectoryError" in rows["last_error"][at]
        assert rows["dropped"][at] == "6", "what only memory holds is counted"
        assert '<td class="state-error">error</td>' in render_rows(rows)
        assert svc.store.size(LOAD) == 3, "the dashboard runs from memory"
    finally:
        svc.close_history()


def test_a_plot_held_at_a_range_older_than_memory_draws_it_from_disk(tmp_path):
    from bokeh.document import Document

    from dashboard.ui import Feed, TimeSeriesPlot

    svc = MetricsService([], window=60, capacity=100, history=tmp_path)
    try:
        t = T0 + np.arange(2000.0)
        write(svc, t)
        plot = TimeSeriesPlot(service=svc, metric="load", start=T0 + 100, end=T0 + 400)
        doc = Document()
        doc.add_root(plot.get_root(doc))
        feed = Feed.for_document(doc)
        data = feed.columns["box"].cds.data
        drawn = np.asarray(data["time"]) / 1000.0
        assert drawn.size >= 300 and drawn.min() >= T0 + 100 and drawn.max() <= T0 + 400
        assert svc.store.size(LOAD) == 100, "memory holds the last 100 s only: the rest came from disk"
        np.testing.assert_array_equal(np.asarray(data["s0"]), np.sin(drawn / 7.0) * 50 + 50)
        feed.close()
    finally:
        svc.close_history()


def test_a_read_only_service_shows_a_stopped_dashboard_s_history_and_changes_no_byte(tmp_path):
    from dashboard.annotations import Annotation

    from .test_disk import folder_state

    first = MetricsService([], window=600, history=tmp_path)
    t = T0 + np.arange(3000.0)
    values = write(first, t)
    first.annotations.add(Annotation(time=T0 + 100, text="deploy"))
    first.close_history()
    before = folder_state(tmp_path)
    reader = MetricsService([], window=600, history=tmp_path, read_only=True, wall=lambda: T0 + 3600)
    try:
        restored_t, restored = reader.store.window(LOAD, 10_000)
        np.testing.assert_array_equal(restored_t, t[-600:])  # the last window, and no outage written
        np.testing.assert_array_equal(restored, values[0, -600:])
        assert reader.frame("load", start=T0, end=T0 + 2999)["value"].notna().sum() == 3000, "older from disk"
        assert [a.text for a in reader.annotations.between(0, 2e9)] == ["deploy"]
        reader.annotations.add(Annotation(time=T0 + 200, text="only in memory"))
        write(reader, T0 + 4000 + np.arange(5.0))
        assert reader.history.status()["state"] == "read-only"
    finally:
        reader.close_history()
    assert folder_state(tmp_path) == before, "a read-only service changed its folder"


async def test_a_counter_keeps_every_increment_at_four_digits(tmp_path):
    import time

    from dashboard.history import History
    from dashboard.sources.push import PushSource

    push = PushSource(name="train", interval=0.1)
    svc = MetricsService([push], window=600, history=History(tmp_path, precision=4))
    start = round(time.time()) - 120.0
    try:
        # pushed as a counter: a cumulative total whose steps are far below its fourth digit
        for i in range(60):
            push.push(tokens=12_345_678 + 3 * i, timestamp=start + i, kind="counter")
        batches = await svc._collect_once(push)
        svc._record_success(push, batches)
        frame = svc.frame("tokens", start=start - 1, end=start + 60)
        assert np.isnan(frame["value"].iloc[0]) and (frame["value"].iloc[1:] == 3.0).all(), "3 tokens a second"
        # a raw counter written as it is (a source that does not turn it into a rate): kept exactly
        key = SeriesKey.of("requests_total")
        t = start + np.arange(60.0)
        raw = 98_765_432.0 + np.arange(60.0)
        svc._write(Batch("box", (key, LOAD), t, np.vstack([raw, raw / 7]), {key: SeriesInfo(kind="counter")}))
        svc.history.flush()
        (_, stored), (_, gauge) = svc.history.raw([key, LOAD], start - 1, start + 60)
        np.testing.assert_array_equal(stored, raw)
        assert np.count_nonzero(np.diff(stored) == 1.0) == 59, "every increment survives"
        assert not np.array_equal(gauge, raw / 7), "a gauge beside it is rounded to 4 digits"
        (_, rates), = svc.history.raw([SeriesKey.of("tokens")], start - 1, start + 60)
        assert (rates[1:] == 3.0).all()
    finally:
        await push.shutdown()
        svc.close_history()
