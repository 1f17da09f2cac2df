"""Snapshots as files: the default dashboard over an hour of this machine's series fits in 5 MB, each
plot holds the exact min and max of every pixel column, and the range, outages and annotations are in."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time

import numpy as np
import pytest

from dashboard.metrics.model import Batch, SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.system import SystemSource
from dashboard.ui import MetricsDashboard, TimeSeriesPlot
from dashboard.ui.snapshot import COLUMNS, _figure, _StaticViewer, parse_range, plot_data, snapshot_html
from dashboard.units import format_value

HOUR = 3600


def an_hour_of_this_machine() -> tuple[MetricsService, float]:
    """A service holding an hour of the system source's own series at 1 Hz (the real key set of this
    machine, values drawn at random), and the hour's end."""
    source = SystemSource()

    async def read() -> Batch:
        async with source:  # opening takes the first reading of its counters
            return await source.collect()

    first = asyncio.run(read())
    assert len(first.keys) >= 10, "this machine's series"
    svc = MetricsService([source], window=HOUR, capacity=2 * HOUR)
    end = time.time()
    t = np.arange(end - HOUR + 1, end + 1, 1.0)
    rng = np.random.default_rng(7)
    values = rng.random((len(first.keys), t.size)) * 100
    svc._write(Batch("system", first.keys, t, values, first.info))
    return svc, end


def documents(text: str) -> list[dict]:
    """The Bokeh documents embedded in a snapshot."""
    found = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', text, re.S)
    return [json.loads(html.unescape(f)) for f in found]  # Bokeh escapes the JSON as HTML text


def _models(node: object) -> list[dict]:
    """Every model object in a document's JSON."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "name" in node:
            found.append(node)
        for value in node.values():
            found += _models(value)
    elif isinstance(node, list):
        for value in node:
            found += _models(value)
    return found


def test_the_default_dashboard_over_an_hour_is_under_5_mb_and_needs_no_network(tmp_path):
    svc, end = an_hour_of_this_machine()
    dash = MetricsDashboard(service=svc)
    path = dash.save(tmp_path / "run.html", window=HOUR, end=end)
    size = path.stat().st_size
    assert size < 5 * 1024 * 1024, f"{size:,} bytes"
    text = path.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text), "nothing is loaded from elsewhere"
    assert "Bokeh" in text and len(documents(text)) == 1


def test_each_plot_holds_the_exact_min_and_max_of_each_pixel_column():
    svc, end = an_hour_of_this_machine()
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    start = end - HOUR
    fig = _figure(plot, _StaticViewer(start, end), start, end, plot_data(plot, start, end, COLUMNS))
    (data,) = {id(r.data_source): r.data_source.data for r in fig.renderers if "s0" in r.data_source.data}.values()
    (key,) = svc.keys("cpu_percent")
    t, v = svc.store.between([key], start, end)
    column = np.floor((t - start) / (HOUR / COLUMNS)).astype(int)
    # each row is drawn at its sample's own time: its column is that sample's (milliseconds and back may move
    # a time on a column's edge by a rounding step, across the edge)
    drawn = np.isfinite(data["time"])
    at = np.clip(np.searchsorted(t, data["time"][drawn] / 1000.0 - 1e-6), 0, t.size - 1)
    drawn_column = np.full(len(data["time"]), -1)
    drawn_column[drawn] = column[at]
    for c in np.unique(column)[::37]:
        want = v[0][column == c]
        got = data["s0"][drawn_column == c]
        assert got.min() == np.float32(want.min()) and got.max() == np.float32(want.max()), f"column {c}"
    assert len(data["time"]) <= 2 * (COLUMNS + 1), "two rows a column at most (the end is included)"


def test_range_time_zone_outages_and_annotations_are_written(tmp_path):
    svc, end = an_hour_of_this_machine()
    svc._write_outage("system", end - 1800.5)  # the source was down for a moment, half an hour ago
    svc._write(Batch("system", (svc.sources["system"].up_key,), np.array([end - 1790.0]), np.array([[1.0]])))
    svc.annotate("<img src=x onerror=alert(1)> deploy", time=end - 600, labels={"env": "</script>"})
    svc.annotate("long ago", time=end - 5 * HOUR)
    dash = MetricsDashboard(service=svc, timezone="Asia/Tokyo", title="Run <b>7</b>")
    text = snapshot_html(dash, end - HOUR, end)
    assert "Run &lt;b&gt;7&lt;/b&gt;" in text and "(Asia/Tokyo)" in text and "JST" in text
    cpu = svc.store.between([SeriesKey.of("cpu_percent")], end - 1, end)[1][0][-1]
    (doc,) = documents(text)
    divs = [m["attributes"].get("text", "") for m in _models(doc) if m.get("name") == "Div"]
    assert any(f'font-weight:bold">{format_value(cpu, "%")}</div>' in d for d in divs), "the CPU card at the end"
    assert "&lt;img src=x onerror=alert(1)&gt; deploy" in text, "the list shows the text as text"
    assert "long ago" not in text, "only the range's annotations"
    assert "<img src=x" not in text and "</script>\"" not in text
    (doc,) = documents(text)
    assert "onerror=alert(1)" in json.dumps(doc), "the hover's text is data, which Bokeh escapes"
    up = TimeSeriesPlot(service=svc, metric="up")
    fig = _figure(up, _StaticViewer(end - HOUR, end), end - HOUR, end, plot_data(up, end - HOUR, end, COLUMNS))
    sources = {id(r.data_source): r.data_source.data for r in fig.renderers}.values()
    (outage,) = [d for d in sources if set(d) == {"x0", "x1"}]
    (notes,) = [d for d in sources if "labels" in d]
    assert len(outage["x0"]) == 1 and outage["x1"][0] - outage["x0"][0] == pytest.approx(10_500, abs=1)
    assert notes["text"] == ["<img src=x onerror=alert(1)> deploy"] and notes["labels"] == ["env=</script>"]


def test_ranges_are_checked_and_named():
    assert parse_range({"window": "1h"}, 10_000.0) == (6400.0, 10_000.0)
    assert parse_range({}, 10_000.0) == (6400.0, 10_000.0), "an hour by default"
    assert parse_range({"from": "100", "to": "1970-01-01T00:05:00Z"}, 0.0) == (100.0, 300.0)
    with pytest.raises(ValueError, match="window: expected seconds or a duration"):
        parse_range({"window": "a while"}, 0.0)
    with pytest.raises(ValueError, match="from: expected epoch seconds"):
        parse_range({"from": "soon"}, 0.0)
    with pytest.raises(ValueError, match="from/to: expected from < to"):
        parse_range({"from": "200", "to": "100"}, 0.0)


def test_a_service_saves_its_default_dashboard(tmp_path):
    svc, end = an_hour_of_this_machine()
    path = svc.snapshot(tmp_path / "svc.html", start=end - 600, end=end)
    text = path.read_text()
    assert "dashboard: this machine" in text and "CPU per core" in text
    (doc,) = documents(text)
    assert len(json.dumps(doc)) > 10_000, "the plots' data"
