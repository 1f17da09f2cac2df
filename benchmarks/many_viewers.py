"""Many viewers of one collection: server CPU per session, and latency as sessions are added.

    python benchmarks/many_viewers.py [--sessions 1,5,10,20,30,40] [--rate 10000] [--seconds 5]
    python benchmarks/many_viewers.py --paused 10

With ``--paused K`` it measures what a paused viewer costs instead: the collection alone, one live session,
K paused sessions, and one live with K paused beside it, and prints the server CPU each paused session adds
beside what the live one adds (few live sessions: this 2-core machine's server saturates one core with a
handful of live ones, and a saturated server cannot show what more sessions cost).

Starts the dashboard's benchmark server (:mod:`benchmarks.ways`, 4 synthetic series at ``--rate``
points/s, collected once) in its own process, then, for each count N, opens N ``bokeh.client`` sessions,
each in a process of its own (bokeh.client gives each connection its own IOLoop, so one process cannot
drive several), and measures the server process's CPU seconds per second and each update's latency at
arrival (arrival time minus the due time of the newest row it carries).

A ``bokeh.client`` session runs no JavaScript, so it cannot acknowledge flushes: the server runs with
``max_in_flight`` raised to a million, so every session gets every flush (the most a session can cost; a
page that falls behind costs less). Sessions are not pages: twenty Chromium pages would saturate this
2-core machine by themselves. The clients share the machine with the server, so latency here is an upper
bound for the server's share.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.streaming import RESULTS, Server  # noqa: E402


class Viewer:
    """One bokeh.client session that acknowledges flushes and records their latency."""

    def __init__(self, url: str, latencies: list[float], paused: bool = False) -> None:
        from bokeh.client import pull_session
        from bokeh.document.events import ColumnsPatchedEvent, ColumnsStreamedEvent

        import dashboard.ui.feed  # noqa: F401 - defines the document's FrameAck model for this process

        self.session = pull_session(url=url, arguments={"paused": "1"} if paused else None)
        self._kinds = (ColumnsStreamedEvent, ColumnsPatchedEvent)
        self._latencies = latencies
        self.session.document.on_change(self._changed)

    def _changed(self, event: Any) -> None:
        if isinstance(event, self._kinds) and hasattr(event, "data") and "time" in event.data:
            t = event.data["time"]
            if len(t):
                self._latencies.append(time.time() * 1000.0 - float(t[-1]))

    def close(self) -> None:
        self.session.close()


def run_loop(viewers: list[Viewer], seconds: float) -> None:
    """Run every session's message loop for ``seconds`` (bokeh.client's connections share one IOLoop; each
    needs its own ``_next`` started, as its ``loop_until_closed`` would do for one)."""
    deadline = time.monotonic() + seconds
    connections = [v.session._connection for v in viewers]
    loop = connections[0]._loop
    for conn in connections:
        conn._until_predicate = lambda: time.monotonic() > deadline
        loop.add_callback(conn._next)
    backstop = loop.call_later(seconds + 0.5, loop.stop)
    loop.start()
    loop.remove_timeout(backstop)  # else it would stop the next run early


def _client(url: str, start_at: float, seconds: float, out: Any, paused: bool = False) -> None:
    """One session in a process of its own (a bokeh.client connection runs on its own IOLoop)."""
    latencies: list[float] = []
    viewer = Viewer(url, latencies, paused)
    run_loop([viewer], max(0.1, start_at - time.time()))
    latencies.clear()
    run_loop([viewer], seconds)
    viewer.close()
    out.put(latencies)


def measure(server: Server, n: int, seconds: float, warmup: float, paused: int = 0) -> dict[str, float]:
    """``n`` live sessions (and ``paused`` paused ones) for ``seconds``: server CPU and the live ones' latency."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + warmup + 2.0 + 0.3 * (n + paused)  # every client connected and warm by then
    procs = [ctx.Process(target=_client, args=(server.url, start_at, seconds, out, i >= n))
             for i in range(n + paused)]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))  # the shared start of the measured window
    s0 = server.stats()
    time.sleep(seconds)
    s1 = server.stats()
    latencies = [x for _ in procs for x in out.get(timeout=120)]
    for proc in procs:
        proc.join(30)
    lat = np.array(latencies) if latencies else np.array([np.nan])  # paused sessions only: no latency
    return {"sessions": n, "cpu": (s1["cpu"] - s0["cpu"]) / (s1["wall"] - s0["wall"]),
            "p50": float(np.nanpercentile(lat, 50)) if latencies else np.nan,
            "p99": float(np.nanpercentile(lat, 99)) if latencies else np.nan,
            "updates_per_s": len(latencies) / seconds / max(1, n), "feeds": s1["feeds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 10, 20, 30, 40])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paused", type=int, default=0, help="measure K paused sessions beside K live ones")
    args = parser.parse_args()
    if args.paused:
        paused_cost(args)
        return
    server = Server("dashboard", args.rate, 10_000, False, env={"DASHBOARD_MAX_IN_FLIGHT": "1000000"})
    rows = []
    try:
        Viewer(server.url, []).session.close()  # the first session starts the collection
        base = server.stats()
        time.sleep(args.seconds)  # the idle baseline: the collection alone, no viewer
        idle = server.stats()
        idle_cpu = (idle["cpu"] - base["cpu"]) / (idle["wall"] - base["wall"])
        for n in args.sessions:
            runs = [measure(server, n, args.seconds, args.warmup) for _ in range(args.repeats)]
            m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            rows.append(m)
            print(f"  {n:3d} sessions: server CPU {m['cpu']:.3f} s/s, p50/p99 {m['p50']:.0f}/{m['p99']:.0f} ms, "
                  f"{m['updates_per_s']:.1f} updates/s per session", flush=True)
    finally:
        server.stop()
    # the slope over the counts that leave the server below 0.8 of its one core (the GIL): past that, sessions
    # share a saturated server and the fit would flatten
    free = [r for r in rows if r["cpu"] < 0.8]
    ns = np.array([r["sessions"] for r in free], dtype=float)
    cpus = np.array([r["cpu"] for r in free])
    slope = float(np.polyfit(ns, cpus, 1)[0]) if len(free) > 1 else float("nan")
    ok = [r["sessions"] for r in rows if r["p99"] <= 250]
    lines = [f"Server: the dashboard at {args.rate:,.0f} points/s (4 series), sessions by `bokeh.client`, one process "
             f"each (no acknowledgements: every session gets every flush); medians of {args.repeats} runs of "
             f"{args.seconds:g} s. "
             f"Command: `python benchmarks/many_viewers.py`.", "",
             f"Collection alone (no session): {idle_cpu:.3f} s/s. Server CPU added per session (least-squares "
             f"slope below 0.8 s/s): **{slope:.4f} s/s**. Most sessions with p99 <= 250 ms: **{max(ok) if ok else 0}** "
             f"(of {max(args.sessions)} tried).", "",
             "| sessions | server CPU (s/s) | latency p50 / p99 at arrival (ms) | updates/s per session |",
             "|---|---|---|---|"]
    lines += [f"| {r['sessions']:.0f} | {r['cpu']:.3f} | {r['p50']:.0f} / {r['p99']:.0f} | {r['updates_per_s']:.1f} |"
              for r in rows]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "many_viewers.md").write_text(text)
    print()
    print(text)


