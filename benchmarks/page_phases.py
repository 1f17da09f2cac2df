"""Where the server's time goes when a page opens: the default page's server CPU by phase.

    python benchmarks/page_phases.py [pages]

Runs ``dashboard.server.make_server`` (the default dashboard, as ``dashboard serve`` builds it) in a
thread of this process and opens ``pages`` pages (default 8) one after another in Chromium at 1280x900,
each until every plot shows a row. For each page it reports the server thread's CPU from navigation to
data and the part of it spent in each phase, measured by wrapping the functions that do them: ``GET /``
(Panel's page handler: the session, the document with placeholders, the HTML), building the plots
(``dashboard.ui.base._build_deferred``), websocket messages (Bokeh's handler: the document pulled,
including its serialization), ``Document.to_json`` (the serialization alone) and the feed's commits
(streaming the first rows), and counts the models of the page. The first two pages are left out (imports,
caches). Medians over the rest.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, free_port
from benchmarks.time_to_first_data import wait_for_data

SPENT: collections.Counter[str] = collections.Counter()

#: The models of the page's documents (each one built and sent by the server, and given a view by the browser).
MODELS_JS = "() => Bokeh.documents.reduce((n, doc) => n + doc.all_models.size, 0)"


def timed(name: str, function, awaited: bool = False):
    """``function``, adding its thread CPU time to ``SPENT[name]`` (``awaited``: until the coroutine it
    returns is done)."""
    if awaited or asyncio.iscoroutinefunction(function):
        @functools.wraps(function)
        async def wrapper(*args, **kwargs):
            start = time.thread_time()
            try:
                result = function(*args, **kwargs)
                return await result if asyncio.iscoroutine(result) else result
            finally:
                SPENT[name] += time.thread_time() - start
    else:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                SPENT[name] += time.thread_time() - start
    return wrapper


def instrument() -> None:
    import bokeh.document.document as document
    import panel.io.server as panel_server
    from bokeh.server.views import ws

    import dashboard.ui.base as base
    import dashboard.ui.feed as feed

    base._build_deferred = timed("build the plots", base._build_deferred)
    document.Document.to_json = timed("Document.to_json", document.Document.to_json)
    feed.Feed._commit = timed("feed commits", feed.Feed._commit)
    panel_server.DocHandler.get = timed("GET /", panel_server.DocHandler.get, awaited=True)  # (tornado's
    ws.WSHandler.on_message = timed("websocket messages", ws.WSHandler.on_message, awaited=True)  # wrappers)


def serve(port: int, ready: list[int]) -> None:
    from dashboard.server import make_server
    from dashboard.service import MetricsService, default_sources

    asyncio.set_event_loop(asyncio.new_event_loop())
    service = MetricsService(default_sources())
    MetricsService.set_shared(service)
    server, service = make_server(port=port, service=service)
    server.io_loop.add_callback(service.start)
    server.start()
    ready.append(threading.get_native_id())
    server.io_loop.start()


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    instrument()
    port, ready = free_port(), []
    threading.Thread(target=serve, args=(port, ready), daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready and time.monotonic() < deadline:
        time.sleep(0.1)
    thread = ready[0]

    def cpu() -> float:
        t = next(t for t in psutil.Process().threads() if t.id == thread)
        return t.user_time + t.system_time

    rows: list[tuple[float, float, dict[str, float]]] = []
    models: list[int] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        time.sleep(3)  # the first collections
        for _ in range(pages):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            SPENT.clear()
            before, start = cpu(), time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
            wait_for_data(page, start, limit=60)
            rows.append((time.perf_counter() - start, cpu() - before, dict(SPENT)))
            models.append(page.evaluate(MODELS_JS))
            page.close()
            time.sleep(1.5)
        browser.close()
    kept = rows[2:]
    print(f"`python benchmarks/page_phases.py {pages}`: the default page at 1280x900, medians of {len(kept)} pages\n")
    print("| phase | server CPU (ms) |\n|---|---|")
    print(f"| every plot shows data (wall) | {statistics.median(r[0] for r in kept) * 1000:.0f} |")
    print(f"| models on the page (a count) | {statistics.median(models[2:]):.0f} |")
    print(f"| server thread, all of it | {statistics.median(r[1] for r in kept) * 1000:.0f} |")
    for name in ("GET /", "build the plots", "websocket messages", "Document.to_json", "feed commits"):
        print(f"| {name} | {statistics.median(r[2].get(name, 0.0) for r in kept) * 1000:.0f} |")


if __name__ == "__main__":
    main()
