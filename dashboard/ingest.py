"""``POST /ingest``: metrics pushed over HTTP into a :class:`~dashboard.sources.push.PushSource`.

Bodies are JSON (``application/json``) or Prometheus text (``text/plain``, the exposition format with
optional ``# TYPE`` lines). JSON is one object or an array of them, each either
``{"name": "loss", "value": 0.3, "labels": {...}, "timestamp": 1764150000.5}`` or
``{"metrics": {"loss": 0.3, "accuracy": 0.9}, "labels": {...}, "timestamp": ...}`` (timestamps are seconds
since the epoch, optional; ``"type": "counter"`` marks cumulative totals, stored as per-second rates as the
other sources store counters).

Security: with a token (``--ingest-token`` or ``DASHBOARD_INGEST_TOKEN``) a request must carry
``Authorization: Bearer TOKEN``, compared in constant time; a token in the URL is refused (URLs end up in
logs and histories), and the access log never shows query strings. Without a token the endpoint answers
only requests from loopback addresses. Bodies over ``max_body`` bytes get 413.

A partial write keeps every good line: the answer is 200 with ``accepted``, ``overflow`` and ``errors``
(one ``{"line"|"item": n, "field": ..., "reason": ...}`` per bad one), or 400 when nothing was good. It
comes once the accepted samples are stored, and in the history's log where there is one (``"stored":
true``; the source is drained every 0.1 s): a server killed after answering has lost none of them.
``"stored": false`` says the service did not store them within :data:`STORE_WAIT` seconds (it is not
collecting); they are kept for its next drain.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import tornado.web

from .annotations import check_annotation
from .auth import ViewerRoute, is_writer, login_required
from .errors import ParseError
from .metrics.frames import to_epoch
from .metrics.model import SeriesKey
from .sources.exposition import Sample, parse_lines
from .sources.push import PushSource, check_labels, check_name, check_timestamp, check_value

log = logging.getLogger("dashboard.ingest")

#: Seconds the answer waits for the samples to be stored (the push source is drained every 0.1 s): an
#: answer with ``"stored": true`` means they are in the store, and in the history's log where there is
#: one, so that a process killed after it loses none of them.
STORE_WAIT = 5.0
#: Default largest body accepted, in bytes.
MAX_BODY = 1024 * 1024
#: Most errors listed in one answer (the count is always complete).
MAX_ERRORS_LISTED = 100
_TOKEN_PARAMS = ("token", "access_token", "auth", "bearer")


def parse_json(body: bytes | str, clock: Callable[[], float] | None = None
               ) -> tuple[list[Sample], list[ParseError]]:
    """A JSON ingest body: (good samples, one error per bad item). A body that is not JSON is one error."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return [], [ParseError(1, f"not JSON: {str(exc)[:200]}", unit="body")]
    items = doc if isinstance(doc, list) else [doc]
    samples: list[Sample] = []
    errors: list[ParseError] = []
    for number, item in enumerate(items, start=1):
        try:
            samples.extend(_item(item, number, clock))
        except ParseError as exc:
            errors.append(exc)
    return samples, errors


