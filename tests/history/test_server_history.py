"""History through a real ``dashboard serve``: SIGKILL under ingest, a full disk, a read-only folder, and
``/metrics`` as a fleet's exporter (real server processes, real HTTP, real files; a tmpfs the test mounts)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from dashboard.devtools import free_port
from dashboard.history import History
from dashboard.metrics.model import SeriesKey

from ..support import http_ok, poll, stop_process

pytestmark = [pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
SPEC = "title: history test\nsystem: false\n"
#: The durability contract (README, "History on disk"): what /ingest acknowledged (``"stored": true``)
#: before a kill is on disk after it.
CONTRACT_SECONDS = 0.0
#: The durability tests find each pushed sequence number on disk: every bit kept (the server's default
#: rounds gauges to 4 significant digits, and the sequence passes 10,000 within seconds).
EXACT = ("--precision", "exact")


class Server:
    """``python -m dashboard serve SPEC --data-dir DIR`` on a free loopback port, restartable."""

    def __init__(self, tmp_path: Path, data_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.spec = tmp_path / "spec.yaml"
        self.spec_text = SPEC
        self.data_dir = data_dir
        self.extra = extra
        self.log_path = tmp_path / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.spec.write_text(self.spec_text)
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "serve", str(self.spec), "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        poll(lambda: self.proc.poll() is not None or http_ok(f"{self.url}/metrics"), timeout=60,
             what="dashboard serve to answer")
        assert self.proc.poll() is None, self.log()
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)

    def log(self) -> str:
        return self.log_path.read_text()

    def metric(self, name: str) -> float | None:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


class Sender:
    """Pushes ``rate`` samples/s of one series to /ingest in requests of ``per_request``; remembers when each
    sample was acknowledged. Values are sequence numbers, timestamps strictly increasing."""

    def __init__(self, url: str, rate: int = 10_000, per_request: int = 200) -> None:
        self.url = url
        self.rate = rate
        self.per_request = per_request
        self.acked: list[tuple[float, np.ndarray]] = []  # (time of the answer, values)
        self.next_value = 0
        self.last_stamp = -np.inf  # the newest timestamp sent: the store refuses one that is not newer
        self.stopped = threading.Event()
        self.failures = 0
        self.thread = threading.Thread(target=self._run, name="sender", daemon=True)

    def _run(self) -> None:
        period = self.per_request / self.rate
        with httpx.Client(timeout=2) as client:
            while not self.stopped.is_set():
                began = time.monotonic()
                values = np.arange(self.next_value, self.next_value + self.per_request)
                now = time.time()
                step = period / self.per_request
                stamps = now - (self.per_request - 1 - np.arange(self.per_request)) * step
                if stamps[0] <= self.last_stamp:  # a wait that ended early, or the wall clock stepped back
                    stamps += self.last_stamp + step - stamps[0]
                self.last_stamp = float(stamps[-1])  # sent: even unanswered, the server may hold them
                body = [{"name": "seq", "value": float(v), "timestamp": float(t)}
                        for v, t in zip(values, stamps, strict=True)]
                try:
                    r = client.post(f"{self.url}/ingest", json=body)
                    answer = r.json() if r.status_code == 200 else {}
                    if answer.get("accepted") == self.per_request and answer.get("stored"):
                        self.acked.append((time.time(), values))
                        self.next_value += self.per_request
                    else:
                        self.failures += 1
                except httpx.HTTPError:
                    self.failures += 1
                self.stopped.wait(max(0.0, period - (time.monotonic() - began)))

    def __enter__(self) -> Sender:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(10)


def stored_values(data_dir: Path, name: str = "seq") -> np.ndarray:
    """The values of a pushed series on disk (the gaps each restart writes left out)."""
    history = History(data_dir)
    try:
        ((_, v),) = history.raw([SeriesKey.of(name)], -np.inf, np.inf)
    finally:
        history.close()
    return v[np.isfinite(v)]


def test_sigkill_twenty_times_under_ingest_loses_nothing_acknowledged(tmp_path):
    """10,000 samples/s over /ingest; SIGKILL at a random moment, 20 times, restarting each time. Every
    sample acknowledged more than CONTRACT_SECONDS before a kill is on disk afterwards, no file was found
    corrupt, and the server starts every time."""
    data = tmp_path / "data"
    server = Server(tmp_path, data, *EXACT).start()
    rng = np.random.default_rng(7)
    kills: list[float] = []
    try:
        with Sender(server.url) as sender:
            for _ in range(20):
                acked_before = len(sender.acked)
                poll(lambda n=acked_before: len(sender.acked) >= n + 3, timeout=30, what="acknowledged pushes")
                time.sleep(rng.uniform(0.2, 1.0))  # a random moment under load (the kill is the event tested)
                server.kill()
                kills.append(time.time())  # once dead: an answer read before this was sent before the kill
                server.start()
        acked = list(sender.acked)
    finally:
        stopped_at = time.time()
        server.stop()
    stored = set(stored_values(data).astype(np.int64).tolist())
    ends = [*kills, stopped_at]
    for at, values in acked:  # each push is due at the first kill (or the final stop) after its answer
        end = next(e for e in ends if e > at)
        missing = [v for v in values.tolist() if v not in stored]
        assert at > end - CONTRACT_SECONDS or not missing, (
            f"{len(missing)} samples acknowledged {end - at:.3f} s before a kill are not on disk: {missing[:5]}")
    total = sum(len(values) for _, values in acked)
    assert total >= 20 * 600, f"only {total} samples were acknowledged"
    assert not list((data / "corrupt").iterdir()), "a kill left a file that had to be moved aside"
    for path in (data / "raw").glob("*.parquet"):
        assert pq.ParquetFile(path).metadata.num_rows > 0  # every chunk opens
    assert server.log().count("dashboard serve: history in") == 21
    assert "Traceback" not in server.log()


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "4m"):
    """A tmpfs of ``size`` mounted at ``path`` (root, as in CI); unmounted at the end."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(path: Path) -> Path:
    """Fill the file system of ``path`` until ENOSPC; returns the filler file."""
    filler = path / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def test_a_full_disk_is_shown_and_writing_resumes_when_space_comes_back(tmp_path):
    with small_tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        server = Server(tmp_path, data, "--retention", "raw=1d", *EXACT).start()
        try:
            with Sender(server.url, rate=2000, per_request=100) as sender:
                poll(lambda: len(sender.acked) >= 5, timeout=30, what="acknowledged pushes")
                filler = fill(mnt)
                poll(lambda: server.metric("dashboard_history_ok") == 0.0, timeout=60,
                     what="the history to report the full disk")
                assert "No space left on device" in server.log()
                at_error = len(sender.acked)
                poll(lambda: len(sender.acked) >= at_error + 10, timeout=30, what="ingest to go on from memory")
                assert server.metric("dashboard_history_samples_lost_total") > 0
                filler.unlink()
                poll(lambda: server.metric("dashboard_history_ok") == 1.0, timeout=60,
                     what="writing to resume")
                resumed = time.time()
                poll(lambda: sender.acked and sender.acked[-1][0] > resumed + 2, timeout=30, what="more pushes")
                last = sender.acked[-1][1]
                poll(lambda: sender.acked[-1][0] > resumed + 2 + 2 * CONTRACT_SECONDS, timeout=30,
                     what="pushes after those")
            assert "works again" in server.log()
        finally:
            server.stop()
        stored = stored_values(data)
        assert set(last.tolist()) <= set(stored.astype(np.int64).tolist()), "samples after the resume are on disk"


