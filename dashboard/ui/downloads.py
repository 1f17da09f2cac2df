"""Downloads of what a plot shows: every stored sample in its view, as CSV or Parquet.

Two ways to offer them, one content (:meth:`TimeSeriesPlot.view_frame
<dashboard.ui.plots.TimeSeriesPlot.view_frame>`: tidy rows of time, metric, labels and value, times in the
plot's time zone, ISO 8601 with their offset in CSV):

* where the server has the route (``dashboard serve``): two tools in each plot's own toolbar, CSV and
  Parquet, that ask ``GET /download?panel=NAME&from=&to=&tz=&format=`` (:class:`DownloadHandler`) for the
  range the plot shows. A tool is one model; the page builds and sends nothing more per plot, and the file
  is made by a plain HTTP request, not in the page's session. The route is also an API
  (``curl 'http://127.0.0.1:5006/download?panel=cpu_percent&format=csv&from=...'``), and ``metric=NAME``
  serves any metric, the automatic plots' too;
* anywhere else (a notebook, ``panel serve``): Panel's ``FileDownload`` buttons under the plot
  (:func:`with_buttons`).
"""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import panel as pn
from bokeh.models import CustomAction, CustomJS

from ..auth import ViewerRoute
from ..units import time_zones

#: The route's path, relative to the page (``/download`` beside ``/``).
ROUTE = "download"
FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "parquet": ("application/vnd.apache.parquet", "parquet")}

#: Asks the route for the samples in the plot's x range (epoch ms there), in its axis' time zone.
DOWNLOAD_JS = """
const [query, format, xr, axis] = cb_obj.tags
const url = new URL(route, document.baseURI)
url.search = query
url.searchParams.set('format', format)
if (Number.isFinite(xr.start) && Number.isFinite(xr.end) && xr.end > xr.start) {
  url.searchParams.set('from', (xr.start / 1000).toFixed(3))
  url.searchParams.set('to', (xr.end / 1000).toFixed(3))
}
const tz = axis.formatter.args.tz || Intl.DateTimeFormat().resolvedOptions().timeZone
if (tz) url.searchParams.set('tz', tz)
window.location.assign(url.toString())
"""


def _icon(text: str) -> str:
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24"><text x="12" y="16" font-size="10.5" '
           f'font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#555">{text}</text></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


ICONS = {"csv": _icon("CSV"), "parquet": _icon("PQ")}


def add_tools(fig: Any, query: dict[str, str], x_range: Any, axis: Any, viewer: Any) -> None:
    """Add the CSV and Parquet tools to ``fig``'s toolbar: ``query`` names the plot to the route."""
    callback = viewer.shared("download_js", lambda: CustomJS(args={"route": ROUTE}, code=DOWNLOAD_JS))
    text = urlencode(query)
    fig.add_tools(*[CustomAction(icon=ICONS[kind], description=f"Download the samples in view ({label})",
                                 callback=callback, tags=[text, kind, x_range, axis])
                    for kind, label in (("csv", "CSV"), ("parquet", "Parquet"))])


def with_buttons(plot: Any) -> Any:
    """``plot`` with its downloads under it as two buttons (Panel's ``FileDownload``: any viewer)."""
    name = plot.file_name()
    buttons = [pn.widgets.FileDownload(callback=callback, filename=f"{name}.{kind.lower()}", label=kind,
                                       width=80, height=28, margin=(0, 4), embed=False)
               for kind, callback in (("CSV", plot.view_csv), ("Parquet", plot.view_parquet))]
    return pn.Column(plot, pn.Row(*buttons, margin=(0, 0, 6, 0)), sizing_mode="stretch_width", margin=0)


def file_bytes(frame: Any, kind: str) -> bytes:
    """A tidy frame (times zoned) as the bytes of a CSV (ISO 8601 times) or Parquet file."""
    if kind == "csv":
        frame = frame.assign(time=frame["time"].map(lambda t: t.isoformat()))
        return frame.to_csv(index=False).encode()
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