def _item(item: Any, number: int, clock: Callable[[], float] | None) -> list[Sample]:
    def fail(reason: str, field: str = "") -> ParseError:
        return ParseError(number, reason, field=field, unit="item")

    if not isinstance(item, dict):
        raise fail(f"expected an object, got {type(item).__name__}")
    unknown = set(item) - {"name", "value", "metrics", "labels", "timestamp", "type"}
    if unknown:
        raise fail(f"unknown field {sorted(map(str, unknown))[0][:40]!r}", "item")
    kind = item.get("type", "gauge")
    if kind not in ("gauge", "counter"):
        raise fail(f"expected gauge or counter, got {str(kind)[:40]!r}", "type")
    try:
        labels = check_labels(item.get("labels", {}), number)
        t = check_timestamp(item.get("timestamp"), clock or time.time, line=number)
        if "metrics" in item:
            if "name" in item or "value" in item:
                raise fail("give either name and value, or metrics, not both")
            metrics = item["metrics"]
            if not isinstance(metrics, dict) or not metrics:
                raise fail("expected a non-empty object of name: value", "metrics")
            pairs = [(check_name(n, "metrics", number), check_value(v, str(n), number)) for n, v in metrics.items()]
        else:
            if "name" not in item or "value" not in item:
                raise fail("expected name and value (or metrics)", "value" if "name" in item else "name")
            name = check_name(item["name"], "name", number)
            pairs = [(name, check_value(item["value"], name, number))]
    except ParseError as exc:
        if exc.unit == "item":
            raise
        raise ParseError(number, exc.reason, field=exc.field, unit="item") from None
    return [Sample(SeriesKey.of(n, labels), v, kind, t) for n, v in pairs]


def parse_body(body: bytes, content_type: str, clock: Callable[[], float] | None = None
               ) -> tuple[list[Sample], list[ParseError]]:
    """Dispatch on the content type: JSON or Prometheus text."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip()[:1] in (b"{", b"[")):
        return parse_json(body, clock)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [ParseError(1, f"not UTF-8 (byte {exc.start})", unit="body")]
    return parse_lines(text)


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return address == "localhost"


@tornado.web.stream_request_body
class WriteHandler(tornado.web.RequestHandler):
    """A POST that writes into the service: a bearer token (or, without one, a loopback client) and a body
    limit. The body is streamed: a declared length over the limit is refused before it is read; an
    undeclared one is dropped as it passes the limit (never held in memory) and answered with 413 at its
    end (Tornado's own ``max_body_size`` bounds how long that may be)."""

    def initialize(self, token: str | None = None, max_body: int = MAX_BODY) -> None:
        self._token = token or None
        self._max_body = max_body
        self._chunks: list[bytes] = []
        self._size = 0

    def _request_summary(self) -> str:  # the access log: never the query string (it may hold a token)
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def check_xsrf_cookie(self) -> None:  # a bearer token (or loopback) authenticates, not a cookie
        return None

    def _refuse(self, status: int, reason: str, **headers: str) -> None:
        self.set_status(status)
        for k, v in headers.items():
            self.set_header(k, v)
        self.finish({"error": reason})

    def prepare(self) -> None:
        self._authorize()

    def _authorize(self) -> None:
        """Refuse the request (and finish it) unless its token, or its loopback address, lets it write."""
        if any(p in self.request.query_arguments for p in _TOKEN_PARAMS):
            return self._refuse(400, "a token in the URL is refused (URLs are logged); send it in the "
                                     "Authorization: Bearer header")
        if self._token is None:
            if not is_loopback(self.request.remote_ip):
                return self._refuse(403, "ingest without a token answers loopback addresses only; "
                                         "start the server with --ingest-token")
        else:
            header = self.request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token.encode()):
                return self._refuse(401, "missing or wrong token (Authorization: Bearer TOKEN)",
                                    **{"WWW-Authenticate": 'Bearer realm="ingest"'})
        return self._check_length()

    def _check_length(self) -> None:
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            return self._refuse(413, f"body of {int(length)} bytes is over the limit of {self._max_body}")
        return None

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_body:  # keep nothing more; answer 413 once the client has sent it all
            self._chunks.clear()
            return
        self._chunks.append(chunk)

    def _body(self) -> bytes | None:
        """The whole body, or None when the request was refused (and answered) already."""
        if self._finished:
            return None
        if self._size > self._max_body:
            self._refuse(413, f"body of {self._size} bytes is over the limit of {self._max_body}")
            return None
        return b"".join(self._chunks)


