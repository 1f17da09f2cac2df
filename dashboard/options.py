"""What each component of a dashboard shows, as plain params: the data half of the Panel components.

A spec (:mod:`dashboard.spec`) is checked against these params, and the components in
:mod:`dashboard.ui` inherit them, so a bound, a type or a default is written once::

    TimeSeriesPlot(PlotOptions, LiveComponent)     # the plot a spec's `type: plot` panel describes
    StatCard(StatOptions, LiveComponent)           # `type: stat`
    MetricsDashboard(DashboardOptions, ...)        # a spec's `title`, `columns` and `system`

This module imports neither panel nor bokeh; Panel's layout params (``width``, ``sizing_mode``, ...) come
with the components themselves.
"""

from __future__ import annotations

import param


class PlotOptions(param.Parameterized):
    """A live line plot of the series of one metric."""

    metric = param.String(default=None, allow_None=True,
                          doc="Metric name to show; None shows every series that matches `labels`.")

    labels = param.Dict(default={}, doc="Only series whose labels have these values.")

    title = param.String(default=None, allow_None=True, doc="Plot title (the metric name by default).")

    unit = param.String(default=None, allow_None=True,
                        doc="Unit of the y axis (taken from the first series' metadata by default).")

    window = param.Number(default=None, allow_None=True, bounds=(1, 7 * 86400),
                          doc="Seconds of history in view (the service's window by default).")

    show_legend = param.Boolean(default=True, doc="Show a legend (click an entry to hide its line).")

    height = param.Integer(default=260, bounds=(60, 4000), allow_None=True,
                           doc="Height in pixels (None: as tall as its container lets it be).")

    log_y = param.Boolean(default=False, doc="A logarithmic y axis (values at or below zero are not drawn).")

    y_min = param.Number(default=None, allow_None=True, bounds=(None, None),
                         doc="The y axis' lower end (None: follow the data).")

    y_max = param.Number(default=None, allow_None=True, bounds=(None, None),
                         doc="The y axis' upper end (None: follow the data).")

    share_y = param.Boolean(
        default=False, doc="Share the y range with the viewer's other plots of the same unit that share theirs "
                           "(one scale to compare them by); a log axis or a fixed y_min/y_max keeps its own.")


class StatOptions(param.Parameterized):
    """The newest value of one series, its unit and its trend."""

    metric = param.String(default="cpu_percent", doc="Metric name of the series shown.")

    labels = param.Dict(default={}, doc="Label values that pick one series of the metric.")

    title = param.String(default=None, allow_None=True, doc="Card title (the metric name by default).")

    unit = param.String(default=None, allow_None=True, doc="Unit shown (the series' own by default).")

    trend_seconds = param.Number(default=60.0, bounds=(1, 7 * 86400),
                                 doc="The trend compares the latest value with the value this long ago.")

    height = param.Integer(default=90, bounds=(40, 1000), allow_None=True,
                           doc="Height in pixels (None: as tall as its container lets it be).")


class DashboardOptions(param.Parameterized):
    """The whole dashboard: a heading, this machine's cards and plots, a grid of panels."""

    title = param.String(default="dashboard: this machine", doc="Heading shown above the dashboard.")

    columns = param.Integer(default=2, bounds=(1, 6), doc="Plots per row.")

    system = param.Boolean(default=True, doc="Show this machine's source, cards and plots.")


class ViewOptions(param.Parameterized):
    """What a dashboard (or one component) shows of time: live or a held range, how often it is redrawn, in
    which time zone and theme. The served page reads and writes them in its URL (:mod:`dashboard.view`)."""

    start = param.Number(default=None, allow_None=True, bounds=(0, None),
                         doc="Where the held view begins, epoch seconds (with end; None while live). Setting "
                             "start and end holds that range, at pixel resolution from the store.")

    end = param.Number(default=None, allow_None=True, bounds=(0, None),
                       doc="Where the held view ends, epoch seconds (with start; None while live).")

    live = param.Boolean(default=True, doc="Follow the newest data (True) or hold the range in view (False). "
                                           "A zoom or a pan in a plot holds; True goes back to live.")

    refresh = param.Number(default=0.0, allow_None=True, bounds=(0, 3600),
                           doc="Seconds between two redraws at least: 0 as fast as the feed allows, None off.")

    timezone = param.String(default=None, allow_None=True,
                            doc="IANA time zone of axes, hovers and tables (None: the browser's in a page, "
                                "the machine's in a notebook).")

    theme = param.Selector(default="auto", objects=["auto", "light", "dark"],
                           doc="Colours: light, dark, or auto (the browser's or JupyterLab's preference).")


#: The options of each ``type`` a spec's panel may have.
PANEL_TYPES: dict[str, type[param.Parameterized]] = {"plot": PlotOptions, "stat": StatOptions}
