"""Prometheus sources: scrape exposition endpoints, or query a Prometheus server with PromQL.

* :class:`PrometheusScrape` polls one or more ``/metrics`` endpoints (text format or OpenMetrics) the way
  Prometheus does: counters become per-second rates (resets handled), gauges stay values, histograms and
  summaries give the rate of ``_count`` and ``_sum`` and their ratio ``<name>_mean`` (the mean observation
  over the interval, as ``rate(x_sum) / rate(x_count)`` would). Every series gets an ``instance`` label;
  ``include``/``exclude`` name globs and ``match_labels`` keep a large exporter from flooding the store,
  and ``max_series`` caps what is left (the excess is counted in ``dropped_series``).
* :class:`PrometheusQuery` runs PromQL against anything that speaks Prometheus' HTTP API (Prometheus,
  Thanos, Mimir, VictoriaMetrics). On start it backfills the window with ``query_range``, then polls
  ``query``. A query the server refuses (``bad_data``) is a data error: shown, not retried in a storm.

Both use the service's pooled ``httpx.AsyncClient``. Connection failures and 5xx answers raise
``httpx`` errors (the service retries them with backoff); an answer that cannot be read raises
:class:`~dashboard.errors.DataError`.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import param

from ..errors import DataError
from ..metrics.model import Batch, SeriesInfo, SeriesKey
from .base import Source, source_type
from .exposition import Sample, Selector, is_openmetrics, parse_payload
from .http import get_text, make_client

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"


class _HttpSource(Source):
    """A source that talks HTTP through the service's pool (or its own client when used alone)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._own: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self.http is not None:
            return self.http
        if self._own is None:
            self._own = make_client(self.timeout)
        return self._own

    async def _shutdown(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            await own.aclose()


@source_type("prometheus")
class PrometheusScrape(_HttpSource):
    """Scrapes Prometheus exposition endpoints."""

    urls = param.List(default=[], item_type=str, bounds=(0, 1000),
                      doc="Exposition endpoints to scrape, e.g. ['http://127.0.0.1:8000/metrics'].")

    include = param.List(default=["*"], item_type=str, bounds=(1, 10_000),
                         doc="Metric-name globs to keep (sample names, e.g. 'process_*').")

    exclude = param.List(default=[], item_type=str, bounds=(0, 10_000),
                         doc="Metric-name globs to leave out, applied after `include`.")

    match_labels = param.Dict(default={}, doc="Keep only samples whose labels have these values.")

    max_series = param.Integer(default=2000, bounds=(1, 1_000_000),
                               doc="Most series kept from all endpoints together; the rest are counted.")

    interval = param.Number(default=2.0, bounds=(0.05, 3600), doc="Seconds between two scrapes.")

    dropped_series = param.Integer(default=0, bounds=(0, None), constant=True,
                                   doc="Series left out by `max_series` in the last scrape.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._known: dict[str, list[SeriesKey]] = {}

    @property
    def selector(self) -> Selector:
        return Selector(tuple(self.include), tuple(self.exclude), dict(self.match_labels) or None)

    async def _initialize(self) -> None:
        if not self.urls:
            raise ValueError(f"{self.name}: give at least one URL to scrape (urls=[...])")
        for url in self.urls:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{self.name}: {url!r} is not an http(s) URL")

    async def _collect(self) -> Batch:
        t = time.time()
        results = await asyncio.gather(*(self._scrape(url) for url in self.urls), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if len(failures) == len(results):
            raise failures[0]
        values: dict[SeriesKey, float] = {}
        info: dict[SeriesKey, SeriesInfo] = {}
        for url, result in zip(self.urls, results, strict=True):
            instance = _instance(url)
            if isinstance(result, BaseException):  # one target of several is down: its series get a gap
                self.record_failure(result)
                values.update(dict.fromkeys(self._known.get(instance, []), math.nan))
                continue
            self._known[instance] = self._add(result, instance, values, info)
        return self._batch(t, values, info)

    async def _scrape(self, url: str) -> list[Sample]:
        text, content_type = await get_text(self.client(), url, headers={"Accept": ACCEPT}, timeout=self.timeout)
        return parse_payload(text, openmetrics=is_openmetrics(content_type), source=f"{self.name} {url}",
                             selector=self.selector)

    def _add(self, samples: list[Sample], instance: str, values: dict, info: dict) -> list[SeriesKey]:
        keys = []
        for s in samples:
            key = SeriesKey.of(s.key.name, s.key.label_dict, instance=instance)
            values[key] = s.value
            info[key] = SeriesInfo(kind=s.kind, help=s.help)
            keys.append(key)
        return keys

    def _batch(self, t: float, values: dict[SeriesKey, float], info: dict[SeriesKey, SeriesInfo]) -> Batch:
        keys = list(values)
        dropped = max(0, len(keys) - self.max_series)
        if dropped:
            keys = keys[: self.max_series]
        if dropped != self.dropped_series:
            with param.edit_constant(self):
                self.dropped_series = dropped
        row = np.array([values[k] for k in keys], dtype=np.float64).reshape(-1, 1)
        return Batch(self.name, tuple(keys), np.array([t]), row, {k: info.get(k, SeriesInfo()) for k in keys})

    async def collect(self) -> Batch:
        """One scrape, counters as rates, and ``<name>_mean`` for every ``_sum``/``_count`` pair."""
        return _with_means(self.rates.convert(await self._collect()))


def _instance(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _with_means(batch: Batch) -> Batch:
    index = {k: i for i, k in enumerate(batch.keys)}
    keys, rows = [], []
    for key, i in index.items():
        if not key.name.endswith("_sum"):
            continue
        count = index.get(SeriesKey(key.name[:-4] + "_count", key.labels))
        if count is None:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(batch.values[count] > 0, batch.values[i] / batch.values[count], np.nan)
        keys.append(SeriesKey(key.name[:-4] + "_mean", key.labels))
        rows.append(mean)
    if not keys:
        return batch
    info = {**batch.info, **{k: SeriesInfo(help="mean observation over the interval") for k in keys}}
    return Batch(batch.source, batch.keys + tuple(keys), batch.time, np.vstack([batch.values, *rows]), info)


@source_type("promql")
class PrometheusQuery(_HttpSource):
    """PromQL against a Prometheus-compatible HTTP API: backfill with query_range, then follow with query."""

    url = param.String(default="http://127.0.0.1:9090",
                       doc="Base URL of the server's HTTP API (the part before /api/v1).")

    queries = param.Dict(default={}, doc=(
        "Metric name to PromQL expression, e.g. {'rss': 'process_resident_memory_bytes'}."))

    backfill = param.Number(default=600.0, bounds=(0, 30 * 86400),
                            doc="Seconds of history fetched with query_range on start (0: none).")

    interval = param.Number(default=5.0, bounds=(0.05, 3600), doc="Seconds between two instant queries.")

    max_points = param.Integer(default=2000, bounds=(10, 11_000),
                               doc="Most points per series in the backfill (sets the range step).")

    def __init__(self, *, clock: Callable[[], float] = time.time, **params: Any) -> None:
        super().__init__(**params)
        self._clock = clock
        self._backfilled = False

    async def _initialize(self) -> None:
        if not self.queries:
            raise ValueError(f"{self.name}: give at least one query (queries={{'name': 'promql'}})")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"{self.name}: url {self.url!r} is not an http(s) URL")
        self._backfilled = False

    async def _collect(self) -> list[Batch]:
        now = self._clock()
        if not self._backfilled and self.backfill > 0:
            batches = await self._range(now - self.backfill, now)
            self._backfilled = True
            return batches
        self._backfilled = True
        return [await self._instant(now)]

    async def _api(self, path: str, params: dict[str, str]) -> Any:
        url = self.url.rstrip("/") + path
        response = await self.client().get(url, params=params, timeout=self.timeout)
        if response.status_code >= 500 or response.status_code in (408, 429):
            response.raise_for_status()
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DataError(f"{path}: answer is not JSON (HTTP {response.status_code})", source=self.name) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            kind = body.get("errorType", "error") if isinstance(body, dict) else "error"
            error = body.get("error", "unknown error") if isinstance(body, dict) else str(body)[:200]
            raise DataError(f"{params.get('query', '')!r} refused ({kind}): {error}", source=self.name)
        return body.get("data", {})

    async def _instant(self, now: float) -> Batch:
        values: dict[SeriesKey, float] = {}
        for name, query in self.queries.items():
            data = await self._api("/api/v1/query", {"query": query, "time": f"{now:.3f}"})
            for key, _t, v in _vector(name, data, self.name):
                values[key] = v
        keys = tuple(values)
        row = np.array([values[k] for k in keys], dtype=np.float64).reshape(-1, 1)
        return Batch(self.name, keys, np.array([now]), row, {k: SeriesInfo() for k in keys})

    async def _range(self, start: float, end: float) -> list[Batch]:
        step = max(self.interval, (end - start) / self.max_points)
        series: dict[SeriesKey, tuple[np.ndarray, np.ndarray]] = {}
        for name, query in self.queries.items():
            data = await self._api("/api/v1/query_range", {
                "query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"})
            series.update(_matrix(name, data, self.name))
        if not series:
            return []
        times = np.unique(np.concatenate([t for t, _ in series.values()]))
        keys = tuple(series)
        values = np.full((len(keys), times.size), np.nan)
        for row, key in enumerate(keys):
            t, v = series[key]
            values[row, np.searchsorted(times, t)] = v
        return [Batch(self.name, keys, times, values, {k: SeriesInfo() for k in keys})]


def _labels(metric: Any, where: str) -> dict[str, str]:
    if not isinstance(metric, dict):
        raise DataError(f"result metric is not an object: {str(metric)[:80]!r}", source=where)
    return {str(k): str(v) for k, v in metric.items() if k != "__name__"}


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"sample value {str(value)[:40]!r} is not a number", source=where) from None


def _vector(name: str, data: Any, where: str) -> list[tuple[SeriesKey, float, float]]:
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind == "scalar" and isinstance(result, Sequence) and len(result) == 2:
        return [(SeriesKey.of(name), _number(result[0], where), _number(result[1], where))]
    if kind != "vector" or not isinstance(result, list):
        raise DataError(f"query {name!r}: expected a vector or scalar, got {kind!r}", source=where)
    out = []
    for item in result:
        pair = item.get("value") if isinstance(item, dict) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise DataError(f"query {name!r}: a result has no [time, value] pair", source=where)
        out.append((SeriesKey.of(name, _labels(item.get("metric", {}), where)),
                    _number(pair[0], where), _number(pair[1], where)))
    return out


def _matrix(name: str, data: Any, where: str) -> dict[SeriesKey, tuple[np.ndarray, np.ndarray]]:
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind != "matrix" or not isinstance(result, list):
        raise DataError(f"query {name!r}: expected a matrix from query_range, got {kind!r}", source=where)
    out = {}
    for item in result:
        pairs = item.get("values") if isinstance(item, dict) else None
        if not isinstance(pairs, list):
            raise DataError(f"query {name!r}: a range result has no values", source=where)
        t = np.array([_number(p[0], where) for p in pairs if isinstance(p, list) and len(p) == 2])
        v = np.array([_number(p[1], where) for p in pairs if isinstance(p, list) and len(p) == 2])
        if t.size != len(pairs):
            raise DataError(f"query {name!r}: a range value is not a [time, value] pair", source=where)
        out[SeriesKey.of(name, _labels(item.get("metric", {}), where))] = (t, v)
    return out
