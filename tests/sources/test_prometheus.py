"""Prometheus sources against real parts: a prometheus_client exporter and Debian's Prometheus server."""

from __future__ import annotations

import asyncio
import math
import shutil
import time

import numpy as np
import pytest

from dashboard.core.resilience import RetryPolicy
from dashboard.devtools import Exporter, LocalPrometheus
from dashboard.errors import DataError
from dashboard.metrics.model import SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.prometheus import PrometheusQuery, PrometheusScrape
from dashboard.sources.synthetic import SyntheticSource

from ..support import async_poll


def latest(svc: MetricsService, key: SeriesKey) -> float:
    return svc.store.latest(key)[1] if key in svc.store else math.nan


@pytest.fixture
def exporter():
    with Exporter() as e:
        yield e


async def test_scrape_turns_counters_into_rates_and_histograms_into_means(exporter, leak_check):
    src = PrometheusScrape(name="app", urls=[exporter.url], interval=0.2, include=["demo_*"])
    svc = MetricsService([src])
    instance = f"127.0.0.1:{exporter.port}"
    rate = SeriesKey.of("demo_requests_total", path="/a", instance=instance)
    gauge = SeriesKey.of("demo_in_flight", instance=instance)
    count = SeriesKey.of("demo_latency_seconds_count", instance=instance)
    mean = SeriesKey.of("demo_latency_seconds_mean", instance=instance)
    summary_mean = SeriesKey.of("demo_response_bytes_mean", instance=instance)
    async with svc:
        exporter.requests.labels("/a").inc(0)
        exporter.in_flight.set(7)
        await async_poll(lambda: rate in svc.store and svc.store.size(rate) >= 2, timeout=10, what="two scrapes")
        stop = time.monotonic() + 3
        while time.monotonic() < stop:  # 100 requests/s of 0.5 s and 2 KB each, as the exporter sees them
            exporter.requests.labels("/a").inc(5)
            for _ in range(5):
                exporter.latency.observe(0.5)
                exporter.size.observe(2048)
            await asyncio.sleep(0.05)
        await async_poll(lambda: math.isfinite(latest(svc, mean)), timeout=5, what="a mean")
    _t, rates = svc.store.window(rate, 1e9)
    assert np.nanmedian(rates[-8:]) == pytest.approx(100, rel=0.35), "a counter is a per-second rate"
    assert latest(svc, gauge) == 7.0, "a gauge is its value"
    assert np.nanmedian(svc.store.window(count, 1e9)[1][-8:]) == pytest.approx(100, rel=0.35)
    assert latest(svc, mean) == pytest.approx(0.5), "mean = rate(_sum) / rate(_count)"
    assert latest(svc, summary_mean) == pytest.approx(2048)
    assert not [k for k in svc.keys() if k.name.endswith(("_bucket", "_created"))], "buckets stay out"
    assert not [k for k in svc.keys(source="app") if k.name.startswith(("python_", "process_"))], "include"
    assert src.connection == "stopped" and src.failures == 0


async def test_scrape_filters_and_caps_a_large_exporter(exporter, leak_check):
    for i in range(50):
        exporter.requests.labels(f"/p{i}").inc()
    src = PrometheusScrape(name="app", urls=[exporter.url], interval=0.2, include=["demo_*"],
                           exclude=["demo_latency*"], match_labels={}, max_series=20)
    svc = MetricsService([src])
    async with svc:
        await async_poll(lambda: src.collections >= 2, timeout=10)
    keys = svc.keys(source="app")
    assert len([k for k in keys if k.name != "up"]) == 20
    assert src.dropped_series > 0, "what the cap left out is counted"
    assert not [k for k in keys if k.name.startswith("demo_latency")], "exclude"

    only = PrometheusScrape(name="one", urls=[exporter.url], interval=0.2, match_labels={"path": "/p3"})
    svc2 = MetricsService([only])
    async with svc2:
        await async_poll(lambda: only.collections >= 1, timeout=10)
    assert [k.label("path") for k in svc2.keys(source="one") if k.name != "up"] == ["/p3"]


async def test_exporter_killed_and_restarted_retries_opens_the_circuit_and_recovers(exporter, leak_check):
    """The state goes through retrying and circuit_open and back; the gap covers the outage exactly; the
    other source keeps collecting."""
    src = PrometheusScrape(name="app", urls=[exporter.url], interval=0.1, timeout=1, include=["demo_in_flight"])
    steady = SyntheticSource(name="steady", rate=20, series_count=1)
    svc = MetricsService([src, steady], failure_threshold=3, reset_timeout=0.5,
                         retry=RetryPolicy(base=0.05, factor=2, cap=0.2, jitter=0))
    states: list[str] = []
    src.state_machine.on_change(lambda t: states.append(t.target.value))
    key = SeriesKey.of("demo_in_flight", instance=f"127.0.0.1:{exporter.port}")
    outages = []
    async with svc:
        exporter.in_flight.set(1)
        for cycle in range(3):
            expected = float(cycle + 1)
            await async_poll(lambda e=expected: src.connection == "connected" and key in svc.store
                             and (svc.store.window(key, 1e9)[1][-3:] == e).all(),
                             timeout=15, what="connected, three good scrapes")
            down_from = time.time()
            exporter.stop()
            await async_poll(lambda: src.connection == "circuit_open", timeout=15, what="circuit open")
            steady_before = steady.collections
            await asyncio.sleep(0.3)  # the outage lasts a while
            exporter.in_flight.set(cycle + 2)
            up_at = time.time()
            exporter.start()
            outages.append((down_from, up_at))
            assert steady.collections > steady_before, "the other source kept collecting during the outage"
        await async_poll(lambda: src.connection == "connected" and latest(svc, key) == 4.0, timeout=15)
    for state in ("retrying", "circuit_open", "connecting", "connected"):
        assert state in states
    assert states.count("circuit_open") >= 3 and src.failures >= 9
    t, v = svc.store.window(key, 1e9)
    for down_from, up_at in outages:
        inside = (t > down_from + 0.15) & (t < up_at)  # a scrape in flight when it stopped may still land
        assert inside.any() and np.isnan(v[inside]).all(), "the outage is a gap in the store"
        assert np.isfinite(v[t < down_from][-3:]).all(), "data up to the outage"
        back = t[(t > up_at) & np.isfinite(v)]
        assert back[0] - up_at < 0.5 + 1.0, "data again within the breaker's reset timeout of the restart"
    _up_t, up_v = svc.store.window(src.up_key, 1e9)
    assert (up_v == 0).sum() >= 9 and up_v[-1] == 1.0
    assert steady.failures == 0


