"""``dashboard serve SPEC`` as people run it, in Chromium, with pages coming and going.

A page streams while twenty more open and close, one every two seconds (or as fast as they come), and
snapshots are asked for between them: the 10 Hz synthetic source and the system source get no gap written
(a page is never the reason a collection runs late), every snapshot answers 200, the downloaded samples
hold no NaN, and the server's log holds no traceback (a page closing is normal, not an error). A page
and an embed load only the BokehJS bundles they use, and a page sends the server no sizes of its figures
and no report of the browser (messages it would only spend time on).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..support import http_ok, poll, stop_process
from .conftest import PLOT_STATE_JS, free_port, pumping

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]

SPEC = ROOT / "examples" / "pages.yaml"  # (benchmarks/page_open.py serves it too)

OPENS = 20
STREAMING = 1  # (the benchmark streams 3: each costs the browser, on two cores, seconds per page opened)
SNAPSHOTS = 10  # (benchmarks/page_open.py asks for 100: a snapshot of this page takes the server about 1 s)


@pytest.fixture
def served(tmp_path):
    """``dashboard serve`` of SPEC in a process of its own, its log in a file; (url, path of the log)."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "serve", str(SPEC), "--port", str(port),
                             "--no-history"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/"
    try:
        poll(lambda: http_ok(f"{url}metrics"), timeout=60, what="dashboard serve to answer")
        yield url, log_path
    finally:
        stop_process(proc)
        log.close()


def gaps(url: str) -> dict[str, float]:
    """``dashboard_source_gaps_total`` by source, from the server's /metrics."""
    text = httpx.get(f"{url}metrics", timeout=30).text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "dashboard_source_gaps")
    return {s.labels["source"]: s.value for s in family.samples if s.name.endswith("_total")}


def with_data(page, title: str = "Waves") -> bool:
    state = page.evaluate(PLOT_STATE_JS)
    return bool((state.get(title) or {}).get("rows"))


def test_pages_opening_and_snapshots_write_no_gap_and_no_traceback(browser, served):
    url, log_path = served
    streaming, errors = [], []
    for _ in range(STREAMING):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        streaming.append(page)
    for page in streaming:
        poll(lambda page=page: with_data(page), timeout=90, what="a streaming page's plot with data")
    started = time.time()
    assert gaps(url) == {"synthetic": 0, "system": 0, "ingest": 0}

    answers: list[int] = []
    with httpx.Client(timeout=120) as client:
        for i in range(OPENS):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=90_000)
            page.close()  # its websocket closes mid-stream
            # snapshots until the next page is due (two seconds after this one), and at least our share
            due = started + 2.0 * (i + 1)
            while time.time() < due or len(answers) < SNAPSHOTS * (i + 1) // OPENS:
                answers.append(client.get(f"{url}snapshot", params={"window": "60"}).status_code)
        ended = time.time()
        # the drawn columns first: a sample stamped before ``ended`` may still be on its way into the store,
        # and the samples read after them then hold every one they do
        drawn = client.get(f"{url}download", params={"metric": "synthetic", "format": "parquet", "columns": "20",
                                                      "from": str(started), "to": str(ended)})
        csv = client.get(f"{url}download", params={"metric": "synthetic", "format": "csv",
                                                    "from": str(started), "to": str(ended)})
    for page in streaming:
        assert with_data(page)
        page.close()
    assert errors == []

    assert len(answers) >= SNAPSHOTS and set(answers) == {200}, f"snapshot answers: {sorted(set(answers))}"
    assert gaps(url) == {"synthetic": 0, "system": 0, "ingest": 0}, "a page open wrote a gap"
    frame = pd.read_csv(io.StringIO(csv.text))
    assert csv.status_code == 200 and len(frame) > 10 * (time.time() - started) * 0.5
    assert not frame["value"].isna().any(), "NaN in the downloaded samples"
    grid = dict(part.split("=") for part in drawn.headers["X-Dashboard-Grid"].split("; "))  # what a plot 20
    assert grid["source"] == "memory" and grid["columns"] == "20"  # pixels wide draws: each column's min and max
    columns = pd.read_parquet(io.BytesIO(drawn.content))
    assert columns.attrs["grid"]["columns"] == 20 and 0 < len(columns) <= 2 * 20 * frame["labels"].nunique()
    assert set(columns["value"]) <= set(frame["value"]), "extremes of the samples, not averages"
    log = log_path.read_text()
    assert "Traceback" not in log and "exception was never retrieved" not in log, log[-3000:]
    assert "Failed sending message" not in log, "a page's close is normal, not a warning"


def test_a_page_and_an_embed_load_only_the_bokehjs_bundles_they_use_and_echo_no_sizes(browser, served):
    url, _log = served
    scripts = re.findall(r'src="[^"]*?/?static/js/([\w.-]+?)\.min\.js', httpx.get(url, timeout=60).text)
    assert scripts == ["bokeh", "bokeh-widgets", "bokeh-tables"], scripts  # no WebGL, no MathJax (2 MB)
    autoload = httpx.get(f"{url}embed/autoload.js", params={"bokeh-autoload-element": "x", "panel": "Waves"},
                         headers={"Referer": url}, timeout=60).text
    assert "bokeh-tables.min.js" in autoload and "mathjax" not in autoload and "bokeh-gl" not in autoload

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, fetched, sent = [], [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url))
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    page.goto(url)
    poll(lambda: with_data(page), timeout=90, what="the page's plot with data")

    # laid out and drawn (it acknowledges a drawn flush): what the page tells the server by then is all
    poll(pumping(page, lambda: any('"painted"' in m for m in sent)), timeout=60,
         what="the page's first acknowledgement of a drawn flush")
    page.close()
    assert errors == []  # (Panel's bundle needs Bokeh's tables: without them the page would not build)
    assert not [u for u in fetched if "mathjax" in u or "bokeh-gl" in u], fetched
    # no echo of what only the browser needs: a figure's sizes, Panel's report of the browser
    assert not [m for m in sent if "inner_width" in m or "dark_mode" in m or "device_pixel_ratio" in m], sent
