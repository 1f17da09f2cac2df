"""ReplaySource: long and wide files, CSV and Parquet, played at speed, looped, or loaded as history."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.errors import DataError
from dashboard.metrics.model import SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.replay import ReplaySource, parse_labels

from ..support import VirtualClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "training-run.csv"


def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    path.write_text(
        "time,name,labels,value\n"
        "100,loss,run=a,1.0\n"
        "101,loss,run=a,0.5\n"
        "102,loss,run=a,oops\n"          # line 4: a value that is not a number
        "101.5,acc,\"{\"\"run\"\": \"\"a\"\"}\",0.7\n"
        "103,,run=a,1\n"                 # line 6: no name
        "104,loss,run=a,0.25\n"
        "later,loss,run=a,0.1\n")         # line 8: not a time
    return path


async def test_long_csv_plays_at_speed_and_names_bad_rows(tmp_path):
    clock = VirtualClock(start=5000.0)
    src = ReplaySource(path=str(long_csv(tmp_path)), speed=2.0, clock=clock)
    await src.initialize()
    assert src.dropped_rows == 3
    assert [p.split(": ", 1)[1] for p in src.problems] == [
        "line 4: value: 'oops' is not a number", "line 6: name: missing", "line 8: time: not a time"]
    first = await src.collect()
    assert [(b.keys[0].name, b.time.tolist()) for b in first] == [("loss", [5000.0])]
    clock.advance(1.0)  # 2 recorded seconds at speed 2
    played = {b.keys[0]: b for b in await src.collect()}
    loss, acc = SeriesKey.of("loss", run="a"), SeriesKey.of("acc", run="a")
    assert played[loss].time.tolist() == [5000.5] and played[loss].values[0].tolist() == [0.5]
    assert played[acc].time.tolist() == [5000.75]
    clock.advance(10)
    rest = await src.collect()
    assert [b.values[0].tolist() for b in rest] == [[0.25]]
    assert await src.collect() == [], "the end of the file, without loop"
    await src.shutdown()


async def test_loop_starts_over_after_a_gap(tmp_path):
    clock = VirtualClock(start=0.0)
    path = tmp_path / "wide.csv"
    pd.DataFrame({"time": [10.0, 11.0, 12.0], "cpu": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    src = ReplaySource(path=str(path), loop=True, clock=clock)
    times, values = [], []
    async with src:
        for _ in range(8):
            for b in await src.collect():
                times += b.time.tolist()
                values += b.values[0].tolist()
            clock.advance(1.0)
    assert values[:4] == [1.0, 2.0, 3.0, values[3]] and np.isnan(values[3]), "a gap at the seam"
    assert values[4:7] == [1.0, 2.0, 3.0]
    assert all(b > a for a, b in itertools.pairwise(times)), "times keep increasing across laps"


async def test_parquet_history_keeps_recorded_times(tmp_path):
    path = tmp_path / "run.parquet"
    frame = pd.read_csv(EXAMPLE)
    frame.to_parquet(path)
    src = ReplaySource(path=str(path), mode="history")
    svc = MetricsService([src], window=600_000)
    async with svc:
        from ..support import async_poll

        await async_poll(lambda: src.collections >= 1, timeout=10)
    key = SeriesKey.of("train_loss", run="a")
    t, v = svc.store.window(key, 1e12, now=2e9)
    assert t.size == 600 and t[0] == frame.time.min() and np.isfinite(v).all()
    assert src.health in ("ok", "no data")


async def test_a_file_that_cannot_be_read_says_why(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        await ReplaySource(path=str(tmp_path / "missing.csv")).initialize()
    (tmp_path / "nocol.csv").write_text("when,value\n1,2\n")
    with pytest.raises(DataError, match="no 'time' column"):
        await ReplaySource(path=str(tmp_path / "nocol.csv")).initialize()


def test_labels_forms():
    assert parse_labels("gpu=0, host=a") == {"gpu": "0", "host": "a"}
    assert parse_labels('{"gpu": 0}') == {"gpu": "0"}
    assert parse_labels("") == {}
    with pytest.raises(ValueError, match="not name=value"):
        parse_labels("gpu")
