"""Receivers: where alerts are delivered. An Alertmanager (its v2 API: ``POST /api/v2/alerts``, firing
and resolved, so that grouping, silencing and routing happen there) or a plain webhook (JSON).

Each receiver runs its own task and keeps no queue of messages: it is told that something changed
(``wake()``), then sends what each of its alerts needs now, computed from the alerts' states and what it
last told about each (``alert.sent``, saved with the alerts' states): firing once when an alert fires and
again every ``repeat_interval`` while it fires, resolved once when it stops. A state that changes while
the receiver is down is therefore neither lost (the newest one is sent when it comes back) nor sent twice.
Delivery goes through the service's pooled HTTP client with a timeout, a backoff between failures
(:class:`~dashboard.core.resilience.RetryPolicy`) and a circuit breaker per receiver; its state
(connected, retrying, circuit open, last error) is on the status table. Collection and pages never wait for
a receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import param

from ..core.resilience import CircuitBreaker, RetryPolicy
from ..errors import describe_error
from .rules import Alert, AlertState

log = logging.getLogger("dashboard.alerts")

KINDS = ("alertmanager", "webhook")


class Receiver(param.Parameterized):
    """One place alerts are delivered."""

    name = param.String(default="receiver", regex=r"^[A-Za-z0-9_.-]{1,100}$", doc="Its name, as rules refer to it.")
    type = param.Selector(default="alertmanager", objects=list(KINDS),
                          doc="alertmanager (its v2 API at url) or webhook (JSON POSTed to url).")
    url = param.String(default="http://127.0.0.1:9093", regex=r"^https?://\S+$",
                       doc="Alertmanager's base address, or the webhook's address.")
    timeout = param.Number(default=5.0, bounds=(0.1, 120), doc="Seconds a delivery may take.")
    repeat_interval = param.Number(default=None, allow_None=True, bounds=(1, 30 * 86400),
                                   doc="Seconds between two deliveries of a firing alert (default: 60 for "
                                       "Alertmanager, which forgets alerts not sent again, 4 h for a webhook).")
    failure_threshold = param.Integer(default=3, bounds=(1, 1000), doc="Failures in a row that open its circuit.")
    reset_timeout = param.Number(default=30.0, bounds=(0, 86400), doc="Seconds an open circuit waits for a probe.")

    state = param.String(default="idle", constant=True, doc="idle, connected, retrying or circuit_open.")
    last_error = param.String(default="", constant=True, doc="The last delivery's error.")
    deliveries = param.Integer(default=0, bounds=(0, None), constant=True, doc="Requests delivered.")
    delivered = param.Integer(default=0, bounds=(0, None), constant=True, doc="Alert notifications delivered.")
    failures = param.Integer(default=0, bounds=(0, None), constant=True, doc="Deliveries that failed.")
    last_delivery = param.Number(default=None, allow_None=True, bounds=(0, None), constant=True,
                                 doc="When the last one succeeded (epoch seconds).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._wake = asyncio.Event()
        self.engine: Any = None
        self.http: Any = None
        self.retry = RetryPolicy(base=0.5, cap=10.0)
        self.breaker = CircuitBreaker(f"receiver {self.name}", self.failure_threshold, self.reset_timeout)
        self.log: list[dict[str, Any]] = []  # what was delivered: {"id", "state", "at"} (tests, status)

    @property
    def repeat(self) -> float:
        return self.repeat_interval or (60.0 if self.type == "alertmanager" else 4 * 3600.0)

    def wake(self) -> None:
        """Something changed: look at the alerts again."""
        self._wake.set()

    def _set(self, **values: Any) -> None:
        with param.edit_constant(self):
            self.param.update(**values)

    # -- what is due ---------------------------------------------------------------------------------------
    def due(self, alerts: list[Alert], now: float) -> list[tuple[Alert, str]]:
        """(alert, "firing" or "resolved") for each alert this receiver should be told of now."""
        out = []
        for alert in alerts:
            told = alert.sent.get(self.name)
            if alert.state is AlertState.FIRING:
                if told is None or told["state"] != "firing" or now - told["at"] >= self.repeat:
                    out.append((alert, "firing"))
            elif told is not None and told["state"] == "firing":
                out.append((alert, "resolved"))  # resolved, or gone to no data or error: it no longer fires
        return out

    def next_repeat(self, alerts: list[Alert]) -> float:
        """Seconds until a firing alert is due again (the receiver's longest sleep)."""
        times = [t["at"] for a in alerts if a.state is AlertState.FIRING and (t := a.sent.get(self.name))]
        return max(0.05, min((at + self.repeat - time.time() for at in times), default=self.repeat))

    def payload(self, items: list[tuple[Alert, str]], now: float) -> Any:
        """The JSON body: Alertmanager's list of alerts, or ``{"receiver", "alerts": [...]}`` for a webhook."""
        alerts = [self._alert_json(alert, state, now) for alert, state in items]
        return alerts if self.type == "alertmanager" else {"receiver": self.name, "alerts": alerts}

    def _alert_json(self, alert: Alert, state: str, now: float) -> dict[str, Any]:
        told = alert.sent.get(self.name) or {}
        starts = told.get("starts") if told.get("state") == "firing" else None
        starts = starts or alert.machine.since
        ends = now + 4 * self.repeat if state == "firing" else now
        body = {"labels": alert.labels(), "annotations": {"summary": alert.summary},
                "startsAt": _iso(starts), "endsAt": _iso(ends)}
        if self.type == "webhook":
            body.update(status=state, value=alert.value)
        return body

    # -- delivery -----------------------------------------------------------------------------------------
    async def run(self, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        """Deliver what is due, until cancelled."""
        attempt = 0
        while True:
            self._wake.clear()  # before looking: a change from now on wakes the next wait
            alerts = self.engine.alerts_for(self) if self.engine is not None else []
            items = self.due(alerts, time.time())
            if not items:
                attempt = 0
                await self._wait(self.next_repeat(alerts))
                continue
            if not self.breaker.allow():
                self._set(state="circuit_open")
                await sleep(max(0.05, self.breaker.remaining()))
                continue
            try:
                await self._send(items)
            except Exception as exc:  # any failure of the peer: retried, never raised into the service
                attempt += 1
                self.breaker.record_failure()
                state = "circuit_open" if not self.breaker.allow() else "retrying"
                self._set(state=state, last_error=describe_error(exc), failures=self.failures + 1)
                log.warning("receiver %s: delivery failed (%s), %s", self.name, describe_error(exc), state)
                await sleep(self.retry.delay(attempt - 1))
                continue
            attempt = 0
            self.breaker.record_success()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _send(self, items: list[tuple[Alert, str]]) -> None:
        now = time.time()
        url = self.url.rstrip("/") + "/api/v2/alerts" if self.type == "alertmanager" else self.url
        client = self.http
        if client is None:
            raise ConnectionError("no HTTP client (the service is not running)")
        answer = await client.post(url, json=self.payload(items, now), timeout=self.timeout)
        if answer.status_code >= 300:
            raise ConnectionError(f"HTTP {answer.status_code}: {answer.text[:200]}")
        for alert, state in items:
            told = alert.sent.get(self.name) or {}
            starts = told.get("starts") if state == "firing" and told.get("state") == "firing" else None
            alert.sent[self.name] = {"state": state, "at": now, "starts": starts or alert.machine.since}
            self.log.append({"id": alert.id, "state": state, "at": now})
        del self.log[:-1000]
        self._set(state="connected", last_error="", deliveries=self.deliveries + 1,
                  delivered=self.delivered + len(items), last_delivery=now)
        if self.engine is not None:
            self.engine.save()

    def status(self) -> dict[str, Any]:
        """A row of the status table."""
        return {"source": f"receiver {self.name} ({self.type})", "state": self.state,
                "health": "error" if self.last_error else ("ok" if self.deliveries else "waiting"),
                "last_sample": self.last_delivery, "collections": self.deliveries, "failures": self.failures,
                "dropped": 0, "last_error": self.last_error}


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")
