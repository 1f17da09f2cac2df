"""Bokeh's property defaults read once per class (:mod:`dashboard.ui.propcache`) change nothing a page is
made of: a whole page, and every model class Bokeh and Panel register, compared with Bokeh's own internals."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bokeh
import bokeh.util.warnings
import numpy as np
import pytest
from bokeh.core.property.descriptors import UnsetValueError
from bokeh.document import Document
from bokeh.model import Model

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import propcache
from dashboard.ui.feed import Feed
from dashboard.ui.layout import MetricsDashboard
from dashboard.ui.page import page

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bokehs_own() -> Iterator[None]:
    """Bokeh's own internals for the test; whatever was in place before, after it."""
    was = propcache.applied()
    propcache.restore()
    yield
    propcache.restore()
    if was:
        propcache.apply()


def service() -> MetricsService:
    svc = MetricsService([], window=600)
    for name in ("cpu_percent", "memory_percent", "load"):
        key = SeriesKey.of(name)
        svc._write(Batch("system", (key,), np.array([1.0, 2.0]), np.array([[1.0, 2.0]]), {key: SeriesInfo("%")}))
    return svc


def built_page() -> Document:
    """The page ``dashboard serve`` sends (its template and the dashboard, every plot built)."""
    doc = Document()
    page(MetricsDashboard(service=service())).server_doc(doc)
    return doc


def as_text(doc: Document) -> str:
    return json.dumps(doc.to_json(deferred=False), sort_keys=True, default=lambda buffer: bytes(buffer).hex())


def numbered_alike(text: str) -> str:
    """``text`` with what differs between two builds of one page numbered in order of appearance: model ids
    and the counters and object ids in Panel's names."""
    ids: dict[str, int] = {}
    text = re.sub(r"\b(p\d+)\b", lambda m: f"p{ids.setdefault(m.group(1), len(ids))}", text)
    text = re.sub(r"-\d{12,}\b", "-#", text)
    return re.sub(r"([A-Za-z])\d{5}\b", r"\1#", text)


def close(doc: Document) -> None:
    Feed.for_document(doc).close()


def test_a_page_serializes_to_the_same_json_either_way(bokehs_own):
    doc = built_page()
    bokeh_json = as_text(doc)
    assert propcache.apply() and propcache.applied()
    assert as_text(doc) == bokeh_json, "the same document, serialized with the cached defaults"
    assert as_text(doc) == bokeh_json, "and again, from what the first serialization cached"
    rebuilt = built_page()  # built with the cached defaults
    assert numbered_alike(as_text(rebuilt)) == numbered_alike(bokeh_json)
    assert len(rebuilt.models) == len(doc.models) > 200
    close(doc)
    close(rebuilt)


def model_classes() -> list[type[Model]]:
    return sorted({cls for cls in Model.model_class_reverse_map.values() if not getattr(cls, "__abstract__", False)},
                  key=lambda cls: cls.__qualified_model__)


def class_defaults(cls: type[Model]) -> dict[str, Any]:
    """Each property's default for ``cls``: the value when it cannot change in place, else its type."""
    out = {}
    for name in sorted(cls.properties()):
        value = cls.lookup(name).class_default(cls)
        out[name] = value if isinstance(value, propcache.IMMUTABLE) else type(value)
    return out


def serialized_or_error(model: Model) -> dict[str, Any] | str:
    """What serializing ``model`` reads of its properties, or the error it raises (a required one unset)."""
    try:
        return model.properties_with_values(include_defaults=False)
    except UnsetValueError as error:
        return str(error)


def test_every_model_class_has_the_same_defaults_and_serializes_the_same(bokehs_own):
    warnings.simplefilter("ignore", bokeh.util.warnings.BokehDeprecationWarning)  # (deprecated classes too)
    classes = model_classes()
    own = {cls: class_defaults(cls) for cls in classes}
    models = {}
    for cls in classes:
        try:
            models[cls] = cls()
        except (TypeError, ValueError, RuntimeError):  # (a few need arguments)
            continue
    serialized = {cls: serialized_or_error(m) for cls, m in models.items()}
    propcache.apply()
    for cls in classes:
        assert class_defaults(cls) == own[cls], cls.__qualified_model__
        assert class_defaults(cls) == own[cls], f"{cls.__qualified_model__}, read again from the cache"
    for cls, model in models.items():
        assert serialized_or_error(model) == serialized[cls], cls.__qualified_model__
    assert len(classes) > 300 and len(models) > 0.9 * len(classes), (len(classes), len(models))
    assert any(isinstance(s, str) for s in serialized.values()), "some have a required property left unset"


def test_bokeh_versions_not_checked_are_left_alone(bokehs_own, monkeypatch, caplog):
    assert propcache.checked_version(), f"the installed Bokeh {bokeh.__version__} is one the cache was checked on"
    assert propcache.checked_version("3.9.2") and propcache.checked_version("3.8.2")
    assert not propcache.checked_version("3.10.0") and not propcache.checked_version("4.0.0.dev1")
    assert not propcache.checked_version("main")
    monkeypatch.setattr(bokeh, "__version__", "3.10.0")
    with caplog.at_level(logging.WARNING, logger="dashboard.ui.propcache"):
        assert propcache.apply() is False
    assert not propcache.applied()
    assert "Bokeh 3.10.0" in caplog.text


def test_restore_puts_bokehs_own_back(bokehs_own):
    from bokeh.core.has_props import HasProps

    own = HasProps.__dict__["query_properties_with_values"]
    propcache.apply()
    assert HasProps.__dict__["query_properties_with_values"] is not own
    assert propcache.apply(), "a second apply is a no-op"
    propcache.restore()
    assert HasProps.__dict__["query_properties_with_values"] is own and not propcache.applied()


def test_a_served_dashboard_uses_it():
    code = ("from dashboard.server import make_server; from dashboard.service import MetricsService; "
            "from dashboard.ui import propcache; before = propcache.applied(); "
            "make_server(port=0, service=MetricsService([])); print('APPLIED', before, propcache.applied())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=120)
    assert "APPLIED False True" in out.stdout, out.stdout + out.stderr
