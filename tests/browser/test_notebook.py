"""The quickstart notebook, live in JupyterLab in Chromium, as a user runs it.

JupyterLab runs on loopback with no token in a temporary folder holding a copy of the notebook without
its teardown cell (which would stop the service right after starting it). The test runs all cells from
the Run menu and checks that a plot's data keeps advancing in the page. The feed that streams it is the
same code that serves ``panel serve`` sessions; in the notebook it pushes over the cell's comm.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..support import http_ok, poll, stop_process
from .conftest import PLOT_STATE_JS, free_port

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jupyterlab(tmp_path):
    notebook = json.loads((ROOT / "notebooks" / "01-quickstart.ipynb").read_text())
    notebook["cells"] = [c for c in notebook["cells"] if "teardown" not in c.get("metadata", {}).get("tags", [])]
    (tmp_path / "01-quickstart.ipynb").write_text(json.dumps(notebook))
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"), "JUPYTER_RUNTIME_DIR":
           str(tmp_path / ".runtime"), "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.allow_root=True",
         "--LabApp.extension_manager=readonly"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: http_ok(f"{url}/api/status"), timeout=90, what="JupyterLab to answer")
        yield url
    finally:
        stop_process(proc, timeout=20)
        log.close()


def test_quickstart_notebook_is_live_in_jupyterlab(jupyterlab, page):
    page.set_default_timeout(60_000)
    page.goto(f"{jupyterlab}/lab/tree/01-quickstart.ipynb")
    page.locator(".jp-Notebook").wait_for()
    idle = page.get_by_text(re.compile(r"\| Idle$"))
    poll(lambda: idle.count() > 0, timeout=90, what="the kernel to start")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
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
    card = page.locator(".card-200").first.bounding_box()  # StatCard(width=200) beside a plot
    assert card is not None and 190 <= card["width"] <= 210, card
    assert not [m for m in page.errors.messages if m.startswith(("dialog", "pageerror"))]


def artifacts() -> Path:
    """Where failing browser tests leave screenshots (ignored by git; CI prints the path)."""
    path = ROOT / ".artifacts"
    path.mkdir(exist_ok=True)
    return path


def _newer(page, name: str, since: float) -> float | None:
    last = _figures_with_data(page).get(name, {}).get("last")
    return last if last is not None and last > since else None


def _figures_with_data(page) -> dict:
    try:
        state = page.evaluate("() => window.Bokeh ? 1 : 0") and page.evaluate(PLOT_STATE_JS)
    except Exception:
        return {}
    return {k: v for k, v in (state or {}).items() if v and v["rows"] > 0}
