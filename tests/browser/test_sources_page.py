"""Pushed metrics in Chromium: one POST makes a plot appear on every open page, and hostile names and
labels stay literal text everywhere they are shown (titles, legends, hovers, the status table)."""

from __future__ import annotations

import time

import httpx
import pytest

from dashboard.service import MetricsService
from dashboard.sources.prometheus import PrometheusScrape

from .conftest import ServedApp, hover_plot_titled

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Metric and label names are Prometheus names (anything else is refused); label values and source names may
# be any text, and are shown as text.
NAME = "pushed_queue"
LABEL = "</script><script>alert('label')</script>"
IMG = "<img src=x onerror=alert('value')>"
MATH = "$$x^2$$ <b>bold</b>"
MATH_NAME = "pushed_tex"
SOURCE = "<img src=y onerror=alert('source')>"

# Every element of the page, through open shadow roots (Bokeh renders inside them).
DEEP_JS = """(selector) => {
  const found = [];
  const walk = (root) => {
    root.querySelectorAll(selector).forEach(e => found.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return found.length;
}"""

DEEP_TEXT_JS = """() => {
  let text = '';
  const walk = (root) => {
    root.querySelectorAll('*').forEach(e => {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (!e.children.length) text += (e.textContent || '') + '\\n';
    });
  };
  walk(document);
  return text;
}"""

FIGURES_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure') continue;
    const legend = [...m.center, ...m.below].filter(r => r.type === 'Legend')
      .flatMap(l => l.items.map(i => i.label.value));
    const title = m.title.text;
    out.push({title: typeof title === 'string' ? title : title.text, plain: typeof title !== 'string', legend});
  }
  return out;
}"""


@pytest.fixture
def pushed_app():
    from dashboard.server import ingest_patterns
    from dashboard.ui.layout import MetricsDashboard

    svc = MetricsService([PrometheusScrape(name=SOURCE, urls=["http://127.0.0.1:9/metrics"], interval=0.5,
                                           timeout=0.5)], window=120)
    patterns = ingest_patterns(svc, token=None)
    served = ServedApp(lambda: (svc.start(), MetricsDashboard(service=svc, system=False, title="push"))[1],
                       service=svc, extra_patterns=patterns).start()
    yield served
    served.stop()


def figures(page) -> list[dict]:
    return page.evaluate(FIGURES_JS)


def wait_for(page, predicate, timeout: float = 20, what: str = "the page") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(100)


def test_one_post_makes_a_plot_on_every_page_and_hostile_text_stays_text(browser, pushed_app):
    pages = []
    for _ in range(2):
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        dialogs: list[str] = []
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.goto(pushed_app.url)
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30_000)
        pages.append(page)
    before = [p.evaluate(DEEP_JS, "img, script") for p in pages]
    assert all(not [f for f in figures(p) if f["title"] == NAME] for p in pages)

    url = pushed_app.url + "ingest"
    now = time.time()
    body = [{"name": NAME, "value": 5.0, "labels": {"worker": LABEL, "note": IMG}, "timestamp": now - 1},
            {"name": NAME, "value": 5.0, "labels": {"worker": LABEL, "note": IMG}, "timestamp": now},
            {"name": MATH_NAME, "value": 1.0, "labels": {"text": MATH}}]
    r = httpx.post(url, json=body, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 3

    for page in pages:  # one request: a plot on every open page, its legend naming the label set
        wait_for(page, lambda page=page: any(f["title"] == NAME and f["legend"] == [f"note={IMG}, worker={LABEL}"]
                                             for f in figures(page)), what="the pushed metric's plot")
        wait_for(page, lambda page=page: any(f["title"] == MATH_NAME and f["legend"] == [f"text={MATH}"]
                                             for f in figures(page)), what="the second plot")
    assert all(f["plain"] for f in figures(pages[0])), "titles from sources are PlainText, never TeX"

    page = pages[0]
    wait_for(page, lambda: SOURCE in page.evaluate(DEEP_TEXT_JS), what="the status table")
    text = page.evaluate(DEEP_TEXT_JS)
    assert SOURCE in text, "a hostile source name is literal text in the status table"

    # hover the pushed line (between its two samples): the tooltip shows its labels as text, one more time
    # in the page's text
    shown = text.count(IMG)
    wait_for(page, lambda: hover_plot_titled(page, NAME, at="last") and page.evaluate(DEEP_TEXT_JS).count(IMG) > shown,
             timeout=15, what="the hover tooltip")

    for p in pages:
        assert p.dialogs == [], f"a dialog fired: {p.dialogs}"
        assert p.evaluate(DEEP_JS, "img, script") == before[pages.index(p)], "no element was injected"
        assert p.evaluate(DEEP_JS, "b") == 0, "no markup from a name or label was rendered"
        p.close()