def test_a_read_only_folder_is_shown_and_writing_resumes_when_writable(tmp_path):
    """A data folder on a file system mounted read-only: the server starts and runs from memory with the
    error shown; once the file system is writable again, history is written."""
    with small_tmpfs(tmp_path / "mnt", "16m") as mnt:
        data = mnt / "data"
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True, capture_output=True)
        server = Server(tmp_path, data, *EXACT).start()
        try:
            with Sender(server.url, rate=2000, per_request=100) as sender:
                poll(lambda: len(sender.acked) >= 5, timeout=30, what="acknowledged pushes, from memory")
                assert server.metric("dashboard_history_ok") == 0.0
                assert "Read-only file system" in server.log()
                subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True, capture_output=True)
                poll(lambda: server.metric("dashboard_history_ok") == 1.0, timeout=60, what="writing to resume")
                resumed = time.time()
                poll(lambda: sender.acked[-1][0] > resumed + 1, timeout=30, what="more pushes")
                last = sender.acked[-1][1]
                poll(lambda: sender.acked[-1][0] > resumed + 1 + 2 * CONTRACT_SECONDS, timeout=30,
                     what="pushes after those")
        finally:
            server.stop()
        assert set(last.tolist()) <= set(stored_values(data).astype(np.int64).tolist())


def test_metrics_exposes_every_collected_series_for_a_fleet(tmp_path):
    server = Server(tmp_path, tmp_path / "data").start()
    try:
        body = [{"name": "gpu_temperature_celsius", "value": 61.5, "labels": {"gpu": "0"}},
                {"name": "requests_total", "value": 5, "labels": {"path": "/a"}},
                {"name": "bad-name.x", "value": 2}]
        answer = httpx.post(f"{server.url}/ingest", json=body, timeout=10).json()
        assert answer["accepted"] == 2 and "'bad-name.x'" in answer["errors"][0]["reason"], "not a Prometheus name"
        poll(lambda: 'gpu_temperature_celsius{gpu="0",source="ingest"} 61.5' in
             httpx.get(f"{server.url}/metrics", timeout=10).text, timeout=30, what="the series on /metrics")
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert "bad_name" not in text
        assert "dashboard_history_ok 1.0" in text
        assert text.count("# TYPE process_cpu_seconds_total") == 1, "no family twice"
    finally:
        server.stop()


def test_the_server_keeps_four_significant_digits_by_default_and_says_so(tmp_path):
    """``dashboard serve``'s default precision, printed at start: a value is on disk to 4 significant digits
    (within 0.003%), in the log and in the chunks alike."""
    server = Server(tmp_path, tmp_path / "data").start()
    try:
        body = [{"name": "room_temperature_celsius", "value": 21.123456789},
                {"name": "queue_depth", "value": 123456789}]
        assert httpx.post(f"{server.url}/ingest", json=body, timeout=10).json()["accepted"] == 2
        poll(lambda: "queue_depth" in httpx.get(f"{server.url}/metrics", timeout=10).text,
             timeout=30, what="the pushes to be collected")
    finally:
        server.stop()
    assert "values to 4 significant digits" in server.log()
    for name, sent in (("room_temperature_celsius", 21.123456789), ("queue_depth", 123456789.0)):
        (stored,) = stored_values(tmp_path / "data", name)
        assert stored != sent and abs(stored - sent) / sent < 5e-5, (name, stored)