def paused_cost(args: argparse.Namespace) -> None:
    """What a paused viewer costs the server beside a live one (issue 10: at most a tenth)."""
    k = args.paused
    server = Server("dashboard", args.rate, 10_000, False, env={"DASHBOARD_MAX_IN_FLIGHT": "1000000"})
    runs: dict[str, list[float]] = {"none": [], "1 live": [], f"{k} paused": [], f"1 live + {k} paused": []}
    try:
        Viewer(server.url, []).session.close()
        time.sleep(args.warmup + 5)  # the first session is gone
        for _ in range(args.repeats):  # interleaved, so that drift touches every case alike
            base = server.stats()
            time.sleep(args.seconds)
            idle = server.stats()
            runs["none"].append((idle["cpu"] - base["cpu"]) / (idle["wall"] - base["wall"]))
            runs["1 live"].append(measure(server, 1, args.seconds, args.warmup)["cpu"])
            runs[f"{k} paused"].append(measure(server, 0, args.seconds, args.warmup, paused=k)["cpu"])
            runs[f"1 live + {k} paused"].append(measure(server, 1, args.seconds, args.warmup, paused=k)["cpu"])
            time.sleep(args.warmup + 5)  # the sessions of this round are reaped before the next idle baseline
    finally:
        server.stop()
    cpu = {name: statistics.median(values) for name, values in runs.items()}
    per_live = cpu["1 live"] - cpu["none"]
    per_paused = (cpu[f"{k} paused"] - cpu["none"]) / k
    beside = (cpu[f"1 live + {k} paused"] - cpu["1 live"]) / k
    text = "\n".join([
        f"Paused viewers: the dashboard at {args.rate:,.0f} points/s (4 series), `bokeh.client` sessions; medians "
        f"of {args.repeats} runs of {args.seconds:g} s. Command: `python benchmarks/many_viewers.py --paused {k} "
        f"--rate {args.rate:g}`.", "",
        "| sessions | server CPU (s/s) |", "|---|---|",
        *[f"| {name} | {value:.3f} |" for name, value in cpu.items()], "",
        f"A live session adds {per_live:.3f} s/s; a paused one {per_paused:.4f} s/s alone and {beside:.4f} s/s "
        f"beside a live one (**{max(per_paused, beside) / per_live:.2f}** of a live one; target <= 0.10).", ""])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "paused_viewers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
