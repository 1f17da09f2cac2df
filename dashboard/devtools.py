"""Local Prometheus parts for trying the Prometheus sources (and for this project's tests and notebooks).

* :class:`Exporter`: a real prometheus_client exporter on loopback (``start_http_server``) with a counter,
  a gauge, a histogram and a summary you can drive; ``stop()`` and ``start()`` it again on the same port
  to see an outage.
* :class:`LocalPrometheus`: Debian's (or any) ``prometheus`` binary started on loopback with a temporary
  config and data folder, scraping the targets you give; stopped and cleaned up on exit.
* :class:`LocalAlertmanager`: Debian's ``prometheus-alertmanager`` the same way, forwarding what it
  receives to a webhook.
* :class:`LocalJupyterLab`: JupyterLab on loopback, without a token, serving a folder (the shipped
  notebooks' test and the README's JupyterLab picture open them there).

Everything binds to 127.0.0.1. Nothing here is imported by the dashboard itself.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, start_http_server


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it is truthy, or raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _ready_or_stopped(process: subprocess.Popen, url: str, timeout: float, name: str, log_path: Path,
                      stop: Any) -> None:
    """Wait until ``url`` answers; if ``process`` exits or the wait fails, ``stop()`` and raise, naming
    ``name`` (and the end of its log)."""
    try:
        wait_until(lambda: process.poll() is not None or _answers(url), timeout, f"{name} did not answer")
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_path.read_text()[-2000:]}")
    except BaseException:
        stop()
        raise


def _terminate(process: subprocess.Popen, grace: float) -> None:
    """Terminate ``process``; kill it if it has not exited within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class Exporter:
    """A prometheus_client exporter on 127.0.0.1 with a few metrics of each kind."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.registry = CollectorRegistry()
        self.requests = Counter("demo_requests", "Requests served", ["path"], registry=self.registry)
        self.in_flight = Gauge("demo_in_flight", "Requests in flight", registry=self.registry)
        self.latency = Histogram("demo_latency_seconds", "Request latency", registry=self.registry,
                                 buckets=(0.01, 0.1, 1.0))
        self.size = Summary("demo_response_bytes", "Response size", registry=self.registry)
        self._server: Any = None
        self._thread: Any = None

    def start(self) -> Exporter:
        self._server, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        wait_until(lambda: _answers(self.url), 10, f"exporter on {self.url} did not answer")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _LocalServer:
    """A server binary started on 127.0.0.1 with a temporary config and data folder."""

    program = ""

    def __init__(self, binary: str | None = None, port: int | None = None) -> None:
        self.binary = binary or shutil.which(self.program) or f"/usr/bin/{self.program}"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def config(self) -> str:
        raise NotImplementedError

    def arguments(self, root: Path) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30) -> Any:
        if not Path(self.binary).exists():
            raise FileNotFoundError(f"no {self.program} binary at {self.binary} (apt-get install {self.program})")
        self._dir = tempfile.TemporaryDirectory(prefix=f"dashboard-{self.program}-")
        root = Path(self._dir.name)
        (root / "config.yml").write_text(self.config())
        self.log_path = root / "server.log"
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen([self.binary, *self.arguments(root)], stdout=log,
                                             stderr=subprocess.STDOUT)
        _ready_or_stopped(self._process, f"{self.url}/-/ready", timeout, self.program, self.log_path, self.stop)
        return self

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process, 10)
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class LocalPrometheus(_LocalServer):
    """A Prometheus server on 127.0.0.1 with a temporary config and data folder."""

    program = "prometheus"

    def __init__(self, targets: list[str], scrape_interval: str = "1s", binary: str | None = None,
                 port: int | None = None) -> None:
        super().__init__(binary, port)
        self.targets = targets
        self.scrape_interval = scrape_interval

    def config(self) -> str:
        targets = ", ".join(f"'{t}'" for t in self.targets)
        return (f"global:\n  scrape_interval: {self.scrape_interval}\n  evaluation_interval: {self.scrape_interval}\n"
                f"scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: [{targets}]\n")

    def arguments(self, root: Path) -> list[str]:
        return [f"--config.file={root / 'config.yml'}", f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]


class LocalAlertmanager(_LocalServer):
    """Debian's Alertmanager on 127.0.0.1 (no cluster), with a temporary config and data folder; it sends
    every notification, firing and resolved, to ``webhook`` (a URL) at once when one is given."""

    program = "prometheus-alertmanager"

    def __init__(self, webhook: str | None = None, binary: str | None = None, port: int | None = None) -> None:
        super().__init__(binary, port)
        self.webhook = webhook

    def config(self) -> str:
        hook = (f"    webhook_configs:\n      - url: '{self.webhook}'\n        send_resolved: true\n"
                if self.webhook else "")
        return ("route:\n  receiver: out\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1s\n"
                f"  repeat_interval: 1h\nreceivers:\n  - name: out\n{hook}")

    def arguments(self, root: Path) -> list[str]:
        return [f"--config.file={root / 'config.yml'}", f"--storage.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"]


class LocalJupyterLab:
    """JupyterLab on 127.0.0.1 with no token, serving ``folder`` (its settings and runtime files inside it):
    every cell stays in the page (JupyterLab 4 detaches the cells scrolled out of view by default, and a
    test reads plots and controls above the cell that runs last)."""

    def __init__(self, folder: str | Path, port: int | None = None) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.folder / ".lab.log"  # (hidden: not in the file browser)
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> LocalJupyterLab:
        import json
        import os
        import sys

        settings = self.folder / ".lab-settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self.folder / ".jupyter"),
               "JUPYTER_RUNTIME_DIR": str(self.folder / ".runtime"), "JUPYTER_PLATFORM_DIRS": "1",
               "PYTHONUNBUFFERED": "1", "JUPYTERLAB_SETTINGS_DIR": str(self.folder / ".lab-settings")}
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}",
                 "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
                 "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={self.folder}",
                 "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                 "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly"],
                cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        _ready_or_stopped(self._process, f"{self.url}/api/status", timeout, "JupyterLab", self.log_path, self.stop)
        return self

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process, 20)
            self._process = None

    def __enter__(self) -> LocalJupyterLab:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
