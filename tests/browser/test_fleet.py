"""Past one machine: two dashboards exporting what they collect, a real Prometheus scraping both, and a third
dashboard whose spec queries that Prometheus: its page shows both machines' series, back to before it started
(real servers, a real Prometheus, Chromium)."""

from __future__ import annotations

import time

import httpx
import pytest

from dashboard.devtools import LocalPrometheus

from ..history.test_server_history import Server
from ..support import poll
from .conftest import figure_js

pytestmark = [pytest.mark.browser, pytest.mark.server]

MACHINE = """title: machine
system: false
sources:
  - type: synthetic
    name: waves
    metric: fleet_load
    rate: 5
    series_count: 2
    interval: 0.5
"""

CENTRAL = """title: fleet
system: false
window: 300
sources:
  - type: promql
    name: prometheus
    url: {url}
    interval: 1
    backfill: 300
    queries:
      load: fleet_load
panels:
  - metric: load
    title: Fleet load
"""

#: The Fleet load plot: its series (legend labels) and its first and last times (ms).
FLEET_JS = figure_js("Fleet load", """
    const line = m.renderers.find(r => r.data_source && r.data_source.data.time);
    if (!line) return {labels: [], rows: 0};
    const t = line.data_source.data.time;
    const labels = [...m.center, ...m.below].filter(r => r.type === 'Legend')
      .flatMap(l => l.items.map(i => i.label.value));
    return {labels: labels, rows: t.length, first: t[0], last: t[t.length - 1]};""")


def test_a_central_dashboard_shows_a_fleet_through_prometheus(tmp_path, page):
    machines = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        server = Server(folder, folder / "data")
        server.spec_text = MACHINE
        machines.append(server)
    central_dir = tmp_path / "central"
    central_dir.mkdir()
    central = Server(central_dir, central_dir / "data")
    try:
        for server in machines:
            server.start()
        targets = [f"127.0.0.1:{s.port}" for s in machines]
        with LocalPrometheus(targets, scrape_interval="1s") as prom:
            def scraped() -> bool:
                r = httpx.get(f"{prom.url}/api/v1/query", params={"query": "count_over_time(fleet_load[1m])"},
                              timeout=5).json()["data"]["result"]
                instances = {x["metric"]["instance"] for x in r if float(x["value"][1]) >= 5}
                return instances == set(targets)
            poll(scraped, timeout=60, what="prometheus to hold 5 scrapes of both dashboards")
            central.spec_text = CENTRAL.format(url=prom.url)
            started_ms = time.time() * 1000
            central.start()
            page.goto(central.url)
            state = poll(lambda: (s := page.evaluate(FLEET_JS)) and len(s["labels"]) >= 4 and s,
                         timeout=60, what="both machines' series on the central page")
            for target in targets:
                assert sum(target in label for label in state["labels"]) == 2, (target, state["labels"])
            assert state["first"] < started_ms - 3000, "the history reaches back before the central dashboard"
            poll(lambda: page.evaluate(FLEET_JS)["last"] > started_ms + 2000, timeout=30,
                 what="the central page to follow new scrapes")
            assert page.errors.messages == []
    finally:
        for server in (*machines, central):
            server.stop()
    for server in (*machines, central):
        assert "Traceback" not in server.log()
