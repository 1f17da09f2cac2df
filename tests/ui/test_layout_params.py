"""Panel's layout params on every component, rendered into real Bokeh documents (the model tier)."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import Div, GlyphRenderer, Line

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import Feed, MetricsDashboard, SourceStatus, StatCard, TimeSeriesPlot
from dashboard.ui.auto import AutoPlots

CPU = SeriesKey.of("cpu_percent")


@pytest.fixture
def svc():
    service = MetricsService([])
    service._write(Batch("sys", (CPU,), np.array([1.0, 2.0]), np.array([[1.0, 2.0]]), {CPU: SeriesInfo("%")}))
    return service


def render(component, doc=None):
    """The component's root model in a new (or the given) document, and the viewer's feed."""
    doc = doc or Document()
    root = component.get_root(doc)
    doc.add_root(root)
    return root, Feed.for_document(doc)


def the_view_model(feed, component_type):
    """The model of the one view of a component of ``component_type`` (what the page draws)."""
    (view,) = [v for v in feed.views if type(v.component) is component_type]
    return view.model


COMPONENTS = [
    (TimeSeriesPlot, {"metric": "cpu_percent"}),
    (StatCard, {"metric": "cpu_percent"}),
    (SourceStatus, {}),
    (AutoPlots, {}),
]


@pytest.mark.parametrize(("cls", "options"), COMPONENTS, ids=[c.__name__ for c, _ in COMPONENTS])
@pytest.mark.parametrize("layout", [
    {"sizing_mode": "fixed", "width": 300, "height": 200},
    {"sizing_mode": "stretch_width", "min_height": 150, "margin": (4, 8)},
    {"sizing_mode": "stretch_both", "visible": True, "css_classes": ["mine"], "styles": {"border": "1px solid"}},
    {"width": 200, "visible": False, "sizing_mode": "fixed"},
], ids=["fixed", "stretch_width", "stretch_both", "width_hidden"])
def test_layout_params_reach_each_viewers_model(svc, cls, options, layout):
    component = cls(service=svc, **options, **layout)
    _, feed = render(component)
    model = the_view_model(feed, cls)
    for name, value in layout.items():
        assert getattr(model, name) == value, name
    if layout.get("sizing_mode") == "stretch_both" and cls is TimeSeriesPlot:
        assert model.height is None and model.min_height == 260, "the container decides, at least 260 px"
    component._cleanup(feed.doc.roots[0])
    assert feed.closed


def test_defaults_stretch_to_the_width_at_the_usual_height(svc):
    plot, card = TimeSeriesPlot(service=svc, metric="cpu_percent"), StatCard(service=svc, metric="cpu_percent")
    _, feed = render(pn.Column(plot, card))
    assert the_view_model(feed, TimeSeriesPlot).sizing_mode == "stretch_width"
    assert the_view_model(feed, TimeSeriesPlot).height == 260
    assert the_view_model(feed, StatCard).height == 90


def test_a_width_alone_is_a_fixed_width(svc):
    _, feed = render(StatCard(service=svc, metric="cpu_percent", width=200))
    model = the_view_model(feed, StatCard)
    assert model.width == 200 and model.sizing_mode == "fixed"


def test_a_change_after_rendering_reaches_the_model(svc):
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    _, feed = render(plot)
    model = the_view_model(feed, TimeSeriesPlot)
    plot.param.update(height=400, visible=False)
    assert model.height == 400 and model.visible is False


def test_bounds_come_from_the_options(svc):
    with pytest.raises(ValueError, match="height"):
        TimeSeriesPlot(service=svc, metric="cpu_percent", height=10)


def test_plots_in_a_row_are_a_view_each_and_all_leave(svc):
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    row = pn.Row(plot, TimeSeriesPlot(service=svc, metric="cpu_percent", width=300, sizing_mode="fixed"))
    root, feed = render(row)
    lines = [r for r in root.select({"type": GlyphRenderer}) if isinstance(r.glyph, Line)]
    assert len(feed.views) == 2 and len(lines) == 2 and len({id(ln.data_source) for ln in lines}) == 1
    row._cleanup(root)
    assert feed.views == [] and feed.closed and svc.publisher.subscriber_count == 0


def test_the_same_plot_twice_in_one_layout_is_one_model_as_panel_does(svc):
    """Panel reuses the model of an object that one root shows twice (any component, a widget too)."""
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    row = pn.Row(plot, plot)
    root, feed = render(row)
    assert len(feed.views) == 1 and root.children[0] is root.children[1]
    row._cleanup(root)
    assert feed.closed


def test_tabs_and_a_template(svc):
    tabs = pn.Tabs(("plot", TimeSeriesPlot(service=svc, metric="cpu_percent")),
                   ("card", StatCard(service=svc, metric="cpu_percent", width=200)))
    root, feed = render(tabs)
    assert len(feed.views) == 2 and the_view_model(feed, StatCard).width == 200
    tabs._cleanup(root)
    dash = MetricsDashboard(service=svc, sizing_mode="stretch_width")
    template = pn.template.BootstrapTemplate(title="t", main=[dash])
    doc = template.server_doc(Document())
    feed = Feed.for_document(doc)
    assert feed is not None and any(type(v.component) is TimeSeriesPlot for v in feed.views)
    feed.close()


def test_the_dashboard_passes_its_layout_to_its_column(svc):
    dash = MetricsDashboard(service=svc, sizing_mode="stretch_both", margin=0, system=False)
    root, _ = render(dash)
    assert root.sizing_mode == "stretch_both" and root.margin == 0
    assert any(isinstance(m, Div) for m in root.select({"type": Div}))


def test_plot_options_units_log_scale_and_limits(svc):
    from bokeh.models import CustomJSHover, CustomJSTickFormatter, HoverTool, LogScale

    plot = TimeSeriesPlot(service=svc, metric="cpu_percent", unit="B/s", log_y=True, y_min=1.0, y_max=1e9)
    _, feed = render(plot)
    fig = the_view_model(feed, TimeSeriesPlot)
    assert isinstance(fig.y_scale, LogScale) and (fig.y_range.start, fig.y_range.end) == (1.0, 1e9)
    hover = fig.select_one({"type": HoverTool, "name": "series"}).formatters["$snap_y"]
    assert isinstance(hover, CustomJSHover) and hover.args == {"unit": "B/s"}, "the unit travels as data"
    linear = TimeSeriesPlot(service=svc, metric="cpu_percent", unit="<b>s</b>")
    _, feed = render(linear)
    (axis,) = the_view_model(feed, TimeSeriesPlot).yaxis
    assert isinstance(axis.formatter, CustomJSTickFormatter) and axis.formatter.args == {"unit": "<b>s</b>"}
    assert "<b>" not in axis.formatter.code


def test_the_time_zone_reaches_the_time_axis_and_the_hover_and_follows_a_change(svc):
    from bokeh.models import HoverTool

    plot = TimeSeriesPlot(service=svc, metric="cpu_percent", timezone="Asia/Tokyo")
    _, feed = render(plot)
    fig = the_view_model(feed, TimeSeriesPlot)
    (xaxis,) = fig.xaxis

    def hover():  # the formatter of each zone is one model per viewer, shared by its plots
        return fig.select_one({"type": HoverTool, "name": "series"}).formatters["@time"]

    assert xaxis.formatter.args == {"tz": "Asia/Tokyo"} and hover().args == {"tz": "Asia/Tokyo"}
    plot.timezone = "America/New_York"
    assert xaxis.formatter.args == {"tz": "America/New_York"} and hover().args == {"tz": "America/New_York"}
    plot.timezone = None
    assert xaxis.formatter.args == {"tz": ""}, "the browser's own zone"
    with pytest.raises(ValueError, match="IANA time zone"):
        plot.timezone = "Nowhere/Special"


def test_every_plot_of_a_viewer_shares_one_crosshair(svc):
    from bokeh.models import CrosshairTool, HoverTool, Plot, Span

    plots = [TimeSeriesPlot(service=svc, metric="cpu_percent"), TimeSeriesPlot(service=svc, metric="cpu_percent")]
    root, _ = render(pn.Column(*plots))
    (tool,) = root.select({"type": CrosshairTool})
    figures = [m for m in root.references() if isinstance(m, Plot)]
    assert len(figures) == 2 and all(tool in f.toolbar.tools for f in figures), "in every plot's toolbar"
    assert isinstance(tool.overlay, Span)
    series_hovers = root.select({"type": HoverTool, "name": "series"})
    assert all(h.mode == "vline" for h in series_hovers), "each series' value at that time"
    other_root, _ = render(TimeSeriesPlot(service=svc, metric="cpu_percent"))
    assert other_root.select_one({"type": CrosshairTool}) is not tool, "one per viewer"
