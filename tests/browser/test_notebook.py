"""The quickstart notebook, live in JupyterLab in Chromium, as a user runs it.

JupyterLab runs on loopback with no token in a temporary folder holding a copy of the notebooks as
shipped. The test runs all cells from the Run menu and checks that a plot's data keeps advancing in the
page, and that each plot's rows stay in time order after 30 s of streaming (the page sends the kernel only
its own changes: an echo of the kernel's streams, applied a second time there, put rows out of order).
The feed that streams it is the same code that serves ``panel serve`` sessions; in the notebook it pushes
over the cell's comm.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from dashboard.devtools import LocalJupyterLab

from ..support import poll
from .conftest import PLOT_STATE_JS, hover_plot_titled

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ("01-quickstart.ipynb", "04-explore.ipynb")


@pytest.fixture
def jupyterlab(tmp_path):
    for name in NOTEBOOKS:
        (tmp_path / name).write_text((ROOT / "notebooks" / name).read_text())  # as shipped: Run All stays live
    with LocalJupyterLab(tmp_path) as lab:
        yield lab.url


def run_all(page, url: str) -> None:
    """Open the notebook at ``url`` in JupyterLab and run all its cells from the Run menu."""
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator(".jp-Notebook").wait_for()
    idle = page.get_by_text(re.compile(r"\| Idle$"))
    poll(lambda: idle.count() > 0, timeout=90, what="the kernel to start")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_quickstart_notebook_is_live_in_jupyterlab(jupyterlab, page):
    run_all(page, f"{jupyterlab}/lab/tree/01-quickstart.ipynb")
    try:
        state = poll(lambda: _figures_with_data(page), timeout=120, what="a live plot in the notebook")
    except AssertionError as exc:
        page.screenshot(path=str(artifacts() / "notebook-failure.png"), full_page=True)
        diagnosis = page.evaluate("""() => ({bokeh: !!window.Bokeh,
            documents: window.Bokeh ? Bokeh.documents.length : 0,
            outputs: document.querySelectorAll('.jp-OutputArea-output').length})""")
        raise AssertionError(f"{exc}; page: {diagnosis}") from None
    name = "CPU per core" if "CPU per core" in state else next(iter(state))
    last = state[name]["last"]
    for _ in range(3):  # keeps advancing over several seconds, not just once
        last = poll(lambda since=last: _newer(page, name, since), timeout=30, what=f"{name} to receive newer data")
    streaming = time.monotonic()
    poll(lambda: time.monotonic() - streaming > 30 and _newer(page, name, last), timeout=60,
         what="30 s of streaming")
    assert page.evaluate(DISORDER_JS) == [], "rows out of time order after 30 s of streaming"
    card = page.locator(".card-200").first.bounding_box()  # StatCard(width=200) beside a plot
    assert card is not None and 190 <= card["width"] <= 210, card
    assert not [m for m in page.errors.messages if m.startswith(("dialog", "pageerror"))]


def test_the_explore_notebook_s_controls_work_live_in_jupyterlab(jupyterlab, page):
    run_all(page, f"{jupyterlab}/lab/tree/04-explore.ipynb")
    try:
        poll(lambda: page.get_by_text("(300, 'Asia/Tokyo')").count() > 0, timeout=120,
             what="the notebook to run to its last cell (live, 5 min, Tokyo)")
    except AssertionError:
        page.screenshot(path=str(artifacts() / "notebook-run-failure.png"), full_page=True)
        raise
    name = "1 kHz waves"
    last = poll(lambda: _figures_with_data(page).get(name, {}).get("last"), timeout=30, what="the waves")
    last = poll(lambda since=last: _newer(page, name, since), timeout=30, what="the waves to move")
    poll(lambda: page.evaluate(RANGE_TAGS_JS)[0].get("live") == 300_000, timeout=30,
         what="the window the last cell chose (5 min) on the plots' range")
    streaming = time.monotonic()  # 20 flushes a second: a row the kernel applied twice shows within seconds
    poll(lambda: time.monotonic() - streaming > 15 and _newer(page, name, last), timeout=60, what="15 s of waves")
    assert page.evaluate(DISORDER_JS) == [], "rows out of time order after the window changed"
    pause = page.locator(".dashboard-pause button")
    pause.click()
    poll(lambda: "bk-active" in (pause.get_attribute("class") or ""), timeout=10, what="the pause button pressed")
    paused = poll(lambda: _settled(page, name), timeout=10, what="the waves to stop after the pause")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # four checks a second that nothing new is drawn while paused
        assert _figures_with_data(page)[name]["last"] == paused, "drawn while paused"
        page.wait_for_timeout(250)
    pause.click()
    poll(lambda: "bk-active" not in (pause.get_attribute("class") or ""), timeout=10,
         what="the pause button released")
    try:
        poll(lambda: _newer(page, name, paused), timeout=30, what="the waves to move again after the pause")
    except AssertionError as exc:
        page.screenshot(path=str(artifacts() / "notebook-resume-failure.png"), full_page=True)
        raise AssertionError(f"{exc}; comms: {page.evaluate(COMMS_JS)}") from None
    assert page.evaluate(DISORDER_JS) == [], "rows out of time order after pause and resume"

    def zoomed() -> bool:  # the kernel answers a wheel zoom in the cell by holding that range
        if "hold" in page.evaluate(RANGE_TAGS_JS)[0]:
            return True
        if hover_plot_titled(page, name):  # back over the plot: a wheel that missed it scrolled the notebook
            page.mouse.wheel(0, -400)
        return False

    poll(zoomed, timeout=30, interval=0.5, what="a wheel zoom in the cell to hold the view")
    assert "hold" in page.evaluate(RANGE_TAGS_JS)[-1], "every plot of the cell holds"
    page.locator(".bk-tool-icon-reset").first.click()
    try:
        poll(lambda: "live" in page.evaluate(RANGE_TAGS_JS)[0], timeout=60,  # (a busy machine: CI's load run)
             what="the reset tool to go back to live")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; ranges: {page.evaluate(RANGE_TAGS_JS)}; "
                             f"comms: {page.evaluate(COMMS_JS)}") from None
    assert not [m for m in page.errors.messages if m.startswith(("dialog", "pageerror"))]


#: Each plot's data out of time order: (figure, column, index) where a time is not after the one before it
#: (a row sent twice, or a window refilled under rows already there, draws a line back across the plot).
DISORDER_JS = """() => { const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models) {
    if (m.type !== 'Figure') continue;
    const title = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
    for (const r of m.renderers) {
      const data = r.data_source && r.data_source.data;
      if (!data) continue;
      for (const [name, column] of Object.entries(data)) {
        if (!name.startsWith('time')) continue;
        let last = -Infinity;
        for (let i = 0; i < column.length; i++) {
          if (Number.isNaN(column[i])) continue;
          if (!(column[i] > last)) {  // where, and the times around it
            out.push([title, name, i, column.length, Array.from(column.slice(Math.max(0, i - 3), i + 3))]);
            break;
          }
          last = column[i];
        }
      }
    }
  }
  return out; }"""


#: The state of each cell's comm on the page (Panel's CommManager, private: read only to explain a failure):
#: events waiting to go to the kernel, whether it waits for the kernel's answer to the last message, and the
#: frame acknowledgements (flushes the kernel sent, and the last one the page drew).
COMMS_JS = """() => { const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models) {
    if (String(m.type).endsWith('CommManager')) out.push({buffered: (m._event_buffer || []).length, blocked: m._blocked,
      unblocks_in_ms: m._timeout - Date.now(), client: m._client_comm != null, reconnect: m._reconnect});
    if (String(m.type).endsWith('FrameAck')) out.push({sent: m.sent, painted: m.painted});
  }
  return out; }"""


#: What the kernel last told each figure's shared x range: ``{"live": ms}`` or ``{"hold": [start, end]}``.
RANGE_TAGS_JS = """() => { const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.type === 'Figure' && m.x_range.tags.length) out.push(m.x_range.tags[0]);
  return out; }"""


def artifacts() -> Path:
    """Where failing browser tests leave screenshots (ignored by git; CI prints the path)."""
    path = ROOT / ".artifacts"
    path.mkdir(exist_ok=True)
    return path


def _settled(page, name: str) -> float | None:
    """The plot's newest time once it has not moved for half a second (what was in flight has landed)."""
    last = _figures_with_data(page)[name]["last"]
    page.wait_for_timeout(500)
    return last if _figures_with_data(page)[name]["last"] == last else None


def _newer(page, name: str, since: float) -> float | None:
    last = _figures_with_data(page).get(name, {}).get("last")
    return last if last is not None and last > since else None


def _figures_with_data(page) -> dict:
    try:
        state = page.evaluate("() => window.Bokeh ? 1 : 0") and page.evaluate(PLOT_STATE_JS)
    except Exception:
        return {}
    return {k: v for k, v in (state or {}).items() if v and v["rows"] > 0}
