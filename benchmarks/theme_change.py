"""How long a viewer waits after choosing the dark theme: from the choice to a dark page showing data.

    python benchmarks/theme_change.py [repeats]

Starts ``dashboard serve`` on a free loopback port, opens the light page in one browser context (as a
viewer who has the scripts cached), waits for its data, chooses "dark" in the theme control, and times
until the URL says ``theme=dark``, the page and every plot are dark and every plot holds a row; and counts
the pages that reloaded to get there. The first choice warms the service up and is not counted.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, dashboard_server
from benchmarks.time_to_first_data import ROWS_JS


def plotted(page) -> bool:
    """Whether every plot of ``page`` holds a row (False while the page reloads)."""
    try:
        state = page.evaluate(ROWS_JS)
    except Exception:  # the page is between two documents
        return False
    return bool(state and state["min"] > 0)


DARK_JS = """() => {
  const rgb = (css) => css.startsWith('#') ? [1, 3, 5].map((i) => parseInt(css.slice(i, i + 2), 16))
                                           : css.match(/[0-9.]+/g).slice(0, 3).map(Number)
  const dark = (css) => rgb(css).reduce((a, b) => a + b, 0) < 150
  if (document.documentElement.dataset.bsTheme !== 'dark' || !dark(getComputedStyle(document.body).backgroundColor))
    return false
  for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.type === 'Figure' && !dark(m.background_fill_color)) return false
  return true
}"""


def dark(page) -> bool:
    """Whether the page, its template and every plot are dark (False while the page reloads)."""
    try:
        return bool(page.evaluate(DARK_JS))
    except Exception:
        return False


def wait(page, done, seconds: float = 30.0) -> float:
    """Seconds until ``done()``, polled every 20 ms (at most ``seconds``)."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and not done():
        page.wait_for_timeout(20)
    return time.perf_counter() - start


def main(repeats: int = 5) -> None:
    times, reloads = [], 0
    with dashboard_server() as (url, _pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context()
        for _ in range(repeats + 1):
            page = context.new_page()
            page.goto(url + "?theme=light")
            wait(page, lambda page=page: plotted(page))
            themes = page.locator("select").filter(has=page.locator("option", has_text="dark")).first
            page.evaluate("() => { window.sameDocument = true }")
            themes.select_option("dark")
            times.append(wait(page, lambda page=page: "theme=dark" in page.url and dark(page) and plotted(page)))
            reloads += not page.evaluate("() => window.sameDocument === true")
            page.close()
        browser.close()
    times = times[1:]
    print(f"theme changes: {repeats} (after one warm-up); pages reloaded: {reloads} of {repeats + 1}")
    print("| measure | median (s) | worst (s) |\n|---|---|---|")
    print(f"| light to dark, until the page and every plot are dark and show data | {statistics.median(times):.2f} "
          f"| {max(times):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
