"""A new page on this build against another, side by side: the server's and the browser's work, and the wait.

    python benchmarks/page_ab.py BEFORE [pairs]

``BEFORE`` is another checkout of the project (``git worktree add /tmp/before COMMIT``). Both builds run
``dashboard serve`` (the default page, history in a fresh folder) at once, and one Chromium opens a page of
each in turn, ``pairs`` times (default 10; which goes first alternates; one pair more at the start warms
both up and is not counted), each in a new browser profile (a first visit: scripts fetched and compiled)
at 1280x900, until every plot shows a row. For each build it prints the medians of: the wait from
navigation to data; the server's main-thread CPU over it (the collection has a thread of its own); the
browser's main-thread time (Chromium's ``TaskDuration``) and the part of it spent running script
(``ScriptDuration``); and the page's JavaScript heap. Then, with the page open and streaming (from 2 s after
its data, for ``STREAMING`` seconds): the websocket frames the page receives a second (a message is three
frames or more), and the browser's and the server's main-thread time a second. Both servers collect while
the other's page opens, so each wait is longer than with one server alone; the two builds share that.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server
from benchmarks.time_to_first_data import main_thread_cpu, wait_for_data

MEASURES = ("every plot shows data (s)", "server main-thread CPU (s)", "browser main-thread time (s)",
            "browser script time (s)", "JavaScript heap (MB)", "streaming: websocket frames to the page a second",
            "streaming: browser main-thread time (ms a second)", "streaming: server main-thread CPU (ms a second)")

#: Seconds of streaming measured on each page.
STREAMING = 6.0


def open_page(browser: Any, url: str, pid: int) -> tuple[float, ...] | None:
    """One first visit of ``url``: the measures in :data:`MEASURES`, or None when no data came in 30 s."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    frames: list[float] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _payload: frames.append(time.perf_counter())))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cpu, start = main_thread_cpu(pid), time.perf_counter()
    page.goto(url, wait_until="commit")
    waited = wait_for_data(page, start)
    if waited is None:
        page.close()
        return None
    metrics, server = _metrics(cdp), main_thread_cpu(pid) - cpu
    page.wait_for_timeout(2000)
    busy, cpu, start = _metrics(cdp)["TaskDuration"], main_thread_cpu(pid), time.perf_counter()
    page.wait_for_timeout(STREAMING * 1000)
    seconds = time.perf_counter() - start
    streaming = (sum(t >= start for t in frames) / seconds, (_metrics(cdp)["TaskDuration"] - busy) / seconds * 1000,
                 (main_thread_cpu(pid) - cpu) / seconds * 1000)
    page.close()
    return (waited, server, metrics["TaskDuration"], metrics["ScriptDuration"], metrics["JSHeapUsedSize"] / 1e6,
            *streaming)


def _metrics(cdp: Any) -> dict[str, float]:
    """Chromium's performance counters of the page so far (times in seconds)."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def main(before: str, pairs: int = 10) -> None:
    results: dict[str, list[tuple[float, ...]]] = {"this build": [], f"before ({before})": []}
    with ExitStack() as stack, sync_playwright() as pw:
        servers = {"this build": stack.enter_context(dashboard_server()),
                   f"before ({before})": stack.enter_context(dashboard_server(checkout=before))}
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for i in range(pairs + 1):
            order = list(servers) if i % 2 else list(reversed(servers))
            for name in order:
                url, pid = servers[name]
                measured = open_page(browser, url, pid)
                if i and measured is not None:
                    results[name].append(measured)
                time.sleep(1.0)
        browser.close()
    print(f"`python benchmarks/page_ab.py {before} {pairs}`: medians of {pairs} first visits each, alternated\n")
    print("| measure | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for i, measure in enumerate(MEASURES):
        cells = [f"{statistics.median(r[i] for r in rows):.{0 if i >= 6 else 2}f}" if rows else "no data"
                 for rows in results.values()]
        print(f"| {measure} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
