"""The served dashboard in Debian's Chromium: live data, status, no errors, no leaked feeds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from dashboard.config import config
from dashboard.service import MetricsService
from dashboard.ui.feed import Feed

from ..support import http_ok, poll
from .conftest import PLOT_STATE_JS, free_port, pumping

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
EXPECTED_PLOTS = {"CPU (all cores)", "CPU per core", "Memory and swap", "Network I/O", "Load average",
                  "Sources up (1) or down (0)"}


def test_dashboard_streams_live_data_into_every_plot(served, page):
    page.goto(served.url)
    first = poll(lambda: _with_data(page.evaluate(PLOT_STATE_JS)), timeout=30, what="plots with data")
    assert set(first) >= EXPECTED_PLOTS, f"plots with data: {sorted(first)}"
    start = {k: v["last"] for k, v in first.items()}
    later = poll(lambda: _all_advanced(page.evaluate(PLOT_STATE_JS), start, EXPECTED_PLOTS),
                 timeout=30, what="every plot to receive newer data")
    assert all(later[name]["rows"] >= 2 for name in EXPECTED_PLOTS)
    cards = page.locator(".dashboard-card .value")
    poll(lambda: cards.count() == 4 and "no data" not in cards.all_inner_texts()[0], timeout=10,
         what="the stat cards to show values")
    assert cards.all_inner_texts()[0].endswith("%")
    status = page.locator("table.dashboard-status td.state-connected", has_text="connected")
    poll(lambda: status.count() == 1, timeout=10, what="the status table to show 'connected'")
    assert page.locator("table.dashboard-status td", has_text="system").count() == 1
    collections = page.locator("table.dashboard-status td").nth(4)  # source, state, data, last sample, collections
    seen = int(collections.inner_text())
    poll(lambda: int(collections.inner_text()) > seen, timeout=10, what="the status table to update")
    assert page.errors.messages == []


def test_closing_the_page_removes_its_feed(served, page, browser):
    page.goto(served.url)
    poll(lambda: _with_data(page.evaluate(PLOT_STATE_JS)), timeout=30, what="plots with data")
    svc = MetricsService.shared()
    assert len(Feed.open_feeds()) == 1 and svc.publisher.subscriber_count == 1
    second = browser.new_page()
    second.goto(served.url)
    feeds = poll(lambda: Feed.open_feeds() if len(Feed.open_feeds()) == 2 else None, timeout=30,
                 what="a second feed")
    assert len(svc.sources) == 1 and svc.publisher.subscriber_count == 1, "two viewers, one collection"
    # a user closes a page that has loaded: wait until it draws (acknowledges) before closing it
    poll(lambda: all(f._acks_seen for f in feeds), timeout=30, what="both pages to draw")
    second.close()
    poll(lambda: len(Feed.open_feeds()) == 1, timeout=45, what="the closed page's feed to go")
    page.close()
    poll(lambda: len(Feed.open_feeds()) == 0, timeout=30, what="every feed to go")
    assert svc.publisher.subscriber_count == 0, "the last viewer's hub unsubscribed"


def test_screenshot_shows_the_dashboard(served, page, tmp_path):
    page.goto(served.url)
    poll(lambda: _all_advanced(page.evaluate(PLOT_STATE_JS), {}, EXPECTED_PLOTS), timeout=30, what="data")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000, "a rendered page, not a blank one"


# Each with the running interpreter's own: `python -m pytest` passes from a virtual environment that was
# never activated (its scripts are not on PATH then).
SCRIPTS = Path(sysconfig.get_path("scripts"))


@pytest.mark.parametrize("command, path", [
    ([str(SCRIPTS / "dashboard"), "serve", "--no-show"], "/"),
    ([sys.executable, "-m", "dashboard", "serve"], "/"),
    ([sys.executable, "-m", "panel", "serve", "dashboard/app.py"], "/app"),
], ids=["dashboard-script", "python-m-dashboard", "python-m-panel"])
def test_every_way_of_serving_shows_live_data(command, path, page):
    port = free_port()
    args = [*command, "--port", str(port)]
    if "panel" in command:
        args += ["--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        poll(lambda: http_ok(url + path), timeout=60, what=f"{' '.join(command)} to answer")
        assert http_ok(url + "/"), "the root answers too (redirects to the app)"
        page.goto(url + path)
        first = poll(lambda: _with_data(page.evaluate(PLOT_STATE_JS)), timeout=30, what="data")
        start = {k: v["last"] for k, v in first.items()}
        poll(lambda: _all_advanced(page.evaluate(PLOT_STATE_JS), start, {"CPU (all cores)"}), timeout=30,
             what="newer data")
        assert page.errors.messages == []
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Traceback" not in out, out




def _with_data(state: dict) -> dict:
    return {k: v for k, v in state.items() if v and v["rows"] > 0}


def _all_advanced(state: dict, start: dict, names: set[str]) -> dict | None:
    live = _with_data(state)
    ok = all(n in live and (start.get(n) is None or live[n]["last"] > start[n]) for n in names)
    return live if ok else None




PAYLOAD = "<img src=x onerror=alert(1)>"


def test_hostile_names_render_as_text(page):
    import panel as pn

    from dashboard.service import MetricsService
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot

    from ..support import ScriptedSource
    from .conftest import ServedApp

    source = ScriptedSource([1.0, 2.0, ConnectionError(PAYLOAD), 3.0], name=PAYLOAD, interval=0.2,
                            metric=f"x{PAYLOAD}")
    svc = MetricsService([source], retry=None)

    def app():
        svc.start()
        return pn.Column(MetricsDashboard(service=svc, title=f"t{PAYLOAD}"),
                         TimeSeriesPlot(service=svc, metric=f"x{PAYLOAD}", title=f"p{PAYLOAD}"))

    served = ServedApp(app, service=svc).start()
    try:
        page.goto(served.url)
        cells = page.locator("table.dashboard-status td")
        name = cells.filter(has_text=re.compile(f"^{re.escape(PAYLOAD)}$"))
        poll(lambda: name.count() == 1, timeout=30, what="the hostile source name shown as text")
        error = cells.filter(has_text=f"ConnectionError: {PAYLOAD}")
        poll(lambda: error.count() == 1, timeout=30, what="the hostile error shown as text")
        assert page.locator("img[src=x]").count() == 0, "no element was injected"
        assert not [m for m in page.errors.messages if m.startswith(("dialog", "pageerror"))]
        assert page.get_by_text(f"t{PAYLOAD}").count() == 1, "the title is literal text"
    finally:
        served.stop()


def test_each_flush_is_one_message_and_the_page_only_acknowledges(served, page):
    received: list[dict] = []  # the content of each message to the page
    sent: list[str] = []

    def watch(ws):
        ws.on("framereceived", lambda f: received.append(json.loads(f))
              if isinstance(f, str) and f.startswith('{"events"') else None)
        ws.on("framesent", lambda f: sent.append(f)  # each message's header and content
              if isinstance(f, str) and ('"msgtype"' in f or f.startswith('{"events"')) else None)

    page.on("websocket", watch)
    page.goto(served.url)
    poll(lambda: _all_advanced(page.evaluate(PLOT_STATE_JS), {}, EXPECTED_PLOTS), timeout=30, what="data")
    source = MetricsService.shared().sources["system"]
    n_received, n_sent, collections = len(received), len(sent), source.collections
    poll(pumping(page, lambda: source.collections >= collections + 5), timeout=30, what="five more collections")
    messages = [{(e["kind"], e.get("attr")) for e in m["events"]} for m in received[n_received:]]
    flushes = [m for m in messages if ("ModelChanged", "sent") in m]  # a flush counts itself in its message
    assert flushes, "no update reached the page"
    # one collection -> one flush -> one message carrying every plot, card and status change (or, while the
    # connection is still writing the one before, one message an event: transport.commit_to_session)
    assert len(flushes) <= source.collections - collections + 1, len(flushes)
    acks = sent[n_sent:]
    assert acks and all(_is_ack(f) for f in acks), f"the page sends only acknowledgements: {acks[:3]}"
    assert len([f for f in acks if '"msgtype"' in f]) <= len(flushes) + 1, "at most one acknowledgement an update"
    (feed,) = Feed.open_feeds()
    assert feed._acks_seen and feed.in_flight <= config.max_in_flight


def _is_ack(frame: str) -> bool:
    content = json.loads(frame) if frame.startswith("{") and '"events"' in frame else None
    if content is None:  # the header frame of a message
        return '"msgtype":"PATCH-DOC"' in frame or '"msgtype": "PATCH-DOC"' in frame
    return all(e.get("kind") == "ModelChanged" and e.get("attr") == "painted" for e in content["events"])
