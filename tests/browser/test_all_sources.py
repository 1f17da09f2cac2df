"""``dashboard serve examples/all-sources.yaml`` in Chromium: a Prometheus exporter, a push feed and a replay
side by side with this machine, all live (the issue's "done when")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ..support import http_ok, poll, stop_process
from .conftest import PLOT_STATE_JS, free_port

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]


def test_all_sources_example_shows_every_source_live(page, tmp_path):
    port = free_port()
    spec = (ROOT / "examples" / "all-sources.yaml").read_text()
    spec = spec.replace("127.0.0.1:5006", f"127.0.0.1:{port}")  # the exporter is this server's own /metrics
    spec = spec.replace("data/training-run.csv", str(ROOT / "examples" / "data" / "training-run.csv"))
    path = tmp_path / "all-sources.yaml"
    path.write_text(spec)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "serve", str(path), "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://127.0.0.1:{port}/"
        # wait on /metrics: polling the page itself would build a whole session per try
        poll(lambda: http_ok(f"{url}metrics"), timeout=60, what="dashboard serve to answer")
        page.goto(url)
        wanted = {"CPU (all cores)", "Exporter: the server's memory", "Replay: training loss",
                  "Replay: training accuracy"}
        poll(lambda: wanted <= {k for k, v in page.evaluate(PLOT_STATE_JS).items() if v and v["rows"] > 1},
             timeout=60, what="the system, exporter and replay plots with data")
        r = httpx.post(f"{url}ingest", json={"metrics": {"queue_depth": 7}, "labels": {"worker": "a"}}, timeout=10)
        assert r.status_code == 200 and r.json()["accepted"] == 1
        poll(lambda: (page.evaluate(PLOT_STATE_JS).get("queue_depth") or {}).get("rows", 0) >= 1, timeout=30,
             what="the pushed metric's plot")
        status = page.locator("table.dashboard-status")
        for source in ("system", "exporter", "ingest", "replay"):
            poll(lambda s=source: status.locator("tr", has_text=s).locator("td.state-connected").count() == 1,
                 timeout=30, what=f"{source} connected in the status table")
        assert page.errors.messages == []
    finally:
        stop_process(proc)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
