"""Sessions opening and closing for minutes: the server's memory and subscriptions come back.

    python benchmarks/soak.py [--minutes 10] [--every 3]

Starts the dashboard's benchmark server (:mod:`benchmarks.ways`: 4 synthetic series at 1,000 points/s,
sessions reaped 5 s after their page goes) in its own process and, in Chromium, opens a page every
``--every`` seconds, waits for its first data, and closes it, for ``--minutes``. The server's RSS is taken
after ten warm-up sessions (the start) and after the last page has gone and its session was reaped (the
end); the feed and publisher-subscriber counts must be back to zero.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from benchmarks.streaming import PROBE_JS, RESULTS, Server  # noqa: E402


def one_session(browser, url: str) -> None:
    page = browser.new_page()
    page.add_init_script(PROBE_JS)
    page.goto(url, timeout=60_000)
    deadline = time.monotonic() + 60
    while page.evaluate("() => window.__probe.samples.length") < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("a soak page got no data within 60 s")
        page.wait_for_timeout(100)
    page.close()


def quiet(server: Server, timeout: float = 60) -> dict:
    """Wait until every session was reaped (no feed, no subscriber)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        if stats["feeds"] == 0 and stats["subscribers"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"sessions were not reaped within {timeout:g} s: {stats}")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=3.0)
    args = parser.parse_args()
    server = Server("dashboard", 1_000, 10_000, False)
    samples = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for _ in range(10):
                one_session(browser, server.url)
            start = quiet(server)
            t0 = time.monotonic()
            sessions = 0
            while time.monotonic() - t0 < args.minutes * 60:
                began = time.monotonic()
                one_session(browser, server.url)
                sessions += 1
                stats = server.stats()
                samples.append((time.monotonic() - t0, stats["rss"], stats["feeds"]))
                time.sleep(max(0.0, args.every - (time.monotonic() - began)))  # pacing, not waiting
            browser.close()
        end = quiet(server)
    finally:
        server.stop()
    peak = max(s[1] for s in samples)
    change = (end["rss"] - start["rss"]) / start["rss"]
    text = (f"Soak: {sessions} Chromium sessions opened and closed over {args.minutes:g} min (one every "
            f"{args.every:g} s, each until its first data), the dashboard at 1,000 points/s. Command: "
            f"`python benchmarks/soak.py`.\n\n"
            f"| server RSS at start (after 10 warm-up sessions) | peak | at end (all sessions reaped) | change | "
            f"feeds / subscribers at end |\n|---|---|---|---|---|\n"
            f"| {start['rss'] / 2**20:.1f} MB | {peak / 2**20:.1f} MB | {end['rss'] / 2**20:.1f} MB | "
            f"{change:+.1%} | {end['feeds']} / {end['subscribers']} |\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
