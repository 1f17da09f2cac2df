"""Backpressure in Chromium: a CPU-throttled page gets fewer, larger updates; a normal page beside it does not
wait for it; neither has more than ``max_in_flight`` updates queued."""

from __future__ import annotations

import re

import pytest

from dashboard.config import config
from dashboard.service import MetricsService
from dashboard.sources.synthetic import SyntheticSource
from dashboard.ui.feed import Feed

from ..support import poll
from .conftest import PLOT_STATE_JS, ServedApp, pumping

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def fast_app():
    import panel as pn

    from dashboard.ui import TimeSeriesPlot

    svc = MetricsService([SyntheticSource(rate=5000, interval=0.02)], window=30, capacity=400_000)

    def app():
        svc.start()
        return pn.Column(TimeSeriesPlot(service=svc, metric="synthetic", height=400), sizing_mode="stretch_width")

    served = ServedApp(app, service=svc).start()
    yield served
    served.stop()


#: A flush's number in a message to the page (the FrameAck's ``sent``).
SENT = re.compile(r'"attr":"sent","new":(\d+)')


def open_page(browser, url: str, throttle: float = 1.0):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    patches: list[int] = []
    page.on("websocket", lambda ws: ws.on(  # each message that carries a flush: the flush's number
        "framereceived", lambda f: patches.extend(int(n) for n in SENT.findall(f))
        if isinstance(f, str) and f.startswith('{"events"') else None))
    if throttle != 1.0:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(url)
    return context, page, patches


def test_a_throttled_page_gets_fewer_larger_updates_and_never_a_queue(browser, fast_app):
    ctx_a, _, _ = open_page(browser, fast_app.url)
    (feed_a,) = poll(lambda: Feed.open_feeds(), timeout=30, what="the normal page's feed")
    ctx_b, slow, slow_patches = open_page(browser, fast_app.url, throttle=4.0)
    feed_b = poll(lambda: [f for f in Feed.open_feeds() if f is not feed_a], timeout=30, what="a second feed")[0]
    poll(lambda: feed_a._acks_seen and feed_b._acks_seen, timeout=90, what="both pages to acknowledge")
    # until its first acknowledgement a page gets one extra update per ack_timeout: let that drain
    poll(pumping(slow, lambda: feed_b.in_flight <= config.max_in_flight), timeout=60,
         what="the throttled page to catch up")  # (and its messages so far delivered: counted from here)
    start_a, start_b, patches_b = feed_a.flushes, feed_b.flushes, len(slow_patches)
    worst = 0

    def sampled() -> bool:
        nonlocal worst
        worst = max(worst, feed_b.in_flight)
        return feed_a.flushes >= start_a + 60

    poll(pumping(slow, sampled), timeout=60, interval=0.02, what="60 updates of the normal page")
    a, b = feed_a.flushes - start_a, feed_b.flushes - start_b
    assert worst <= config.max_in_flight, f"the throttled page had {worst} updates queued"
    assert feed_b.held_back > 0, "the throttled page was never held back: backpressure was not exercised"
    assert b < a, f"throttled page: {b} updates, normal page: {a}"
    # every flush of the measured ones that reached the page came once, as one message: no queue, no repeat
    numbers = [n for n in slow_patches[patches_b:] if start_b < n <= start_b + b]
    assert numbers and len(numbers) == len(set(numbers)), "a flush reached the page twice"
    # latest wins: the throttled page still shows the newest data, not an old queue
    newest = fast_app.service.store.latest(fast_app.service.keys("synthetic")[0])[0] * 1000.0
    poll(lambda: (slow.evaluate(PLOT_STATE_JS).get("synthetic") or {}).get("last", 0) >= newest, timeout=30,
         what="the throttled page to catch up with the newest sample")
    ctx_a.close()
    ctx_b.close()