class DownloadHandler(ViewerRoute):
    """``GET /download?panel=NAME`` (or ``metric=NAME``) ``&format=csv|parquet&from=&to=&tz=&columns=``: the
    samples of a plot in a range (the plot's live window up to now by default), or with ``columns`` what a
    plot that wide draws there (the ``X-Dashboard-Grid`` header says where the columns lie). Open to
    whoever may open the page (:class:`~dashboard.auth.ViewerRoute`)."""

    def initialize(self, dashboard: Callable[[], Any]) -> None:
        self._dashboard = dashboard

    def get(self) -> None:
        try:
            frame, name, kind = self._request()
        except ValueError as exc:
            self.set_status(400)
            self.finish({"error": str(exc)})
            return
        self.set_header("Content-Type", FORMATS[kind][0])
        self.set_header("Content-Disposition", f'attachment; filename="{name}.{FORMATS[kind][1]}"')
        if "grid" in frame.attrs:  # (a Parquet file carries it too, in pandas' metadata)
            self.set_header("X-Dashboard-Grid", "; ".join(f"{k}={v}" for k, v in frame.attrs["grid"].items()))
        self.finish(file_bytes(frame, kind))

    def _request(self) -> tuple[Any, str, str]:
        """The rows asked for, their file's name and its format; ValueError naming the field otherwise."""
        kind = self.get_query_argument("format", "csv")
        if kind not in FORMATS:
            raise ValueError(f"format: expected csv or parquet, got {kind[:40]!r}")
        tz = self.get_query_argument("tz", "UTC") or "UTC"
        if tz not in time_zones():
            raise ValueError(f"tz: expected an IANA time zone name such as 'Europe/Paris', got {tz[:60]!r}")
        dash = self._dashboard()
        panel, metric = self.get_query_argument("panel", ""), self.get_query_argument("metric", "")
        plots = {n: p for n, p in dash.named_panels().items() if hasattr(p, "view_frame")}
        if panel and panel not in plots:
            raise ValueError(f"panel: no plot is named {panel[:80]!r} (plots: {', '.join(plots)})")
        if not panel and not metric:
            raise ValueError("give panel=NAME (a plot of the dashboard) or metric=NAME")
        start, end = self._range(plots[panel].window if panel else None, dash.service.window)
        columns = self._columns()
        if panel:
            return plots[panel].view_frame(start, end, tz, columns), plots[panel].file_name(), kind
        frame = dash.service.frame(metric, start=start, end=end, columns=columns)
        frame["time"] = frame["time"].dt.tz_convert(tz)
        return frame, safe_name(metric), kind

    def _columns(self) -> int | None:
        """``columns=N``: the range as a plot N pixels wide draws it (min and max per column), not every sample."""
        text = self.get_query_argument("columns", "")
        if not text:
            return None
        if not text.isdigit():  # (its bounds are the frame's: columns_frame says when it is out of them)
            raise ValueError(f"columns: expected a whole number from 1 to 100000, got {text[:40]!r}")
        return int(text)

    def _range(self, window: float | None, default: float) -> tuple[float, float]:
        from ..metrics.frames import to_epoch

        times: dict[str, float | None] = {}
        for field in ("from", "to"):
            text = self.get_query_argument(field, "")
            try:
                times[field] = to_epoch(text) if text else None
            except ValueError as exc:
                raise ValueError(f"{field}: {exc}") from None
        end = times["to"] if times["to"] is not None else time.time()
        start = times["from"] if times["from"] is not None else end - (window or default)
        if not end > start:
            raise ValueError(f"from/to: expected from < to, got {start} and {end}")
        return start, end


def safe_name(text: str | None) -> str:
    """A file name from a metric (a name from a source: only ``[\\w.-]`` kept)."""
    return re.sub(r"[^\w.-]+", "_", text or "metrics")[:100] or "metrics"
