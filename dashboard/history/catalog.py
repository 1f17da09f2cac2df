"""The series catalog of a data folder: which number on disk is which series.

Samples on disk name their series by a small integer; ``series.jsonl`` maps each number to its name,
labels, source and :class:`~dashboard.metrics.model.SeriesInfo`, one JSON object per line, appended (and
flushed to the OS) before the first sample of a new series is logged. A line cut short by a crash can only be
the last one written, and no sample refers to it yet (a full disk may also cut one short, and the same
series is written again when space comes back): it is skipped with a log line. Names and labels are kept as
given (they are data, never markup).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..metrics.model import SeriesInfo, SeriesKey

log = logging.getLogger("dashboard.history")


class Catalog:
    """Series numbers of one data folder, loaded at start and appended as series appear."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ids: dict[SeriesKey, int] = {}
        self.keys: list[SeriesKey] = []
        self.sources: list[str] = []
        self.info: list[SeriesInfo] = []
        self._load()
        self._fd = -1  # opened on the first new series (a read-only folder can still be read)

    def _load(self) -> None:
        if not self.path.exists():
            return
        lines = self.path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key = SeriesKey(item["name"], tuple((str(k), str(v)) for k, v in item["labels"]))
                info = SeriesInfo(item.get("unit", ""), item.get("kind", "gauge"), item.get("help", ""))
                if item["id"] != len(self.keys):
                    raise ValueError(f"expected id {len(self.keys)}, found {item['id']}")
            except (ValueError, KeyError, TypeError) as exc:  # a write cut short (a crash, a full disk)
                log.warning("history: %s line %d unreadable, skipped (%s)", self.path, number, exc)
                continue
            self._remember(key, str(item.get("source", "")), info)

    def _remember(self, key: SeriesKey, source: str, info: SeriesInfo) -> int:
        number = self.ids[key] = len(self.keys)
        self.keys.append(key)
        self.sources.append(source)
        self.info.append(info)
        return number

    def number(self, key: SeriesKey, source: str, info: SeriesInfo) -> int:
        """The number of ``key``, appended to the file first when it is new."""
        found = self.ids.get(key)
        if found is not None:
            return found
        line = "\n" + json.dumps({"id": len(self.keys), "name": key.name, "labels": [list(p) for p in key.labels],
                           "source": source, "unit": info.unit, "kind": info.kind, "help": info.help})
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(line.encode())
        while view:  # a short write is followed by another, which raises the reason (ENOSPC)
            view = view[os.write(self._fd, view):]
        return self._remember(key, source, info)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
