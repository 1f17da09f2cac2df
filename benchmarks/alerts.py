"""Alert evaluation: 1,000 rules over 10,000 series, one evaluation at a time, on one core.

    python benchmarks/alerts.py [--rules 1000] [--metrics 100] [--series-per-metric 100] [--rounds 30]

A store holds ``--metrics`` metrics of ``--series-per-metric`` series each (10,000 series); ``--rules``
rules spread over the metrics (10 a metric, each matching all of its metric's series: 100,000 alerts),
with thresholds that every value is drawn around. Each round writes one new sample to every series, then
evaluates every rule once:

* ``steady``: values that cross no threshold (no alert changes state);
* ``churn``: 1% of the series jump across their rules' thresholds each round (about 1,000 alerts change
  state a round: ALERTS samples written, events published).

Timed side by side with the way the seed's patterns would do it, one alert at a time (read the series'
newest sample, check the condition, move its state): the ``naive`` rows. Medians and p95 of ``--rounds``
rounds; the first evaluation (which builds the 100,000 alerts) is reported on its own.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from dashboard.alerts import AlertRule
from dashboard.alerts.rules import AlertState
from dashboard.metrics.model import Batch, SeriesKey
from dashboard.service import MetricsService


def build(rules: int, metrics: int, per_metric: int) -> tuple[MetricsService, list[SeriesKey]]:
    svc = MetricsService([], capacity=64)
    keys = [SeriesKey.of(f"m{m}", i=str(i)) for m in range(metrics) for i in range(per_metric)]
    for r in range(rules):
        svc.add_alert(AlertRule(name=f"R{r}", metric=f"m{r % metrics}", above=100.0 + r // metrics, clear=95.0,
                                for_=5.0))
    return svc, keys


def write(svc: MetricsService, keys: list[SeriesKey], t: float, values: np.ndarray) -> None:
    svc._write(Batch("bench", tuple(keys), np.array([t]), values[:, None]))


def naive_evaluate(svc: MetricsService, state: dict, now: float) -> int:
    """One alert at a time: what a per-alert loop over the seed's state machine costs."""
    changes = 0
    for rule in svc.alert_engine.rules():
        for key in svc.store.keys(rule.metric):
            _t, v = svc.store.latest(key)
            firing = state.get((rule.name, key), AlertState.INACTIVE)
            breach = v > rule.above or (firing is AlertState.FIRING and v >= rule.clear)
            target = AlertState.FIRING if breach else (AlertState.RESOLVED if firing is AlertState.FIRING
                                                       else AlertState.INACTIVE)
            if target is not firing:
                state[rule.name, key] = target
                changes += 1
    return changes


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    svc, keys = build(args.rules, args.metrics, args.series_per_metric)
    rng = np.random.default_rng(1)
    t = time.time()
    base = rng.uniform(0, 90, len(keys))
    write(svc, keys, t, base)
    started = time.perf_counter()
    svc.alert_engine.evaluate(t)
    first = time.perf_counter() - started
    alerts = sum(len(g.alerts) for g in svc.alert_engine.groups.values())
    out: dict[str, list[float]] = {"steady": [], "churn": [], "naive steady": [], "changes": []}
    naive_state: dict = {}
    for i in range(args.rounds):
        t += 1.0
        values = base + rng.normal(0, 1, len(keys))
        write(svc, keys, t, values)
        started = time.perf_counter()
        svc.alert_engine.evaluate(t)
        out["steady"].append(time.perf_counter() - started)
        if i < 5:  # the naive loop is slow: a few rounds tell its cost
            started = time.perf_counter()
            naive_evaluate(svc, naive_state, t)
            out["naive steady"].append(time.perf_counter() - started)
    for _ in range(args.rounds):
        t += 1.0
        values = base.copy()
        jump = rng.choice(len(keys), len(keys) // 100, replace=False)
        values[jump] = 500.0  # above every threshold: pending, then firing after `for`, resolved when back
        write(svc, keys, t, values)
        started = time.perf_counter()
        events = svc.alert_engine.evaluate(t)
        out["churn"].append(time.perf_counter() - started)
        out["changes"].append(float(len(events)))
    print(f"{args.rules:,} rules, {len(keys):,} series, {alerts:,} alerts; first evaluation (builds the alerts) "
          f"{first:.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--series-per-metric", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    import logging

    logging.getLogger("dashboard").setLevel(logging.ERROR)  # a thousand state changes a round: not logged here
    out = run(args)
    print("| evaluation | median | p95 | alerts changed per round (median) |")
    print("|---|---|---|---|")
    changes = statistics.median(out["changes"]) if out["changes"] else 0
    for name in ("steady", "churn", "naive steady"):
        xs = sorted(out[name])
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        print(f"| {name} | {statistics.median(xs) * 1000:.1f} ms | {p95 * 1000:.1f} ms | "
              f"{changes if name == 'churn' else 0:,.0f} |")


if __name__ == "__main__":
    main()
