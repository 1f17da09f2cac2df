"""How long a new viewer waits for live data: from navigation to the first plotted row, in Chromium.

    python benchmarks/time_to_first_data.py [repeats]

Starts ``dashboard serve`` on a free loopback port (the service is already warm after the first page),
then opens a page ``repeats`` times as a first visit (a new browser profile: BokehJS and Panel fetched
and compiled again) and as a visit again (a new tab of one profile, whose cache holds the scripts). For
each it reports the median and worst time from ``page.goto`` to the moment every default plot holds at
least one row, and to the first row that arrived after the page opened; and the server's time to build
a page: the CPU seconds of its main thread (where Panel builds sessions and answers requests; the
collection has a thread of its own) from ``page.goto`` to every plot showing data, less what that
thread spends with no page open over as long.
"""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server

# Every figure counts: a figure still to come (a served page sends a placeholder first) holds no row yet.
ROWS_JS = """() => {
  if (!window.Bokeh) return null;
  let min = Infinity, last = 0, n = 0;
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type === 'Div' && m.css_classes.includes('dashboard-pending')) return null;
    if (m.type !== 'Figure') continue;
    const r = m.renderers.find(r => r.data_source && r.data_source.data.time);
    if (!r) continue;
    const t = r.data_source.data.time; n += 1;
    min = Math.min(min, t.length); if (t.length) last = Math.max(last, t[t.length - 1]);
  }
  return n ? {min, last} : null;
}"""


def wait_for_data(page, start: float, limit: float = 30.0) -> float | None:
    """Seconds from ``start`` (``time.perf_counter``) until every plot of ``page`` holds a row; None when
    none came within ``limit`` seconds of it."""
    while time.perf_counter() - start < limit:
        state = page.evaluate(ROWS_JS)
        if state and state["min"] > 0:
            return time.perf_counter() - start
        page.wait_for_timeout(20)
    return None


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of the server's main thread so far."""
    return next(t.user_time + t.system_time for t in psutil.Process(pid).threads() if t.id == pid)


def idle_rate(pid: int, seconds: float = 5.0) -> float:
    """CPU seconds per second of the server's main thread with no page open."""
    before, start = main_thread_cpu(pid), time.perf_counter()
    time.sleep(seconds)
    return (main_thread_cpu(pid) - before) / (time.perf_counter() - start)


def open_page(page, url: str, pid: int) -> tuple[float | None, float | None, float]:
    """Navigate ``page`` to ``url``: seconds until every plot shows data, until a row collected after the
    navigation shows, and the server main thread's CPU seconds meanwhile (less its idle rate)."""
    rate = idle_rate(pid)
    cpu = main_thread_cpu(pid)
    opened_ms = time.time() * 1000
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    t_all = t_fresh = None
    while time.perf_counter() - start < 30 and (t_all is None or t_fresh is None):
        state = page.evaluate(ROWS_JS)
        now = time.perf_counter() - start
        if state and state["min"] > 0 and t_all is None:
            t_all = now
        if state and state["last"] > opened_ms and t_fresh is None:
            t_fresh = now
        page.wait_for_timeout(20)
    return t_all, t_fresh, main_thread_cpu(pid) - cpu - rate * (time.perf_counter() - start)


def main(repeats: int = 5) -> None:
    rows: dict[str, list[tuple[float | None, float | None, float]]] = {"first visit": [], "visit again": []}
    with dashboard_server() as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        again = browser.new_context()  # one browser profile: its cache holds the scripts after a visit
        for i in range(repeats + 1):  # the first pages also warm the service up; not counted
            for kind, page in (("first visit", browser.new_page()), ("visit again", again.new_page())):
                result = open_page(page, url, pid)  # a new context each time: nothing cached
                if i:
                    rows[kind].append(result)
                page.close()
        browser.close()
    print(f"pages: {repeats} of each kind (after one warm-up page each), machine: {socket.gethostname()}")
    print("| measure | median (s) | worst (s) |\n|---|---|---|")
    for kind, results in rows.items():
        all_plots, fresh_row, server = (list(x) for x in zip(*results, strict=True))
        print(f"| {kind}: every plot shows data (history from the store) | {statistics.median(all_plots):.2f} | "
              f"{max(all_plots):.2f} |")
        print(f"| {kind}: first row collected after the page opened | {statistics.median(fresh_row):.2f} | "
              f"{max(fresh_row):.2f} |")
        print(f"| {kind}: server CPU to build the page (main thread, until every plot shows data) | "
              f"{statistics.median(server):.2f} | {max(server):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
