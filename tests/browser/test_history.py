"""History in Chromium: a server killed with SIGKILL and restarted shows the last window at once, the time it
was down as a gap and an outage band, and its sources carry on (real server processes, real files)."""

from __future__ import annotations

import time

import pytest

from ..history.test_server_history import Server
from ..support import poll
from .conftest import figure_js

pytestmark = [pytest.mark.browser, pytest.mark.server]

SPEC = """title: history
system: false
window: 120
sources:
  - type: synthetic
    name: waves
    rate: 20
    series_count: 2
    interval: 0.1
panels:
  - metric: synthetic
    title: Waves
"""

#: The Waves plot: its line's times (ms; NaN values mark a gap) and its outage bands.
WAVES_JS = figure_js("Waves", """
    const line = m.renderers.find(r => r.data_source && r.data_source.data.time);
    const band = m.renderers.find(r => r.name === 'outages');  // added at the plot's first outage
    if (!line) return null;
    const d = line.data_source.data;
    const column = Object.keys(d).find(k => k !== 'time');
    const gaps = [];
    for (let i = 0; i < d.time.length; i++) if (Number.isNaN(d[column][i])) gaps.push(d.time[i]);
    const x0 = band ? Array.from(band.data_source.data.x0) : [];
    const bands = x0.map((x, i) => [x, band.data_source.data.x1[i]]);
    return {first: d.time[0], last: d.time[d.time.length - 1], rows: d.time.length, gaps: gaps, bands: bands};""")


def test_a_killed_server_restarts_with_its_window_and_the_outage_drawn(tmp_path, page):
    server = Server(tmp_path, tmp_path / "data")
    server.spec_text = SPEC
    server.start()
    try:
        page.goto(server.url)
        poll(lambda: (page.evaluate(WAVES_JS) or {}).get("rows", 0) > 60, timeout=60, what="3 s of waves")
        seen_ms = page.evaluate(WAVES_JS)["last"]  # the server wrote this sample or a later one before the kill
        page.goto("about:blank")  # the page leaves first: a page whose server dies logs its lost websocket
        server.kill()
        killed_ms = time.time() * 1000
        time.sleep(1.5)  # the outage (a real gap in time, not a wait for a condition)
        server.start()
        restarted_ms = time.time() * 1000
        page.goto(server.url)
        state = poll(lambda: page.evaluate(WAVES_JS), timeout=60, what="the plot after the restart")
        assert state["first"] < killed_ms - 2500, "the window from before the kill is drawn at once"
        assert any(killed_ms - 1500 < g < restarted_ms for g in state["gaps"]), state["gaps"]
        # from the last sample before the kill (however late a busy machine made it) to the first after the
        # restart
        try:
            poll(lambda: any(seen_ms - 100 < x0 < killed_ms + 100 and x1 > killed_ms + 1400
                             for x0, x1 in page.evaluate(WAVES_JS)["bands"]), timeout=30,
                 what="an outage band over the time the server was down")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: seen {seen_ms:.0f}, killed {killed_ms:.0f}, restarted "
                                 f"{restarted_ms:.0f}, bands {page.evaluate(WAVES_JS)['bands']}") from None
        poll(lambda: page.evaluate(WAVES_JS)["last"] > restarted_ms + 1000, timeout=30,
             what="the source to carry on after the restart")
        assert page.errors.messages == []
    finally:
        server.stop()
    assert "Traceback" not in server.log()