async def test_a_malformed_payload_is_a_data_error_not_a_retry_storm(leak_check):
    """A peer that answers garbage: counted and shown, collected again at the usual interval, breaker closed."""
    from tornado.httpserver import HTTPServer
    from tornado.web import Application, RequestHandler

    class Garbage(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "text/plain; version=0.0.4")
            self.write('good_metric 1\nbad{label="x} 2\n')

    from dashboard.devtools import free_port

    port = free_port()
    server = HTTPServer(Application([(r"/metrics", Garbage)]))
    server.listen(port, "127.0.0.1")
    src = PrometheusScrape(name="garbage", urls=[f"http://127.0.0.1:{port}/metrics"], interval=0.1)
    svc = MetricsService([src], failure_threshold=2)
    try:
        async with svc:
            started = time.monotonic()
            await async_poll(lambda: src.data_errors >= 5, timeout=10)
            elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert src.health == "error" and "malformed exposition" in src.last_error and "garbage" in src.last_error
    assert svc.breakers["garbage"].state == "closed", "a data error never opens the breaker"
    assert "circuit_open" not in [t.target.value for t in src.state_machine.history]
    assert elapsed >= 0.3, "collected at the usual interval, not in a storm"
    assert not [k for k in svc.keys(source="garbage") if k.name == "good_metric"], "no half-read scrape"


needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None and not __import__("os").environ.get("CI"),
    reason="Debian's prometheus is not installed (apt-get install prometheus); CI installs it")


@pytest.fixture
def prometheus(exporter):
    with LocalPrometheus([f"127.0.0.1:{exporter.port}"], scrape_interval="1s") as prom:
        yield prom


@needs_prometheus
async def test_query_source_backfills_then_follows_a_real_prometheus(exporter, prometheus, leak_check):
    import httpx

    exporter.in_flight.set(3)
    async with httpx.AsyncClient() as client:  # let the server gather a few seconds of history first
        deadline = time.monotonic() + 30
        while True:
            r = await client.get(f"{prometheus.url}/api/v1/query",
                                 params={"query": "count_over_time(demo_in_flight[1m])"})
            result = r.json()["data"]["result"]
            if result and float(result[0]["value"][1]) >= 4:
                break
            assert time.monotonic() < deadline, "prometheus did not scrape the exporter"
            await asyncio.sleep(0.25)
    src = PrometheusQuery(name="prom", url=prometheus.url, interval=0.5, backfill=60,
                          queries={"in_flight": "demo_in_flight", "scrapes": "up"})
    svc = MetricsService([src])
    key = SeriesKey.of("in_flight", instance=f"127.0.0.1:{exporter.port}", job="demo")
    async with svc:
        await async_poll(lambda: src.collections >= 1, timeout=10, what="the backfill")
        backfilled = svc.store.size(key)
        assert backfilled >= 4, "query_range filled the window on start"
        first_t = svc.store.window(key, 1e9)[0][0]
        assert first_t < time.time() - 3, "the backfill reaches back in time"
        exporter.in_flight.set(9)
        await async_poll(lambda: latest(svc, key) == 9.0, timeout=20, what="the instant query to follow")
    assert svc.store.size(key) > backfilled
    assert latest(svc, SeriesKey.of("scrapes", instance=f"127.0.0.1:{exporter.port}", job="demo")) == 1.0


@needs_prometheus
async def test_a_bad_promql_query_is_shown_not_retried(exporter, prometheus, leak_check):
    src = PrometheusQuery(name="prom", url=prometheus.url, interval=0.1, backfill=0,
                          queries={"broken": "rate(demo_in_flight[1m"})
    svc = MetricsService([src], failure_threshold=2)
    async with svc:
        await async_poll(lambda: src.data_errors >= 3, timeout=10)
    assert "bad_data" in src.last_error and "'rate(demo_in_flight[1m'" in src.last_error
    assert svc.breakers["prom"].state == "closed" and src.health == "error"
    with pytest.raises(DataError, match="bad_data"):
        async with PrometheusQuery(url=prometheus.url, queries={"x": "sum("}, backfill=0) as q:
            await q.collect()


async def test_unreachable_server_is_a_network_failure(leak_check):
    from dashboard.devtools import free_port

    src = PrometheusQuery(name="prom", url=f"http://127.0.0.1:{free_port()}", interval=0.05, backfill=0,
                          queries={"up": "up"})
    svc = MetricsService([src], failure_threshold=2, reset_timeout=60,
                         retry=RetryPolicy(base=0.01, factor=1, cap=0.01, jitter=0))
    async with svc:
        await async_poll(lambda: src.connection == "circuit_open", timeout=10)
    assert "ConnectError" in src.last_error and src.data_errors == 0
