"""One live plot embedded in other pages, in Chromium: a page served by another HTTP server on another
loopback port embeds one panel with ``bokeh.embed.server_document`` and one in an ``<iframe>``; both grow.
The same page from an origin that was not allowed shows a visible refusal in place of the plot, its
``<iframe>`` is refused by the browser, and the websocket answers such an origin 403."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ..history.test_server_history import Server
from ..support import poll
from .conftest import figure_js, free_port

pytestmark = [pytest.mark.browser, pytest.mark.server]

SPEC = """title: embedded
system: false
sources:
  - type: synthetic
    name: waves
    rate: 20
    series_count: 2
    interval: 0.1
panels:
  - metric: synthetic
    title: Waves
    id: waves
  - metric: synthetic
    title: Waves again
"""

ROWS_JS = figure_js("{title}", """
    const line = m.renderers.find(r => r.data_source && r.data_source.data.time);
    return line ? line.data_source.get_length() : 0;""")


def rows(frame, title: str) -> int:
    """Rows of the figure titled ``title`` in ``frame`` (0 before BokehJS has it)."""
    try:
        return frame.evaluate(ROWS_JS.replace("'{title}'", repr(title))) or 0
    except Exception:  # BokehJS not loaded yet
        return 0


#: Every text of the page, shadow roots included (Panel renders its panes in them).
TEXT_JS = """() => { const out = [];
  const walk = (root) => { for (const e of root.querySelectorAll('*')) {
    if (e.shadowRoot) walk(e.shadowRoot);
    for (const n of e.childNodes) if (n.nodeType === 3) out.push(n.textContent); } };
  walk(document); return out.join(' '); }"""

#: The size of the page's one figure.
FIGURE_SIZE_JS = """() => { const out = [];
  const visit = (v) => { out.push(v); for (const c of (v.child_views ?? [])) visit(c); };
  for (const root of Object.values(Bokeh.index)) visit(root);
  const fig = out.find(v => v.model.type === 'Figure');
  const r = fig.el.getBoundingClientRect(); return [r.width, r.height]; }"""

#: The texts of every link of the page, shadow roots included.
LINKS_JS = """() => { const out = [];
  const walk = (root) => { for (const a of root.querySelectorAll('a')) out.push(a.textContent);
    for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot); };
  walk(document); return out; }"""


@contextmanager
def host_page(body: str, port: int | None = None) -> Iterator[str]:
    """An HTTP server on another loopback port (``port``, or a free one) serving one page with ``body``:
    its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def embedding(dashboard_url: str) -> str:
    """The page's body: one panel through server_document, one in an iframe sized by the page."""
    from bokeh.embed import server_document

    script = server_document(f"{dashboard_url}/embed", arguments={"panel": "waves"})
    frame = f'<iframe id="frame" src="{dashboard_url}/embed?panel=synthetic" style="width:600px;height:300px"></iframe>'
    return f'<div id="doc" style="width:700px;height:320px">{script}</div>{frame}'


@pytest.fixture
def dashboard(tmp_path):
    allowed_port = free_port()
    server = Server(tmp_path, tmp_path / "data", "--allow-websocket-origin", f"127.0.0.1:{allowed_port}")
    server.spec_text = SPEC
    server.start()
    server.allowed_port = allowed_port
    yield server
    server.stop()


def test_a_page_of_an_allowed_origin_embeds_two_live_plots(dashboard, page):
    with host_page(embedding(dashboard.url), dashboard.allowed_port) as url:
        page.goto(url)
        poll(lambda: rows(page, "Waves") > 0, timeout=60, what="the server_document plot")
        iframe = next(f for f in page.frames if "/embed" in f.url)
        poll(lambda: rows(iframe, "Waves again") > 0, timeout=60, what="the iframe's plot")
        first = (rows(page, "Waves"), rows(iframe, "Waves again"))
        poll(lambda: rows(page, "Waves") > first[0] + 40 and rows(iframe, "Waves again") > first[1] + 40,
             timeout=30, what="both plots to grow (20 rows/s for more than 2 s)")
        width, height = page.evaluate(FIGURE_SIZE_JS)
        assert width == pytest.approx(700, abs=20) and height > 100, "the plot takes its container's width"
        width, height = iframe.evaluate(FIGURE_SIZE_JS)
        assert width == pytest.approx(600, abs=20) and height == pytest.approx(300, abs=20), \
            "the plot fills its frame"
    assert not page.errors.messages


def test_a_page_of_another_origin_is_refused_visibly(dashboard, page):
    with host_page(embedding(dashboard.url)) as url:
        page.goto(url)
        refusal = poll(lambda: page.evaluate(
            "() => { const e = document.querySelector('.dashboard-embed-refused'); return e && e.textContent; }"),
            timeout=30, what="the refusal in place of the plot")
        origin = url.rstrip("/")
        assert f"a page of {origin} may not embed" in refusal
        assert f"--allow-websocket-origin {origin.split('//')[1]}" in refusal
        assert page.evaluate("() => document.querySelector('#doc .dashboard-embed-refused') !== null")
        assert page.locator(".dashboard-embed-refused").is_visible(), "shown (after the script, not in it)"
        poll(lambda: any(f.url.startswith("chrome-error://") for f in page.frames), timeout=30,
             what="the browser to refuse the iframe (frame-ancestors)")
        assert rows(page, "Waves") == 0
    answer = httpx.get(f"{dashboard.url}/embed/ws", headers={
        "Origin": origin, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, timeout=10)
    assert answer.status_code == 403


def test_embed_without_a_name_lists_the_panels_escaped(dashboard, page):
    page.goto(f"{dashboard.url}/embed")
    poll(lambda: "Panels to embed" in page.evaluate(TEXT_JS), timeout=60, what="the list of panels")
    assert page.evaluate(LINKS_JS) == ["waves", "synthetic", "up"]
    page.goto(f"{dashboard.url}/embed?panel=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    text = poll(lambda: (t := page.evaluate(TEXT_JS)) and "No panel is named" in t and t, timeout=60,
                what="the unknown name, named")
    assert "No panel is named '<img src=x onerror=alert(1)>' here" in text, "shown as text, not a node"
    assert not [m for m in page.errors.messages if m.startswith("dialog")]
