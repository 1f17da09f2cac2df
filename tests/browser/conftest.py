"""Browser-tier fixtures: Debian's Chromium through Playwright, and the app served in-process on loopback.

Chromium is found at ``$CHROMIUM`` or ``/usr/bin/chromium`` (never downloaded). Without it the browser
tests skip with the reason, except when ``DASHBOARD_REQUIRE_BROWSER=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Every figure's newest time and length, as the page holds them.
PLOT_STATE_JS = """() => {
  const out = {};
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure') continue;
    const title = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;  // str or PlainText
    const sources = m.renderers.filter(r => r.data_source && r.data_source.data.time);
    if (!sources.length) { out[title] = null; continue; }
    const ds = sources[0].data_source;
    const t = ds.data.time;
    out[title] = {rows: ds.get_length(), last: t.length ? t[t.length - 1] : null};
  }
  return out;
}"""


def figure_js(title: str, body: str) -> str:
    """A page function that finds the figure titled ``title`` (str or PlainText) and returns ``body``'s
    value for it (``body`` sees it as ``m``), or null when there is none."""
    return f"""() => {{
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {{
    if (m.type !== 'Figure') continue;
    const title = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
    if (title !== {title!r}) continue;
    {body}
  }}
  return null;
}}"""


def pumping(page: Any, predicate: Callable[[], Any]) -> Callable[[], Any]:
    """``predicate``, after letting Playwright deliver ``page``'s pending events (frames, closes): its sync API
    delivers them only while the test calls it, so a poll of a list those events fill, sleeping between
    looks, would never see what came after its last call."""
    def check() -> Any:
        page.wait_for_timeout(20)
        return predicate()
    return check


def chromium_path() -> str | None:
    """``$CHROMIUM`` if set (and present), else Debian's ``/usr/bin/chromium`` or ``chromium`` on PATH."""
    asked = os.environ.get("CHROMIUM")
    if asked:
        return asked if os.path.exists(asked) else None
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (Playwright's sync API holds an event loop while it runs, so it must
    be closed before the async tests of other modules)."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium found at $CHROMIUM or /usr/bin/chromium (apt-get install chromium)"
        if os.environ.get("DASHBOARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DASHBOARD_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        if os.environ.get("DASHBOARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DASHBOARD_REQUIRE_BROWSER=1 but playwright is missing: {exc}")
        pytest.skip(f"playwright is missing: {exc}")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions of one page."""

    messages: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.messages.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.messages.append(f"request failed: {r.url} ({r.failure})"))
        page.on("dialog", lambda d: (self.messages.append(f"dialog: {d.message}"), d.dismiss()))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.errors = PageErrors()
    pg.errors.attach(pg)
    yield pg
    context.close()


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedApp:
    """The app served by ``pn.serve`` in a thread of its own (with its own event loop), on loopback."""

    def __init__(self, app: Callable[[], Any], service: Any = None, extra_patterns: list | None = None) -> None:
        self.service = service
        self.extra_patterns = extra_patterns or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self._app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: Any = None

    def start(self) -> ServedApp:
        import panel as pn

        def session() -> Any:  # a plain function: pn.serve treats a bound method as a pane, not an app
            self.loop = asyncio.get_running_loop()
            return self._app()

        self._thread = pn.serve(
            session, port=self.port, address="127.0.0.1", threaded=True, show=False, start=True,
            websocket_origin=[f"127.0.0.1:{self.port}", f"localhost:{self.port}"],
            # Reap closed sessions quickly, but give a page time to open its websocket: a session reaped
            # before that is re-created by the websocket without the page's local resources.
            check_unused_sessions_milliseconds=500, unused_session_lifetime_milliseconds=10_000,
            extra_patterns=self.extra_patterns)
        deadline = time.monotonic() + 30
        while not _accepts(self.port):
            assert time.monotonic() < deadline, "the server did not listen within 30 s"
            time.sleep(0.05)
        return self

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine in the server's loop and wait for its result."""
        assert self.loop is not None, "no session was opened yet"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def service_collections(self) -> int:
        """Collections so far of the served service's system source."""
        from dashboard.service import MetricsService

        return (self.service or MetricsService.shared()).sources["system"].collections

    def stop(self) -> None:
        from dashboard.service import MetricsService

        svc = self.service or MetricsService.shared()
        if svc is not None and self.loop is not None:
            self.call(svc.shutdown())
        self._thread.stop()
        self._thread.join(10)
        # A session callback that the stop cut off mid-await leaves its document in Bokeh's process-wide list
        # of patched curdocs; Panel would then take it for every thread's current document (and share its
        # stylesheet models with documents made later: "Models must be owned by only a single document").
        from bokeh.io import doc as bokeh_doc

        bokeh_doc._PATCHED_CURDOCS.clear()


@pytest.fixture
def served() -> Iterator[ServedApp]:
    from dashboard.server import build_app

    app = ServedApp(build_app).start()
    yield app
    app.stop()


def hover_plot_titled(page, title: str, at: float | str = 0.95) -> bool:
    """Move the mouse into the plot area of the figure titled ``title``, half-way down: at ``at`` of its width
    (the x range spans the whole window, so the newest data are at the right edge), or with ``at="last"``
    half-way between a line's last two samples (data that stopped arriving drift left as time passes)."""
    box = page.evaluate("""([title, at]) => {
      const out = [];
      const visit = (v) => { out.push(v); for (const c of (v.child_views ?? [])) visit(c); };
      for (const root of Object.values(Bokeh.index)) visit(root);
      const text = (m) => typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
      const fig = out.find(v => v.model.type === 'Figure' && text(v.model) === title);
      if (!fig) return null;
      fig.el.scrollIntoView({block: 'center'});
      const r = fig.el.getBoundingClientRect();
      const f = fig.frame.bbox;
      if (at !== 'last') return {x: r.left + f.x + f.width * at, y: r.top + f.y + f.height / 2};
      const t = fig.model.renderers.map(g => g.data_source.data.time).find(t => t && t.length > 1);
      if (!t) return null;
      const x = fig.frame.x_scale.compute((t[t.length - 2] + t[t.length - 1]) / 2);
      return {x: r.left + x, y: r.top + f.y + f.height / 2};
    }""", [title, at])
    if box is None:
        return False
    page.mouse.move(box["x"] - 5, box["y"])
    page.mouse.move(box["x"], box["y"])
    return True
