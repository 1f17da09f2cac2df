"""How long and how large each tier of the history may grow, and the command line's way of saying it.

``--retention 7d`` keeps the raw tier a week (the coarser tiers keep their defaults, or at least as long);
``--retention raw=2d,minute=30d`` sets tiers one by one. ``--max-disk 1GiB`` splits a total over the tiers
(:data:`DISK_SHARES`); ``--max-disk raw=800MiB`` sets one. The oldest chunks of a tier go first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .tiers import TIERS

#: Default retention per tier, in seconds (raw a week, 10 and 30 s a month, minutes 90 days, 5 and 15
#: minutes a year, hours two years).
DEFAULT_RETENTION = {"raw": 7 * 86400.0, "10s": 30 * 86400.0, "30s": 30 * 86400.0, "minute": 90 * 86400.0,
                     "5min": 365 * 86400.0, "15min": 365 * 86400.0, "hour": 730 * 86400.0}
#: Share of ``max_bytes`` each tier may use when only a total is given.
DISK_SHARES = {"raw": 0.55, "10s": 0.15, "30s": 0.08, "minute": 0.08, "5min": 0.06, "15min": 0.04,
               "hour": 0.04}

@dataclass(frozen=True)
class Retention:
    """How long (seconds) and how many bytes each tier keeps; the oldest chunks go first."""

    seconds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETENTION))
    bytes: dict[str, float] = field(default_factory=lambda: {t: float("inf") for t in TIERS})

    @classmethod
    def of(cls, seconds: dict[str, float] | float | None = None,
           max_bytes: dict[str, float] | float | None = None) -> Retention:
        """From a raw-tier time (the coarser tiers keep their defaults, or at least as long) or one per tier,
        and a total size (split over the tiers by :data:`DISK_SHARES`) or one per tier."""
        ages = dict(DEFAULT_RETENTION)
        if isinstance(seconds, (int, float)):
            ages["raw"] = float(seconds)
            names = list(TIERS)
            for finer, coarser in itertools.pairwise(names):  # a coarser tier keeps at least as long
                ages[coarser] = max(ages[coarser], ages[finer])
        elif seconds:
            ages.update({k: float(v) for k, v in seconds.items()})
        sizes = {t: float("inf") for t in TIERS}
        if isinstance(max_bytes, (int, float)):
            sizes = {t: float(max_bytes) * share for t, share in DISK_SHARES.items()}
        elif max_bytes:
            sizes.update({k: float(v) for k, v in max_bytes.items()})
        for name in (*ages, *sizes):
            if name not in TIERS:
                raise ValueError(f"history retention: unknown tier {name!r} (tiers: {', '.join(TIERS)})")
        for tier in TIERS:
            if not ages[tier] > 0 or not sizes[tier] > 0:
                raise ValueError(f"history retention: the {tier} tier must keep more than 0 (got "
                                 f"{ages[tier]:g} s, {sizes[tier]:g} bytes)")
        return cls(ages, sizes)

    @classmethod
    def parse(cls, retention: str | None = None, max_disk: str | None = None) -> Retention:
        """From the command line's texts: ``--retention 7d`` (the raw tier) or ``raw=7d,minute=90d,hour=2y``
        and ``--max-disk 1GiB`` (split by :data:`DISK_SHARES`) or ``raw=800MiB,...``."""
        from ..viewurl import parse_duration

        def duration(text: str) -> float:
            text = text.strip().lower()
            return float(text[:-1]) * 365 * 86400 if re.fullmatch(r"\d+(\.\d+)?y", text) else parse_duration(text)

        return cls.of(_per_tier(retention, duration) if retention else None,
                      _per_tier(max_disk, parse_size) if max_disk else None)


SIZE_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12,
              "tb": 1e12, "kib": 1024.0, "mib": 1024.0**2, "gib": 1024.0**3, "tib": 1024.0**4}


def parse_size(text: str) -> float:
    """Bytes from ``"500MB"``, ``"1GiB"``, ``"1.5g"`` or a plain number; ValueError naming the text otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in SIZE_UNITS:
        raise ValueError(f"expected a size such as 500MB or 1GiB, got {text!r}")
    return float(match.group(1)) * SIZE_UNITS[unit]


def _per_tier(text: str, parse: Callable[[str], float]) -> dict[str, float] | float:
    """``"7d"`` (one value) or ``"raw=7d,minute=90d"`` (per tier)."""
    if "=" not in text:
        return parse(text)
    out = {}
    for item in text.split(","):
        tier, _, value = item.partition("=")
        out[tier.strip()] = parse(value)
    return out
