"""Sharing in Chromium: annotations posted over HTTP drawn on the live plots with hostile text shown as
text; snapshots from GET /snapshot, from `dashboard snapshot` and from the page's button, opened from
file:// with every request that is not file:// aborted."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ..support import poll
from .conftest import PageErrors, ServedApp, hover_plot_titled
from .test_sources_page import DEEP_JS, DEEP_TEXT_JS

pytestmark = [pytest.mark.browser, pytest.mark.server]

HOSTILE = "<img src=x onerror=alert(1)> </script> $$x$$"
LABEL = "<b>prod</b>"

# Every text of the page, shadow roots included.
ALL_TEXT_JS = """() => {
  const parts = [];
  const walk = (root) => {
    const nodes = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (nodes.nextNode()) {
      const parent = nodes.currentNode.parentElement;
      if (parent && !['SCRIPT', 'STYLE'].includes(parent.tagName)) parts.push(nodes.currentNode.data);
    }
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return parts.join('\\n');
}"""

# Per figure: its title, rows of its first line's source, outage bands, and annotation marks.
FIGURES_JS = """() => {
  const out = {};
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure') continue;
    const title = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
    const sources = m.renderers.map(r => r.data_source).filter(s => s);
    const lines = sources.filter(s => s.data.time);
    const band = m.renderers.find(r => r.name === 'outages');  // added at a plot's first outage
    const outages = band ? band.data_source : null;
    const notes = sources.find(s => s.data.text);
    out[title] = {rows: lines.length ? lines[0].get_length() : 0, outages: outages ? outages.get_length() : 0,
                  notes: notes ? Array.from(notes.data.text) : []};
  }
  return out;
}"""


def share_app():
    from dashboard.server import ingest_patterns
    from dashboard.service import MetricsService
    from dashboard.sources.synthetic import SyntheticSource
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot
    from dashboard.ui.page import page
    from dashboard.ui.snapshot import SnapshotHandler

    svc = MetricsService([SyntheticSource(name="waves", rate=20, series_count=2, interval=0.1)], window=60)
    MetricsService.set_shared(svc)

    def dashboard():
        svc.start()
        return MetricsDashboard(service=svc, system=False, auto=False, title="share <i>me</i>",
                                panels=[TimeSeriesPlot(service=svc, metric="synthetic", title="Waves"),
                                        TimeSeriesPlot(service=svc, metric="up", title="Up")])

    patterns = [*ingest_patterns(svc, None), (r"/snapshot", SnapshotHandler, {"dashboard": dashboard})]
    return ServedApp(lambda: page(dashboard()), service=svc, extra_patterns=patterns), svc


@pytest.fixture
def shared():
    served, svc = share_app()
    served.start()
    yield served, svc
    served.stop()


def offline(page) -> list[str]:
    """Abort every request that is not for a file; the list of those aborted."""
    aborted: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return aborted


def annotate(served: ServedApp, now: float) -> None:
    body = [{"text": HOSTILE, "time": now - 45, "end": now + 10, "labels": {"env": LABEL}}]
    answer = httpx.post(served.url + "annotations", json=body, timeout=10)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def test_annotations_are_drawn_live_and_hostile_text_stays_text(page, shared):
    served, _ = shared
    page.goto(served.url)
    poll(lambda: page.evaluate(FIGURES_JS).get("Waves", {}).get("rows", 0) > 0, timeout=60, what="the waves drawn")
    before = page.evaluate(DEEP_JS, "img, script")
    markup = page.evaluate(DEEP_JS, "b, mjx-container, .katex")
    annotate(served, time.time())
    poll(lambda: page.evaluate(FIGURES_JS)["Waves"]["notes"] == [HOSTILE], timeout=30,
         what="the annotation on the plot")
    assert page.evaluate(FIGURES_JS)["Up"]["notes"] == [HOSTILE], "on every plot (no label excludes it)"
    assert HOSTILE not in page.evaluate(DEEP_TEXT_JS)
    poll(lambda: hover_plot_titled(page, "Waves") and HOSTILE in page.evaluate(DEEP_TEXT_JS), timeout=15,
         what="the annotation's hover")
    assert f"env={LABEL}" in page.evaluate(DEEP_TEXT_JS), "its labels, as text"
    assert page.evaluate(DEEP_JS, "img, script") == before, "no element was injected"
    assert page.evaluate(DEEP_JS, "b, mjx-container, .katex") == markup, "no markup, no TeX"
    assert not page.errors.messages, page.errors.messages


def check_offline(page, path: Path, title: str) -> dict:
    """Open a snapshot from disk with the network cut: its figures, after checking it asked for nothing."""
    aborted = offline(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30_000)
    poll(lambda: page.evaluate(DEEP_JS, "canvas") >= 2, timeout=30, what="the snapshot's plots drawn")
    assert aborted == [] and requests == [path.as_uri()], "nothing but the file itself"
    assert page.title().startswith(title)
    return page.evaluate(FIGURES_JS)


def test_snapshot_over_http_and_from_the_command_line_opens_offline(page, shared, tmp_path):
    from dashboard.cli import main

    served, svc = shared
    page.goto(served.url)  # the first session starts the service
    poll(lambda: len(svc.frame("synthetic")) >= 2 * 60, timeout=60, what="3 s of waves in the store")
    now = time.time()
    served.call(_outage(svc))
    poll(lambda: svc.frame("up", source="waves")["value"].iloc[-1] == 1.0, timeout=10, what="the source back up")
    annotate(served, now)
    page.close()

    answer = httpx.get(served.url + "snapshot", params={"window": "1m"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="dashboard-')
    by_http = tmp_path / "http.html"
    by_http.write_bytes(answer.content)
    by_cli = tmp_path / "cli.html"
    assert main(["snapshot", served.url, "--window", "1m", "-o", str(by_cli)]) == 0
    assert main(["snapshot", served.url, "--window", "soon", "-o", str(tmp_path / "x.html")]) == 1
    assert not (tmp_path / "x.html").exists()

    for path in (by_http, by_cli):
        assert path.stat().st_size < 5 * 1024 * 1024
        view = page.context.new_page()
        view.errors = PageErrors()
        view.errors.attach(view)
        figures = check_offline(view, path, "share <i>me</i>")
        assert figures["Waves"]["rows"] >= 40 and figures["Waves"]["notes"] == [HOSTILE]
        assert figures["Up"]["outages"] == 1, "the outage band"
        text = view.evaluate(ALL_TEXT_JS)
        assert "share <i>me</i>" in text and HOSTILE in text and f"env={LABEL}" in text, "the list, as text"
        assert view.evaluate(DEEP_JS, "img, i, b, mjx-container, .katex") == 0
        listed = text.count(HOSTILE)
        poll(lambda view=view, listed=listed: hover_plot_titled(view, "Waves") and listed < view.evaluate(
            ALL_TEXT_JS).count(HOSTILE), timeout=15, what="the annotation's hover in the snapshot")
        assert not view.errors.messages, view.errors.messages
        view.close()


async def _outage(svc) -> None:
    """The waves' source down for a moment (what the service writes when a collection fails)."""
    svc._write_outage("waves", time.time())


def test_the_page_button_saves_the_current_view(page, shared, tmp_path):
    served, svc = shared
    page.goto(served.url)
    poll(lambda: len(svc.frame("synthetic")) >= 2 * 40, timeout=60, what="2 s of waves in the store")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Snapshot", exact=True).click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "dashboard-snapshot.html"
    view = page.context.new_page()
    figures = check_offline(view, path, "share <i>me</i>")
    assert figures["Waves"]["rows"] >= 20
    assert not page.errors.messages, page.errors.messages
