"""Streaming into a real browser: this project against the usual ways, side by side, in one Chromium.

    python benchmarks/streaming.py [--repeats 3] [--seconds 5] [--rates 100,1000,...] [--ways ...]

For every way (:mod:`benchmarks.ways`) and offered rate (points per second: 4 series, so a row is 4
points) it starts that way's server in its own process, opens a fresh page ``--repeats`` times and, after a
warm-up, measures for ``--seconds``:

* delivered points/s: at every animation frame the page reads the newest time in its data (every row's
  time is when it was due, at an exact spacing), so the newest painted time tells how many points the page
  has drawn up to;
* publish-to-paint latency p50/p95/p99: frame time minus the newest painted row's due time, at each frame
  that drew newer data (browser and server share this machine's clock);
* frames per second (``requestAnimationFrame`` callbacks), server CPU seconds per second (the server
  process), websocket bytes and messages per offered point, the page's JS heap.

A rate is *sustained* when at least 95% is delivered with p99 under 250 ms; a way's sweep stops after two
rates it does not sustain. Then the long-window case: the dashboard with one hour at 1 kHz x 4 series in
view (14.4 million samples) against the hand-written loop with a 100,000-row window, both at 4,000
points/s with a full window from the start. Medians of the repeats go to ``benchmarks/results/``
(``streaming.json``, ``streaming.md``, ``streaming.png``) and the Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SERIES = 4
WAYS = ["dashboard", "dashboard-nolegend", "handloop", "holoviews", "perpoint"]
LABELS = {
    "dashboard": "dashboard (this project)",
    "dashboard-page": "dashboard, the served page (template, the view's controls, status)",
    "dashboard-history": "dashboard, keeping history on disk",
    "dashboard-nolegend": "dashboard, plot without its legend",
    "handloop": "hand-written loop: one `stream` of numpy arrays every 50 ms",
    "holoviews": "HoloViews `Buffer` + `DynamicMap`, 50 ms batches",
    "perpoint": "one `source.stream` of one row per reading via `add_next_tick_callback`",
}
RATES = [100, 1_000, 10_000, 100_000, 300_000, 1_000_000]

PROBE_JS = """
window.__probe = {frames: 0, samples: []};
(() => {
  let sources = [], lastScan = 0, newest = -Infinity;
  const scan = () => {
    sources = [];
    if (!window.Bokeh) return;
    for (const d of Bokeh.documents) for (const m of d.all_models)
      if (m.data && m.data.time !== undefined) sources.push(m);
  };
  const frame = () => {
    const now = performance.timeOrigin + performance.now();
    if (now - lastScan > 500) { scan(); lastScan = now; }
    let n = -Infinity, rows = 0;
    for (const s of sources) {
      const t = s.data.time;
      if (t.length) { const x = t[t.length - 1]; if (x > n) n = x; if (t.length > rows) rows = t.length; }
    }
    window.__probe.frames += 1;
    if (n > newest) { newest = n; window.__probe.samples.push([now, n, rows]); }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();
"""
SNAPSHOT_JS = "() => [performance.timeOrigin + performance.now(), window.__probe.frames, window.__probe.samples.length]"


class Server:
    """One way's server process on loopback."""

    def __init__(self, way: str, rate: float, window_rows: int, prefill: bool,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        args = [sys.executable, "-m", "benchmarks.ways", way, "--rate", str(rate), "--port", str(self.port),
                "--window-rows", str(window_rows)] + (["--prefill"] if prefill else [])
        # a file, never a pipe: an undrained pipe would block the server (closed in stop())
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 120
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    self.log.seek(0)
                    raise SystemExit(f"{way} server did not start: {self.log.read()[-2000:]}") from None
                time.sleep(0.2)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "stats", timeout=5) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Wire:
    """Websocket frames the page receives."""

    def __init__(self, page: Any) -> None:
        self.bytes = 0
        self.messages = 0
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload: Any) -> None:
        self.bytes += len(payload)
        if isinstance(payload, str) and '"msgtype"' in payload:
            self.messages += 1


def measure(browser: Any, server: Server, rate: float, seconds: float, warmup: float) -> dict[str, float]:
    log("open")
    context, page, cdp, wire = open_measured(browser, server)
    log("opened")
    try:
        page.wait_for_timeout(warmup * 1000)
        return _window(page, cdp, wire, server, rate, seconds)
    finally:
        context.close()


def log(what: str) -> None:
    if VERBOSE:
        print(f"    {time.strftime('%H:%M:%S')} {what}", flush=True)


VERBOSE = bool(os.environ.get("BENCH_VERBOSE"))


def _window(page: Any, cdp: Any, wire: Wire, server: Server, rate: float, seconds: float) -> dict[str, float]:
    state = start_window(page, cdp, wire, server)
    log("window started")
    page.wait_for_timeout(seconds * 1000)
    log("window ends")
    return end_window(state, rate)


def start_window(page: Any, cdp: Any, wire: Wire, server: Server) -> dict[str, Any]:
    return {"page": page, "cdp": cdp, "wire": wire, "server": server, "stats": server.stats(),
            "snap": page.evaluate(SNAPSHOT_JS), "bytes": wire.bytes, "messages": wire.messages}


def end_window(state: dict[str, Any], rate: float) -> dict[str, float]:
    page, wire, server = state["page"], state["wire"], state["server"]
    s0, (t0, f0, n0), b0, m0 = state["stats"], state["snap"], state["bytes"], state["messages"]
    s1, (t1, f1, n1), b1, m1 = server.stats(), page.evaluate(SNAPSHOT_JS), wire.bytes, wire.messages
    samples = np.array(page.evaluate(f"() => window.__probe.samples.slice({max(0, n0 - 1)}, {n1})"))
    log("samples read")
    heap = state["cdp"].send("Runtime.getHeapUsage")["usedSize"]
    log("heap read")
    duration = (t1 - t0) / 1000.0
    offered = rate * duration
    inside = samples[samples[:, 0] >= t0] if samples.size else samples
    newest0 = samples[0, 1] if samples.size else 0.0
    newest1 = samples[-1, 1] if samples.size else 0.0
    delivered = (newest1 - newest0) / 1000.0 * rate  # rows at exact spacing: seconds of data x rate
    latency = inside[:, 0] - inside[:, 1] if inside.size else np.array([np.inf])
    return {
        "delivered": delivered / duration, "ratio": delivered / offered,
        "p50": float(np.percentile(latency, 50)), "p95": float(np.percentile(latency, 95)),
        "p99": float(np.percentile(latency, 99)), "fps": (f1 - f0) / duration,
        "cpu": (s1["cpu"] - s0["cpu"]) / (s1["wall"] - s0["wall"]),
        "bytes_per_point": (b1 - b0) / offered, "messages_per_point": (m1 - m0) / offered,
        "messages_per_s": (m1 - m0) / duration, "heap_mb": heap / 2**20,
        "rows_in_view": float(samples[-1, 2]) if samples.size else 0.0,
    }


def open_measured(browser: Any, server: Server, throttle: float = 1.0) -> tuple[Any, Any, Any, Wire]:
    context = browser.new_context(viewport={"width": 1280, "height": 700})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    if throttle != 1.0:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.add_init_script(PROBE_JS)
    wire = Wire(page)
    page.goto(server.url, timeout=120_000)
    deadline = time.monotonic() + 120
    while page.evaluate("() => window.__probe.samples.length") < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("no data reached the page within 120 s")
        page.wait_for_timeout(100)
    return context, page, cdp, wire


def backpressure(browser: Any, args: argparse.Namespace, rate: float = 10_000.0) -> dict[str, dict[str, float]]:
    """A normal page alone, then beside a page throttled 4x (Chromium's CPU throttling), at ``rate``."""
    server = Server("dashboard", rate, 10_000, False)
    out: dict[str, list[dict[str, float]]] = {"normal page alone": [], "normal page, throttled one beside": [],
                                              "page throttled 4x": []}
    try:
        for _ in range(args.repeats):
            ctx, page, cdp, wire = open_measured(browser, server)
            page.wait_for_timeout(args.warmup * 1000)
            out["normal page alone"].append(_window(page, cdp, wire, server, rate, args.seconds))
            slow_ctx, slow, slow_cdp, slow_wire = open_measured(browser, server, throttle=4.0)
            page.wait_for_timeout(args.warmup * 1000)
            both = [start_window(page, cdp, wire, server), start_window(slow, slow_cdp, slow_wire, server)]
            page.wait_for_timeout(args.seconds * 1000)
            out["normal page, throttled one beside"].append(end_window(both[0], rate))
            out["page throttled 4x"].append(end_window(both[1], rate))
            slow_ctx.close()
            ctx.close()
    finally:
        server.stop()
    return {k: median_of(v) for k, v in out.items()}


FAILED = {"delivered": 0.0, "ratio": 0.0, "p50": float("inf"), "p95": float("inf"), "p99": float("inf"),
          "fps": 0.0, "cpu": float("nan"), "bytes_per_point": float("nan"), "messages_per_point": float("nan"),
          "messages_per_s": 0.0, "heap_mb": float("nan"), "rows_in_view": 0.0}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def sustained(m: dict[str, float]) -> bool:
    return m["ratio"] >= 0.95 and m["p99"] <= 250.0


def run_case(browser: Any, way: str, rate: float, args: argparse.Namespace, window_rows: int = 10_000,
             prefill: bool = False) -> dict[str, float]:
    server = Server(way, rate, window_rows, prefill)
    runs = []
    try:
        for _ in range(args.repeats):
            try:
                runs.append(measure(browser, server, rate, args.seconds, args.warmup))
            except Exception as exc:  # a way that cannot even show data at this rate: delivered nothing
                print(f"  {way} at {rate:,.0f} points/s: {exc}", flush=True)
                runs = [dict(FAILED)]
                break  # the next page would wait as long for nothing
    finally:
        server.stop()
    m = median_of(runs)
    print(f"  [{time.strftime('%H:%M:%S')}] {way:10s} {rate:>10,.0f} pts/s: delivered {m['ratio']:6.1%}  "
          f"p50/p99 {m['p50']:7.0f}/"
          f"{m['p99']:7.0f} ms  {m['fps']:4.0f} fps  cpu {m['cpu']:.2f}  {m['bytes_per_point']:8.2f} B/pt  "
          f"rows {m['rows_in_view']:.0f}", flush=True)
    return m


def sweep(browser: Any, args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    partial = args.out / "streaming-partial.json"
    results: dict[str, dict[str, dict[str, float]]] = json.loads(partial.read_text()) if args.resume else {}
    for way in args.ways:
        if way in results:
            continue  # measured by the run being resumed
        results[way] = {}
        failures = 0
        for rate in args.rates:
            if failures >= 2:
                break
            m = results[way][str(rate)] = run_case(browser, way, rate, args)
            failures += not sustained(m)
            partial.write_text(json.dumps(results, indent=1))
    return results


def long_window(browser: Any, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rate = 4_000.0
    return {
        "dashboard (1 h at 1 kHz x 4 in view)": run_case(browser, "dashboard", rate, args, 3_600_000, True),
        "hand-written loop (100,000-row window)": run_case(browser, "handloop", rate, args, 100_000, True),
    }


def table(results: dict[str, dict[str, dict[str, float]]], long: dict[str, dict[str, float]],
          args: argparse.Namespace) -> str:
    lines = [f"Machine: {platform.node()}, {platform.processor() or platform.machine()}, "
             f"headless Chromium (`--disable-gpu`, canvas); 4 series; 10,000-row window; medians of {args.repeats} "
             f"runs of {args.seconds:g} s. Command: `python benchmarks/streaming.py`.", "",
             "| way of streaming | sustained up to (points/s) | latency p50/p99 at 1,000 points/s (ms) | "
             "frames/s at the top rate | server CPU (s/s) at 1,000 / top | bytes/point at top | "
             "messages/s at top | JS heap (MB) |", "|---|---|---|---|---|---|---|---|"]
    for way, by_rate in results.items():
        ok = [int(r) for r, m in by_rate.items() if sustained(m)]
        top = str(max(ok)) if ok else min(by_rate, key=int)
        at_1k = by_rate.get("1000")
        m = by_rate[top]
        lat = f"{at_1k['p50']:.0f} / {at_1k['p99']:.0f}" if at_1k else "-"
        cpu_1k = f"{at_1k['cpu']:.2f}" if at_1k else "-"
        failed = [f"{int(r):,}: {m2['ratio']:.0%}" for r, m2 in by_rate.items() if not sustained(m2)]
        top_text = (f"{max(ok):,}" if ok else "none") + (f" (delivered at {', '.join(failed)})" if failed else "")
        lines.append(f"| {LABELS[way]} | {top_text} | {lat} | {m['fps']:.0f} | {cpu_1k} / {m['cpu']:.2f} | "
                     f"{m['bytes_per_point']:.2f} | {m['messages_per_s']:.1f} | {m['heap_mb']:.0f} |")
    lines += ["", "Every rate (delivered share, p50/p95/p99 ms, frames/s, server CPU s/s, bytes and messages "
              "per point):", "", "| way | points/s | delivered | p50 / p95 / p99 | fps | CPU | B/pt | msg/pt |",
              "|---|---|---|---|---|---|---|---|"]
    for way, by_rate in results.items():
        for rate, m in by_rate.items():
            lines.append(f"| {way} | {int(rate):,} | {m['ratio']:.1%} | {m['p50']:.0f} / {m['p95']:.0f} / "
                         f"{m['p99']:.0f} | {m['fps']:.0f} | {m['cpu']:.2f} | {m['bytes_per_point']:.2f} | "
                         f"{m['messages_per_point']:.4f} |")
    if long:
        lines += ["", "Long window, 4,000 points/s arriving, full window from the start:", "",
                  "| case | rows drawn | delivered | p50 / p99 (ms) | frames/s | server CPU (s/s) |",
                  "|---|---|---|---|---|---|"]
        for name, m in long.items():
            lines.append(f"| {name} | {m['rows_in_view']:,.0f} | {m['ratio']:.1%} | {m['p50']:.0f} / "
                         f"{m['p99']:.0f} | {m['fps']:.0f} | {m['cpu']:.2f} |")
    return "\n".join(lines) + "\n"


def pressure_table(pressure: dict[str, dict[str, float]]) -> str:
    if not pressure:
        return ""
    lines = ["", "Backpressure: the dashboard at 10,000 points/s, a normal page alone, then with a page beside it "
             "whose CPU Chromium throttles 4x (`Emulation.setCPUThrottlingRate`), measured in the same window:", "",
             "| page | delivered | p50 / p99 (ms) | frames/s | messages/s | server CPU (s/s) |",
             "|---|---|---|---|---|---|"]
    for name, m in pressure.items():
        lines.append(f"| {name} | {m['ratio']:.1%} | {m['p50']:.0f} / {m['p99']:.0f} | {m['fps']:.0f} | "
                     f"{m['messages_per_s']:.1f} | {m['cpu']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for way, by_rate in results.items():
        rates = [int(r) for r in by_rate]
        left.plot(rates, [by_rate[str(r)]["delivered"] for r in rates], marker="o", label=way)
        right.plot(rates, [max(1.0, by_rate[str(r)]["p99"]) for r in rates], marker="o", label=way)
    top = max(int(r) for by_rate in results.values() for r in by_rate)
    left.plot([100, top], [100, top], color="grey", linestyle=":", label="offered")
    right.axhline(250, color="grey", linestyle=":", label="250 ms")
    for ax, title in ((left, "delivered points/s"), (right, "p99 publish-to-paint latency (ms)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered points/s")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=RATES)
    parser.add_argument("--ways", type=lambda s: s.split(","), default=WAYS)
    parser.add_argument("--no-long-window", action="store_true")
    parser.add_argument("--no-backpressure", action="store_true")
    parser.add_argument("--resume", action="store_true", help="keep the ways measured by an interrupted run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            results = sweep(browser, args)
            long = {} if args.no_long_window else long_window(browser, args)
            pressure = {} if args.no_backpressure else backpressure(browser, args)
        finally:
            browser.close()
    (args.out / "streaming.json").write_text(json.dumps(
        {"sweep": results, "long_window": long, "backpressure": pressure}, indent=1))
    text = table(results, long, args) + pressure_table(pressure)
    (args.out / "streaming.md").write_text(text)
    plot(results, args.out / "streaming.png")
    print()
    print(text)


if __name__ == "__main__":
    main()
