"""Take the README's screenshots: serve the dashboard, let it collect, and photograph the live page.

    python scripts/screenshot.py [docs]

Uses ``dashboard serve`` on a free loopback port and Debian's Chromium through Playwright, and writes, after
20 s of collection: ``screenshot.png`` (light, 1280 px), ``screenshot-dark.png`` (``?theme=dark``),
``phone.png`` (a phone: 390 px wide in mobile emulation at 3 device pixels a CSS pixel, touch, the first
2,400 px of the page) and ``wide.png`` (2560 px). The page scrolls inside its template's main area, so a
whole-page shot is a window as tall as that area's content. Then ``jupyterlab.png``: the quickstart
notebook as shipped, run with "Run All Cells" in JupyterLab, its dashboard cell in view once every plot
of the notebook holds data.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server
from dashboard.devtools import LocalJupyterLab, wait_until

ROOT = Path(__file__).resolve().parents[1]

#: Every figure of the page holds a row (null until BokehJS has a document).
ALL_PLOTTED_JS = """() => {
  if (!window.Bokeh || !Bokeh.documents.length) return false;
  const figures = Bokeh.documents.flatMap(d => [...d.all_models]).filter(m => m.type === 'Figure');
  return figures.length > 0 && figures.every(f => f.renderers.some(r =>
    r.data_source && r.data_source.data.time && r.data_source.data.time.length > 0));
}"""

#: (file, query string, browser context options, tallest window for a whole-page shot; None: as it is)
SHOTS = [
    ("screenshot.png", "?theme=light", {"viewport": {"width": 1280, "height": 900}}, 4000),
    ("screenshot-dark.png", "?theme=dark", {"viewport": {"width": 1280, "height": 900}}, 4000),
    ("phone.png", "?theme=light", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                                   "has_touch": True, "device_scale_factor": 3}, 2400),
    ("wide.png", "?theme=light", {"viewport": {"width": 2560, "height": 1440}}, None),
]

#: The height of the page's content (the template scrolls its main area, not the document).
CONTENT_HEIGHT_JS = """() => {
  const main = document.querySelector('#main') || document.body;
  return Math.ceil(main.getBoundingClientRect().top + main.scrollHeight);
}"""


def main(folder: str = "docs", seconds: float = 20.0) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with dashboard_server() as (url, _pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        began = time.monotonic()
        for name, query, options, tallest in SHOTS:
            context = browser.new_context(**options)
            page = context.new_page()
            page.goto(url + query)
            page.wait_for_timeout(max(4000, (seconds - (time.monotonic() - began)) * 1000))  # let plots fill
            if tallest is not None:
                height = min(tallest, page.evaluate(CONTENT_HEIGHT_JS))
                page.set_viewport_size({"width": options["viewport"]["width"], "height": height})
                page.wait_for_timeout(1500)  # laid out again at that height
            page.screenshot(path=str(out / name))
            context.close()
            print(f"wrote {out / name}")
        lab_shot(browser, out / "jupyterlab.png", seconds)
        browser.close()


def lab_shot(browser: object, path: Path, seconds: float) -> None:
    """The quickstart notebook run top to bottom in JupyterLab, its dashboard cell in view."""
    folder = Path(tempfile.mkdtemp(prefix="dashboard-lab-"))
    try:
        shutil.copy(ROOT / "notebooks" / "01-quickstart.ipynb", folder)
        with LocalJupyterLab(folder) as lab:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{lab.url}/lab/tree/01-quickstart.ipynb")
            page.get_by_text("| Idle").first.wait_for()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            wait_until(lambda: page.evaluate(ALL_PLOTTED_JS), 120, "the notebook's plots to show data")
            page.wait_for_timeout(seconds * 1000)  # a window's worth of live data
            for close in page.locator(".jp-Notification-Toast-Close").all():  # JupyterLab's question about news
                close.click(timeout=5000)
            page.locator(".jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()  # fold the file browser
            page.locator(".jp-CodeCell").nth(2).evaluate("e => e.scrollIntoView({block: 'start'})")  # the dashboard
            page.wait_for_timeout(1500)
            page.screenshot(path=str(path))
            context.close()
            print(f"wrote {path}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
