"""Pages and snapshots against collection: does anything a viewer does make a source's data late or lost?

    python benchmarks/page_open.py [opens] [snapshots]

Serves a spec with a 10 Hz synthetic source and this machine's 1 Hz system source (history on disk, as
``dashboard serve`` runs by default), then, in one Chromium:

1. the server time of ``GET /`` (the page's first answer: its session and models), median of 10, with no
   page open;
2. ``opens`` pages (20) opened one every 2 s while 3 others stream, each closed once its document is there;
3. ``snapshots`` (100) ``GET /snapshot?window=60`` in a row while the 3 pages stream.

It reports the gaps the server wrote (``dashboard_source_gaps_total``: a gap a page caused would be
counted there), the NaN in the downloaded samples of the whole run, the snapshots' answers, and the
server's CPU seconds per page opened.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
import psutil
from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, free_port

SPEC = Path(__file__).resolve().parents[1] / "examples" / "pages.yaml"  # shared with test_served

DOCUMENT_JS = "() => window.Bokeh && Bokeh.documents.length > 0"


def gaps(client: httpx.Client) -> dict[str, float]:
    text = client.get("metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "dashboard_source_gaps")
    return {s.labels["source"]: s.value for s in family.samples if s.name.endswith("_total")}


def nan_rows(client: httpx.Client, metric: str, start: float) -> tuple[int, int]:
    """(rows, NaN values) of ``metric`` downloaded from ``start`` to now."""
    r = client.get("download", params={"metric": metric, "format": "csv", "from": str(start),
                                       "to": str(time.time())})
    frame = pd.read_csv(io.StringIO(r.text))
    return len(frame), int(frame["value"].isna().sum())


def main(opens: int = 20, snapshots: int = 100) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    port = free_port()
    server = subprocess.Popen(["dashboard", "--log-level", "WARNING", "serve", str(SPEC),
                               "--port", str(port), "--data-dir", str(folder / "data")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    process = psutil.Process(server.pid)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("metrics")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("dashboard serve did not answer within 60 s") from None
                    time.sleep(0.2)
            time.sleep(3)  # a few collections in the store first
            first_answer = []
            for _ in range(10):
                t = time.perf_counter()
                client.get("")
                first_answer.append(time.perf_counter() - t)
            started = time.time()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                streaming = [browser.new_page(viewport={"width": 1280, "height": 900}) for _ in range(3)]
                for page in streaming:
                    page.goto(url)
                    page.wait_for_function(DOCUMENT_JS, timeout=90_000)
                cpu = process.cpu_times()
                for i in range(opens):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(url)
                    page.wait_for_function(DOCUMENT_JS, timeout=90_000)
                    page.close()
                    due = started + 2.0 * (i + 1)
                    while time.time() < due:  # the browser keeps drawing the streaming pages meanwhile
                        streaming[0].wait_for_timeout(50)
                after = process.cpu_times()
                cpu_per_page = (after.user + after.system - cpu.user - cpu.system) / opens
                answers = []
                t = time.perf_counter()
                for _ in range(snapshots):
                    answers.append(client.get("snapshot", params={"window": "60"}).status_code)
                per_snapshot = (time.perf_counter() - t) / snapshots
                browser.close()
            counted = gaps(client)
            synthetic = nan_rows(client, "synthetic", started)
            cpu_rows = nan_rows(client, "cpu_percent", started)
    finally:
        server.terminate()
        server.wait(30)
    print(f"command: python benchmarks/page_open.py {opens} {snapshots}")
    print("| measure | value |\n|---|---|")
    print(f"| GET / (first answer, no page open), median of 10 | {statistics.median(first_answer) * 1000:.0f} ms |")
    print(f"| pages opened (one every 2 s, 3 streaming) | {opens} |")
    print(f"| server CPU per page opened (incl. streaming) | {cpu_per_page:.2f} s |")
    print(f"| gaps written (synthetic, system) | {counted.get('synthetic'):.0f}, {counted.get('system'):.0f} |")
    print(f"| NaN in downloaded samples: synthetic | {synthetic[1]} of {synthetic[0]} |")
    print(f"| NaN in downloaded samples: cpu_percent | {cpu_rows[1]} of {cpu_rows[0]} |")
    print(f"| snapshots answered 200 (3 pages streaming) | {answers.count(200)} of {len(answers)} |")
    print(f"| time per snapshot (window 60 s) | {per_snapshot:.2f} s |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
