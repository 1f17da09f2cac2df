"""POST /ingest over real HTTP: tokens, loopback, body limit, partial writes, caps, and fuzzing."""

from __future__ import annotations

import contextlib
import json
import logging
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado.httpserver import HTTPServer
from tornado.web import Application

from dashboard.devtools import free_port
from dashboard.errors import ParseError
from dashboard.ingest import is_loopback, parse_body, parse_json
from dashboard.metrics.model import SeriesKey
from dashboard.server import ingest_patterns, ingest_refusal
from dashboard.service import MetricsService

from .support import async_poll

TOKEN = "s3cret-token"


class Ingest:
    def __init__(self, token: str | None, max_body: int = 4096) -> None:
        self.service = MetricsService([])
        self.patterns = ingest_patterns(self.service, token, max_body)
        self.source = self.service.sources["ingest"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/ingest"
        self.server = HTTPServer(Application(self.patterns))
        self.server.listen(self.port, "127.0.0.1")


@contextlib.asynccontextmanager
async def running(token: str | None):
    """An ingest endpoint on loopback with its service running, and a client for it."""
    it = Ingest(token)
    try:
        async with it.service, httpx.AsyncClient(timeout=10) as client:
            it.client = client
            yield it
    finally:
        it.server.stop()


@pytest.fixture
async def ingest():
    async with running(TOKEN) as it:
        yield it


@pytest.fixture
async def open_ingest():
    async with running(None) as it:
        yield it


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_token_is_required_and_never_logged(ingest, caplog):
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"name": "loss", "value": 0.5})
    r = await ingest.client.post(ingest.url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "token" in r.json()["error"] and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await ingest.client.post(ingest.url, content=body, headers=auth("wrong"))
    assert r.status_code == 401
    r = await ingest.client.post(f"{ingest.url}?token={TOKEN}", content=body)
    assert r.status_code == 400 and "Authorization" in r.json()["error"], "a token in the URL is refused"
    r = await ingest.client.post(f"{ingest.url}?access_token={TOKEN}", content=body, headers=auth())
    assert r.status_code == 400
    r = await ingest.client.post(ingest.url, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    await async_poll(lambda: SeriesKey.of("loss") in ingest.service.store, timeout=5)
    server_side = [r.getMessage() for r in caplog.records if r.name.startswith(("dashboard", "tornado"))]
    assert any("/ingest" in m for m in server_side), "the access log is on"
    assert not [m for m in server_side if TOKEN in m], "the token is never logged (not even from the refused URL)"


async def test_oversized_body_is_413(ingest):
    big = json.dumps([{"name": "x", "value": i} for i in range(1000)])
    assert len(big) > 4096
    r = await ingest.client.post(ingest.url, content=big, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 413 and "4096" in r.json()["error"]

    async def chunks():  # no Content-Length: refused while streaming
        for _ in range(10):
            yield b"x" * 1000

    r = await ingest.client.post(ingest.url, content=chunks(), headers=auth())
    assert r.status_code == 413
    assert ingest.source.accepted == 0 and ingest.source.pending == 0


async def test_good_lines_are_kept_bad_ones_reported_by_line(ingest):
    text = 'requests_total{path="/a"} 5\nthis is not a sample\ntemperature 21.5\nx{a=b} 1\n'
    r = await ingest.client.post(ingest.url, content=text, headers={**auth(), "Content-Type": "text/plain"})
    assert r.status_code == 200
    answer = r.json()
    assert answer["accepted"] == 2 and answer["error_count"] == 2
    assert [e["line"] for e in answer["errors"]] == [2, 4] and all(e["reason"] for e in answer["errors"])
    items = [{"name": "a", "value": 1}, {"name": "b", "value": "high"}, 7, {"metrics": {"c": 2, "d": 3}},
             {"name": "e", "value": 1, "colour": "red"}, {"name": "f", "value": 1, "timestamp": 1.7e12}]
    r = await ingest.client.post(ingest.url, json=items, headers=auth())
    answer = r.json()
    assert r.status_code == 200 and answer["accepted"] == 3
    errors = {e["item"]: e for e in answer["errors"]}
    assert set(errors) == {2, 3, 5, 6}
    assert errors[2]["field"] == "value" and "'high'" in errors[2]["reason"]
    assert "milliseconds" in errors[6]["reason"]
    text_plain = {**auth(), "Content-Type": "text/plain"}
    r = await ingest.client.post(ingest.url, content="only garbage here\n", headers=text_plain)
    assert r.status_code == 400 and r.json()["accepted"] == 0, "400 when nothing was good"
    r = await ingest.client.post(ingest.url, content="{not json",
                                 headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["body"] == 1
    await async_poll(lambda: all(SeriesKey.of(n) in ingest.service.store for n in ("temperature", "a", "c", "d")),
                     timeout=5)


async def test_the_answer_comes_once_the_samples_are_stored(ingest):
    """``"stored": true`` means in the store already (and in the log with history): no wait after it."""
    start = time.time() - 60
    for round_ in range(5):
        body = [{"name": "answered", "value": float(i), "timestamp": start + round_ * 10 + i} for i in range(10)]
        r = await ingest.client.post(ingest.url, json=body, headers=auth())
        assert r.json()["accepted"] == 10 and r.json()["stored"] is True
        assert ingest.service.store.size(SeriesKey.of("answered")) == 10 * (round_ + 1)


async def test_series_cap_is_counted_and_shown(ingest):
    ingest.source.max_series_per_metric = 3
    items = [{"name": "per_path", "value": 1, "labels": {"path": f"/{i}"}} for i in range(10)]
    r = await ingest.client.post(ingest.url, json=items, headers=auth())
    assert r.status_code == 200 and r.json() == {"accepted": 3, "stored": True, "overflow": 7, "errors": [],
                                                "error_count": 0}
    await async_poll(lambda: ingest.service.store.size(ingest.source.overflow_key) > 0, timeout=5)
    assert ingest.service.store.latest(ingest.source.overflow_key)[1] == 7.0
    await async_poll(lambda: ingest.source.overflow == 7, timeout=5)
    from dashboard.ui.status import SourceStatus

    rows = SourceStatus(service=ingest.service).rows()
    assert rows["dropped"][rows["source"].index("ingest")] == "7", "the status table shows the overflow"


async def test_without_a_token_loopback_is_served(open_ingest):
    r = await open_ingest.client.post(open_ingest.url, content="up_metric 1\n")
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_only_loopback_may_go_without_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.9.1")
    assert not is_loopback("10.0.0.1") and not is_loopback("192.168.1.2") and not is_loopback(None)
    assert ingest_refusal("127.0.0.1", None) is None and ingest_refusal("0.0.0.0", "tok") is None
    assert "not a loopback address" in ingest_refusal("0.0.0.0", None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["application/json", "text/plain", "", "application/x-foo"]))
def test_any_body_gives_samples_or_our_errors(body, content_type):
    _samples, errors = parse_body(body, content_type)
    assert all(isinstance(e, ParseError) and e.line >= 1 for e in errors)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
names = st.text(min_size=1, max_size=30).filter(lambda n: n.strip())
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True))
plausible = st.fixed_dictionaries(  # mostly valid items: the paths past the first checks get exercised
    {"name": names, "value": numbers},
    optional={"labels": st.dictionaries(names, st.one_of(st.text(max_size=30), numbers), max_size=3),
              "timestamp": st.one_of(st.floats(0, 3e9), st.floats(1e11, 1e13), st.integers(-5, 3 * 10**9))})
items = st.one_of(
    plausible,
    json_values,
    st.fixed_dictionaries({"name": st.text(max_size=30), "value": json_values},
                          optional={"labels": json_values, "timestamp": json_values, "type": json_values}),
    st.fixed_dictionaries({"metrics": st.dictionaries(st.text(max_size=20), json_values, max_size=4)},
                          optional={"labels": json_values}))


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=8))
def test_any_json_items_are_each_kept_or_reported(values):
    _samples, errors = parse_json(json.dumps(values))
    assert all(isinstance(e, ParseError) and e.unit == "item" and 1 <= e.line <= len(values) for e in errors)
    assert len({e.line for e in errors}) == len(errors), "one error per bad item"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), st.lists(items, max_size=5).map(lambda v: json.dumps(v).encode())),
       content_type=st.sampled_from(["application/json", "text/plain"]))
def test_the_endpoint_answers_any_body_with_200_or_400(body, content_type):
    import asyncio

    async def post() -> httpx.Response:
        it = Ingest(TOKEN)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                return await client.post(it.url, content=body,
                                         headers={**auth(), "Content-Type": content_type})
        finally:
            it.server.stop()

    r = asyncio.run(post())
    assert r.status_code in (200, 400)
    answer = r.json()
    assert answer["error_count"] == len(answer["errors"]) or answer["error_count"] > 100
    assert (r.status_code == 400) == (answer["accepted"] == 0 and answer["overflow"] == 0 and answer["error_count"] > 0)


def test_a_json_item_may_say_it_is_a_counter():
    samples, errors = parse_json(json.dumps([
        {"name": "tokens_total", "value": 12345678, "type": "counter"},
        {"metrics": {"loss": 0.3}},
        {"name": "x", "value": 1, "type": "histogram"}]))
    assert [(s.key.name, s.kind) for s in samples] == [("tokens_total", "counter"), ("loss", "gauge")]
    assert [(e.line, e.field) for e in errors] == [(3, "type")] and "gauge or counter" in errors[0].reason
