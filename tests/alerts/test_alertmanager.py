"""Delivery to a real Alertmanager (Debian's, started on loopback with a temporary config): firing and
resolved alerts arrive with their labels and annotations, its API lists them, and Alertmanager's own
notifications (to a webhook here) say firing then resolved. With Alertmanager stopped the receiver retries,
opens its breaker and shows it on the status table; when Alertmanager is back it delivers, with no
alert lost or sent twice. A webhook receiver gets the same, as JSON."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from dashboard.devtools import LocalAlertmanager, free_port
from dashboard.service import MetricsService
from dashboard.sources.push import PushSource
from dashboard.ui.status import SourceStatus

needs_alertmanager = pytest.mark.skipif(
    shutil.which("prometheus-alertmanager") is None and not __import__("os").environ.get("CI"),
    reason="Debian's prometheus-alertmanager is not installed; CI installs it")

HOSTILE = "<img src=x onerror=alert(1)>"


class Hook:
    """A webhook on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        bodies = self.bodies

        class Handler(RequestHandler):
            def post(self) -> None:
                bodies.append(json.loads(self.request.body))

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = HTTPServer(Application([(r"/hook", Handler)]))
        self.server.listen(self.port, "127.0.0.1")

    def alerts(self, status: str) -> list[dict]:
        return [a for b in self.bodies for a in b["alerts"] if a["status"] == status]


async def until(check: Callable[[], Awaitable[bool] | bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.1)


async def listed(am_url: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{am_url}/api/v2/alerts", timeout=5)).json()


def service() -> tuple[MetricsService, PushSource]:
    app = PushSource(name="app", interval=0.05)
    return MetricsService([app]), app


@needs_alertmanager
async def test_alertmanager_receives_firing_and_resolved_and_survives_an_outage():
    hook = Hook()
    am = LocalAlertmanager(webhook=hook.url).start()
    svc, app = service()
    ops = svc.add_receiver(name="ops", type="alertmanager", url=am.url, failure_threshold=2, reset_timeout=0.5)
    ops.retry.param.update(base=0.05, cap=0.2)
    svc.add_alert(name="GpuHot", metric="gpu_temp", above=85, clear=80, interval=0.1, severity="critical",
                  summary="GPU {gpu} at {value:.0f} °C", receivers=["ops"])
    try:
        async with svc:
            app.push({"gpu_temp": 90}, labels={"gpu": "0", "host": HOSTILE})
            await until(lambda: listed(am.url), 20, "the alert in Alertmanager")
            (alert,) = await listed(am.url)
            assert alert["labels"] == {"alertname": "GpuHot", "gpu": "0", "host": HOSTILE, "severity": "critical"}
            assert alert["annotations"] == {"summary": "GPU 0 at 90 °C"} and alert["status"]["state"] == "active"
            await until(lambda: hook.alerts("firing"), 20, "Alertmanager's firing notification")

            app.push({"gpu_temp": 70}, labels={"gpu": "0", "host": HOSTILE})
            await until(lambda: hook.alerts("resolved"), 20, "Alertmanager's resolved notification")
            assert await listed(am.url) == [], "resolved: no longer active"
            assert [(e["state"]) for e in ops.log] == ["firing", "resolved"]

            am.stop()  # Alertmanager goes away; the GPU gets hot again
            app.push({"gpu_temp": 95}, labels={"gpu": "0", "host": HOSTILE})
            await until(lambda: ops.state == "circuit_open", 20, "the receiver's breaker to open")
            rows = SourceStatus(service=svc).rows()
            i = rows["source"].index("receiver ops (alertmanager)")
            assert rows["state"][i] == "circuit_open" and "ConnectError" in rows["last_error"][i]
            assert svc.sources["app"].failures == 0, "collection never waited for the receiver"

            am = LocalAlertmanager(webhook=hook.url, port=am.port).start()  # back, on the same port
            await until(lambda: listed(am.url), 30, "the alert delivered once Alertmanager is back")
            (again,) = await listed(am.url)
            assert again["annotations"] == {"summary": "GPU 0 at 95 °C"}
            await until(lambda: ops.state == "connected", 10, "the receiver connected again")
            assert [e["state"] for e in ops.log] == ["firing", "resolved", "firing"], "none lost, none twice"
    finally:
        am.stop()
        hook.server.stop()


async def test_a_webhook_gets_json_once_per_change():
    hook = Hook()
    svc, app = service()
    svc.add_receiver(name="hook", type="webhook", url=hook.url, default=True)
    svc.add_alert(name="Loss", metric="loss", above=1.0, interval=0.05)
    try:
        async with svc:
            app.push({"loss": 2.0})
            await until(lambda: hook.alerts("firing"), 10, "the firing alert")
            app.push({"loss": 0.5})
            await until(lambda: hook.alerts("resolved"), 10, "the resolved alert")
            done = svc.alert_engine.evaluations
            await until(lambda: svc.alert_engine.evaluations >= done + 10, 10, "ten more evaluations")
    finally:
        hook.server.stop()
    assert [(b["receiver"], [(a["status"], a["labels"]["alertname"], a["value"]) for a in b["alerts"]])
            for b in hook.bodies] == [("hook", [("firing", "Loss", 2.0)]), ("hook", [("resolved", "Loss", 0.5)])]


async def test_a_restart_with_history_tells_no_receiver_twice(tmp_path):
    hook = Hook()

    def build() -> tuple[MetricsService, PushSource]:
        app = PushSource(name="app", interval=0.05)
        svc = MetricsService([app], history=tmp_path)
        svc.add_receiver(name="hook", type="webhook", url=hook.url, default=True)
        svc.add_alert(name="Loss", metric="loss", above=1.0, interval=0.05)
        return svc, app

    try:
        svc, app = build()
        async with svc:
            app.push({"loss": 2.0})
            await until(lambda: hook.alerts("firing"), 10, "the firing alert")
        svc.close_history()
        again, app = build()  # the alert is still firing after the restart
        async with again:
            app.push({"loss": 3.0})
            await until(lambda: again.alert_engine.evaluations >= 10, 10, "ten evaluations")
            (alert,) = again.alert_engine.alerts()
            assert alert.state.value == "firing" and alert.sent["hook"]["state"] == "firing"
            app.push({"loss": 0.5})
            await until(lambda: hook.alerts("resolved"), 10, "the resolved alert")
        again.close_history()
    finally:
        hook.server.stop()
    assert [a["status"] for b in hook.bodies for a in b["alerts"]] == ["firing", "resolved"], "firing told once"
