"""Take the README's screenshots: serve the dashboard, let it collect, and photograph the live page.

    python scripts/screenshot.py [docs]

Uses ``dashboard serve`` on a free loopback port and Debian's Chromium through Playwright, and writes, after
20 s of collection: ``screenshot.png`` (light, 1280 px), ``screenshot-dark.png`` (``?theme=dark``),
``phone.png`` (390 px, the whole page) and ``wide.png`` (2560 px).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server

#: (file, query string, viewport, whole page)
SHOTS = [
    ("screenshot.png", "?theme=light", {"width": 1280, "height": 900}, True),
    ("screenshot-dark.png", "?theme=dark", {"width": 1280, "height": 900}, True),
    ("phone.png", "?theme=light", {"width": 390, "height": 844}, True),
    ("wide.png", "?theme=light", {"width": 2560, "height": 1440}, False),
]


def main(folder: str = "docs", seconds: float = 20.0) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with dashboard_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        began = time.monotonic()
        for name, query, viewport, full in SHOTS:
            page = browser.new_page(viewport=viewport)
            page.goto(url + query)
            page.wait_for_timeout(max(4000, (seconds - (time.monotonic() - began)) * 1000))  # let plots fill
            page.screenshot(path=str(out / name), full_page=full)
            page.close()
            print(f"wrote {out / name}")
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:2])
