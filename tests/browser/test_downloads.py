"""Downloads in Chromium: a plot held at a range offers its samples as CSV and Parquet; both parse back to
exactly the rows in view (``svc.frame`` of that range), with times in the page's time zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ..support import poll
from .conftest import ServedApp

pytestmark = [pytest.mark.browser, pytest.mark.server]


def waves_app():
    from dashboard.service import MetricsService
    from dashboard.sources.synthetic import SyntheticSource
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot
    from dashboard.ui.page import page

    svc = MetricsService([SyntheticSource(name="waves", rate=20, series_count=2, interval=0.1)], window=60)
    MetricsService.set_shared(svc)

    def app():
        svc.start()
        return page(MetricsDashboard(service=svc, system=False, auto=False, title="downloads",
                                     panels=[TimeSeriesPlot(service=svc, metric="synthetic", title="Waves")]))

    return app, svc


def downloaded(page, label: str, folder: Path) -> Path:
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name=label, exact=True).click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_downloads_parse_back_to_the_rows_in_view(page, tmp_path):
    app, svc = waves_app()
    served = ServedApp(app, service=svc).start()
    try:
        page.goto(served.url)  # the first session starts the service
        poll(lambda: len(svc.frame("synthetic")) >= 2 * 80, timeout=60, what="4 s of waves in the store")
        first = float(svc.frame("synthetic")["time"].min().timestamp())
        start, end = first + 0.55, first + 3.05
        page.goto(f"{served.url}?from={start}&to={end}&tz=Europe/Berlin")
        poll(lambda: page.get_by_role("button", name="CSV", exact=True).count() == 1, timeout=60,
             what="the download buttons")
        want = svc.frame("synthetic", start=start, end=end)
        assert len(want) >= 2 * 45, "both waves, 20 samples a second, 2.5 s"

        csv = downloaded(page, "CSV", tmp_path)
        assert csv.name == "synthetic.csv"
        lines = csv.read_text().splitlines()
        assert lines[0] == "time,metric,labels,value"
        assert "+01:00," in lines[1], "ISO 8601 in the page's time zone (Berlin in winter)"
        got = pd.read_csv(csv)
        np.testing.assert_array_equal(pd.to_datetime(got["time"], utc=True).to_numpy(), want["time"].to_numpy())
        np.testing.assert_array_equal(got["value"].to_numpy(), want["value"].to_numpy())
        assert got["labels"].tolist() == want["labels"].tolist()
        assert set(got["metric"]) == {"synthetic"}

        parquet = downloaded(page, "Parquet", tmp_path)
        back = pd.read_parquet(parquet)
        assert str(back["time"].dt.tz) == "Europe/Berlin"
        np.testing.assert_array_equal(back["time"].dt.tz_convert("UTC").to_numpy(), want["time"].to_numpy())
        np.testing.assert_array_equal(back["value"].to_numpy(), want["value"].to_numpy())
        assert not page.errors.messages

        drawn = svc.frame("synthetic", start=start, end=end, columns=10)  # what a plot 10 pixels wide draws
        assert drawn.attrs["grid"] == {"source": "memory", "start": start, "width": pytest.approx(0.25), "columns": 10}
        assert len(drawn) < len(want) and set(drawn["value"]) <= set(want["value"])
    finally:
        served.stop()
