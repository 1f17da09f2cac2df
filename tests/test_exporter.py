"""GET /metrics stays a valid exposition whatever was pushed: /ingest (JSON and text) and PushSource.push
refuse names Prometheus would not take, naming them, and keep the rest of the request; series that came
in with such names another way (a peer's scrape) are exported under valid ones. The exposition is read
back with prometheus_client's parser and with Debian's ``promtool check metrics``."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpserver import HTTPServer
from tornado.web import Application

from dashboard.devtools import free_port
from dashboard.exporter import MetricsHandler
from dashboard.metrics.model import Batch, SeriesKey
from dashboard.server import ingest_patterns
from dashboard.service import MetricsService

from .support import async_poll

pytestmark = pytest.mark.server


@pytest.fixture
async def served():
    svc = MetricsService([], threaded=False)
    app = Application([*ingest_patterns(svc, None), (r"/metrics", MetricsHandler, {"service": svc})])
    port = free_port()
    server = HTTPServer(app)
    server.listen(port, "127.0.0.1")
    try:
        async with svc, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield svc, client
    finally:
        server.stop()


def promtool_problems(text: str) -> str:
    """What ``promtool check metrics`` says is wrong with ``text`` beyond its style lints ('' when none)."""
    tool = shutil.which("promtool")
    assert tool, "promtool (Debian's prometheus package) is needed: .ci/run installs it"
    done = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    lines = (done.stdout + done.stderr).splitlines()
    # lints are advice on naming and help texts (exit status 3 in promtool 2.42); a parse error is not
    return "\n".join(line for line in lines if "error while linting" in line or "parse" in line.lower())


async def test_hostile_names_are_refused_by_item_and_the_exposition_always_parses(served):
    svc, client = served
    body = [{"name": "queue_depth", "value": 7, "labels": {"__script_": "v"}},
            {"name": "queue_depth", "value": 8, "labels": {"worker": "<img src=x onerror=alert(1)> \"\\\n"}},
            {"name": "bad name", "value": 1},
            {"name": "rate", "value": 1, "labels": {"1st": "v"}},
            {"metrics": {"ok_a": 1, "<b>": 2}}]
    r = await client.post("/ingest", json=body)
    answer = r.json()
    assert r.status_code == 200 and answer["accepted"] == 1
    errors = {e["item"]: e for e in answer["errors"]}
    assert sorted(errors) == [1, 3, 4, 5]
    assert "'__script_'" in errors[1]["reason"] and "reserved" in errors[1]["reason"]
    assert errors[1]["field"] == "labels"
    assert "'bad name'" in errors[3]["reason"] and errors[3]["field"] == "name"
    assert "'1st'" in errors[4]["reason"]
    assert "'<b>'" in errors[5]["reason"] and errors[5]["field"] == "metrics"

    text = 'queue_depth{__x="1"} 3\nfine_gauge{host="a"} 2\nx{le-vel="1"} 4\n'
    r = await client.post("/ingest", content=text, headers={"Content-Type": "text/plain"})
    answer = r.json()
    assert answer["accepted"] == 1 and [e["line"] for e in answer["errors"]] == [1, 3]
    assert "__x" in answer["errors"][0]["reason"] and "le-vel" in answer["errors"][1]["reason"]

    push = svc.sources["ingest"]
    with pytest.raises(ValueError, match="'__a'"):
        push.push(ok_b=1.0, labels={"__a": "v"})
    with pytest.raises(ValueError, match=r"'a\.b'"):
        push.push({"a.b": 1.0})

    # series that came another way (a peer's scrape keeps its names): exported under valid names, one
    # sample per label set even where two names became one
    keys = [SeriesKey.of("peer.metric", {"__meta": "1", "a-b": "x", "a_b": "y"}),
            SeriesKey.of("peer-metric", {"__meta": "1", "a-b": "x", "a_b": "y"}),
            SeriesKey.of("9lives", {"source": "theirs"})]
    svc.store.append(Batch("peer", keys, np.array([1.0]), np.array([[1.0], [2.0], [3.0]])))

    await async_poll(lambda: ("queue_depth", (("worker", "<img src=x onerror=alert(1)> \"\\\n"),)) in
                     {(k.name, k.labels) for k in svc.store.keys()} and len(svc.store) >= 5,
                     timeout=10, what="the accepted samples stored")
    exposition = (await client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    assert {"queue_depth", "fine_gauge", "peer_metric", "_9lives"} <= set(families) and "ok_a" not in families
    (peer,) = families["peer_metric"].samples
    assert peer.labels == {"_meta": "1", "a_b": "x", "source": "peer"}
    assert families["queue_depth"].samples[0].labels["worker"] == "<img src=x onerror=alert(1)> \"\\\n"
    assert all(not k.startswith("__") for f in families.values() for s in f.samples for k in s.labels)
    assert promtool_problems(exposition) == ""