class IngestHandler(WriteHandler):
    """``POST /ingest`` (see the module docstring)."""

    def initialize(self, source: Callable[[], PushSource], token: str | None = None,  # type: ignore[override]
                   max_body: int = MAX_BODY) -> None:
        super().initialize(token, max_body)
        self._source = source

    async def post(self) -> None:
        body = self._body()
        if body is None:
            return None
        source = self._source()
        samples, errors = parse_body(body, self.request.headers.get("Content-Type", ""))
        result = source.push_samples(samples)
        if errors:
            log.info("ingest: %d bad line(s) of %d; first: %s", len(errors), len(errors) + len(samples),
                     errors[0])
        stored = await source.stored(result.upto, STORE_WAIT) if result.accepted else True
        answer = {
            "accepted": result.accepted,
            "stored": stored,
            "overflow": result.overflow,
            "errors": [e.as_dict() for e in errors[:MAX_ERRORS_LISTED]],
            "error_count": len(errors),
        }
        self.set_status(400 if errors and not samples else 200)
        self.finish(answer)
        return None

    def get(self) -> None:
        self._refuse(405, "POST metrics here (JSON or Prometheus text)", Allow="POST")


class AnnotationsHandler(ViewerRoute, WriteHandler):
    """``POST /annotations``: JSON, one ``{"text", "time", "end", "labels"}`` object or an array of them,
    with the token, loopback and size rules of ``/ingest`` and its per-item errors (good items are kept).
    With viewer logins on, a POST comes from a logged-in viewer (as JSON: a form of another site cannot
    send it; one of ``writers`` when they are named) or carries the ingest token (a script); loopback alone
    no longer lets it in.
    ``GET /annotations?from=&to=`` lists those in a range (epoch seconds or ISO 8601; open ends by default)
    as JSON, to whoever may open the page (:class:`~dashboard.auth.ViewerRoute`)."""

    def initialize(self, service: Any, token: str | None = None,  # type: ignore[override]
                   max_body: int = MAX_BODY, writers: Sequence[str] = ()) -> None:
        super().initialize(token, max_body)
        self._service = service
        self._writers = tuple(writers)

    async def prepare(self) -> None:  # type: ignore[override]
        if self.request.method == "GET":
            await ViewerRoute.prepare(self)
        elif not login_required(self.application):
            self._authorize()
        elif self._token is not None and "Authorization" in self.request.headers:
            self._authorize()  # a script with the ingest token
        else:
            await ViewerRoute.prepare(self)  # a logged-in viewer; 401 otherwise
            if self._finished:
                return
            if self._writers and not is_writer(self._writers, self.viewer(), self.claims()):
                self._refuse(403, "this login may look but not write (the spec's auth.writers names who may)")
                return
            if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                self._refuse(415, "send annotations as JSON (Content-Type: application/json)")
                return
            self._check_length()

    def post(self) -> None:
        body = self._body()
        if body is None:
            return None
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return self._refuse(400, f"body: not JSON: {str(exc)[:200]}")
        items = doc if isinstance(doc, list) else [doc]
        kept, errors = 0, []
        author = self.viewer() if self.current_user and "Authorization" not in self.request.headers else None
        for number, item in enumerate(items, start=1):
            try:
                self._service.add_annotation(dataclasses.replace(check_annotation(item, number), author=author))
                kept += 1
            except ParseError as exc:
                errors.append(exc)
        if author is not None and kept:
            log.info("%d annotation(s) posted by %s", kept, author)
        self.set_status(400 if errors and not kept else 200)
        self.finish({"accepted": kept, "errors": [e.as_dict() for e in errors[:MAX_ERRORS_LISTED]],
                     "error_count": len(errors)})
        return None

    def get(self) -> None:
        bounds = []
        for name, default in (("from", -math.inf), ("to", math.inf)):
            given = self.get_query_argument(name, None)
            try:
                bounds.append(default if given in (None, "") else to_epoch(given))
            except ValueError as exc:
                return self._refuse(400, f"{name}: {exc}")
        notes = self._service.annotations.between(*bounds)
        self.finish({"annotations": [n.as_dict() for n in notes]})
        return None

