"""Take the README's screenshot: serve the dashboard, let it collect, and photograph the live page.

    python scripts/screenshot.py docs/screenshot.png

Uses ``dashboard serve`` on a free loopback port and Debian's Chromium through Playwright.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server


def main(out: str = "docs/screenshot.png", seconds: float = 20.0) -> None:
    with dashboard_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_timeout(seconds * 1000)  # let the plots fill with history
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out, full_page=True)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
