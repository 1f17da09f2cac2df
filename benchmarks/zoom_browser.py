"""A zoom, from the end of the gesture to the pixels, in Chromium: 50 random zooms into an hour at 1 kHz.

    python benchmarks/zoom_browser.py [--zooms 50]

Serves the dashboard's benchmark app (:mod:`benchmarks.ways`) with an hour of 4 series at 1 kHz in its store
(14.4 million samples, data still arriving) in its own process, opens it in Debian's Chromium, and zooms the
plot ``--zooms`` times to random ranges from 1 s to the whole hour. Each zoom does in the page what the wheel
or box zoom tool does when the gesture ends (the range is set, held, and the plot's ``RangesUpdate`` event
sent); the clock runs from there until the plot's data has been replaced by the server's answer (the store
queried at pixel resolution) and a frame has been painted with it. Prints the median, p95 and worst.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from benchmarks.streaming import RESULTS, Server  # noqa: E402

SERIES, RATE, SECONDS = 4, 1000, 3600

#: Zoom the first figure to [start, end] (ms) as a zoom tool's gesture end does; resolves with the
#: milliseconds until the answer's rows are painted.
ZOOM_JS = """async ([start, end]) => {
  const views = [];
  const visit = (v) => { views.push(v); for (const c of (v.child_views ?? [])) visit(c); };
  for (const root of Object.values(Bokeh.index)) visit(root);
  const view = views.find(v => v.model.type === 'Figure');
  const fig = view.model;
  const cds = fig.renderers.find(r => r.data_source && r.data_source.data.time).data_source;
  const before = cds.data;
  const began = performance.now();
  fig.x_range.have_updated_interactively = true;
  fig.x_range.setv({start, end});
  view.trigger_ranges_update_event();
  return await new Promise((resolve, reject) => {
    const deadline = began + 10000;
    const check = () => {
      if (cds.data !== before)  // the answer arrived: the next frame paints it
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - began)));
      else if (performance.now() > deadline)
        reject(new Error('no answer within 10 s'));
      else
        requestAnimationFrame(check);
    };
    check();
  });
}"""

FIRST_LAST_JS = """() => {
  for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.type === 'Figure') {
      const r = m.renderers.find(r => r.data_source && r.data_source.data.time && r.data_source.get_length());
      if (r) { const t = r.data_source.data.time; return [t[0], t[t.length - 1]]; }
    }
  return null;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zooms", type=int, default=50)
    args = parser.parse_args()
    server = Server("dashboard", SERIES * RATE, RATE * SECONDS, True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.url)
            deadline = time.monotonic() + 120
            while not ((span := page.evaluate(FIRST_LAST_JS)) and span[1] - span[0] > 0.9 * SECONDS * 1000):
                assert time.monotonic() < deadline, "the hour did not reach the page within 120 s"
                page.wait_for_timeout(200)
            first, last = span
            rng = np.random.default_rng(2)
            took = []
            for _ in range(args.zooms):
                width = float(np.exp(rng.uniform(np.log(1000.0), np.log(last - first))))
                start = float(rng.uniform(first, last - width))
                took.append(page.evaluate(ZOOM_JS, [start, start + width]))
            browser.close()
    finally:
        server.stop()
    p95 = float(np.percentile(took, 95))
    text = "\n".join([
        f"A zoom in Chromium, from the gesture's end to the painted answer: {args.zooms} random ranges (1 s to 1 h) "
        f"of {SERIES} series x {RATE:,} Hz x 1 h in the store (data arriving). Command: "
        "`python benchmarks/zoom_browser.py`.", "",
        "| zooms | median (ms) | p95 (ms) | worst (ms) |", "|---|---|---|---|",
        f"| {args.zooms} | {statistics.median(took):.0f} | {p95:.0f} | {max(took):.0f} |", ""])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "zoom_browser.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
