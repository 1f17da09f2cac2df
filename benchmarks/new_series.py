"""Series that appear at once (a scrape, a push with many label sets): the time to add them to a live view.

    python benchmarks/new_series.py [--series 50 200] [--repeats 3]

One plot of a metric among ten other plots in a Bokeh document (as in a served page), N new series of that
metric written to the store in one batch; reports the time the viewer's feed spends adding them (lines,
hover, legend, columns), median of repeats. Each list assignment on a live document recomputes its whole
model graph unless the feed defers it (``Feed._frozen``); ``--no-freeze`` measures without the deferral.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def one(n: int, freeze: bool) -> float:
    import panel as pn
    from bokeh.document import Document

    from dashboard.metrics.model import Batch, SeriesKey
    from dashboard.service import MetricsService
    from dashboard.ui.feed import Feed
    from dashboard.ui.plots import TimeSeriesPlot

    svc = MetricsService([])
    plots = [TimeSeriesPlot(service=svc, metric="m"), *(TimeSeriesPlot(service=svc, metric=f"o{i}") for i in range(10))]
    doc = Document()
    doc.add_root(pn.Column(*plots).get_root(doc))
    feed = Feed.for_document(doc)
    if not freeze:
        feed._frozen = contextlib.nullcontext  # type: ignore[method-assign]
    spent = [0.0]
    apply = feed.apply

    def timed() -> None:
        start = time.perf_counter()
        apply()
        spent[0] += time.perf_counter() - start

    feed.apply = timed  # type: ignore[method-assign]
    keys = tuple(SeriesKey.of("m", i=str(i)) for i in range(n))
    svc._write(Batch("s", keys, np.array([1.0]), np.ones((n, 1))))
    deadline = time.monotonic() + 600
    while len(feed.views[0].hover.renderers) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("series not added within 600 s")
        await asyncio.sleep(0.01)
    feed.close()
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-freeze", action="store_true")
    args = parser.parse_args()
    print(f"| new series | seconds to add (median of {args.repeats}){' without the deferral' * args.no_freeze} |")
    print("|---|---|")
    for n in args.series:
        times = [asyncio.run(one(n, not args.no_freeze)) for _ in range(args.repeats)]
        print(f"| {n} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
