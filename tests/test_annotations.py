"""Annotations: from code, over real HTTP (token, per-item errors, listing by range), from a spec's label
changes, kept across a restart in the history folder, and which plots show them."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from dashboard.annotations import FILE_NAME, Annotation, Annotations, check_annotation
from dashboard.errors import ParseError
from dashboard.metrics.model import Batch, SeriesKey
from dashboard.service import MetricsService
from dashboard.spec import parse_spec

from .test_ingest import TOKEN, auth, running

HOSTILE = "<img src=x onerror=alert(1)> </script> $$x$$"


def test_annotate_checks_what_it_is_given():
    svc = MetricsService([])
    note = svc.annotate("deploy v2", time="2025-11-29T10:00:00Z", end=1764411000.0, labels={"env": "prod"})
    assert note == Annotation("deploy v2", 1764410400.0, 1764411000.0, {"env": "prod"})
    before = time.time()
    assert svc.annotate("now").time >= before
    with pytest.raises(ValueError, match="text: expected a non-empty string"):
        svc.annotate("")
    with pytest.raises(ValueError, match="end: ends before it starts"):
        svc.annotate("x", time=100.0, end=50.0)
    with pytest.raises(ValueError, match="time: expected seconds since the epoch or ISO 8601"):
        svc.annotate("x", time="yesterday-ish")
    with pytest.raises(ValueError, match="labels"):
        svc.annotate("x", labels={"a": [1]})
    assert [n.text for n in svc.annotations.between()] == ["deploy v2", "now"]


def test_ranges_and_which_plots_show_one():
    notes = Annotations()
    for note in (Annotation("a", 10.0), Annotation("span", 20.0, 40.0), Annotation("c", 50.0)):
        notes.add(note)
    assert [n.text for n in notes.between(30.0, 45.0)] == ["span"], "a span overlapping the range is in it"
    assert [n.text for n in notes.between(10.0, 20.0)] == ["a", "span"], "both ends included"
    gpu0 = Annotation("hot", 1.0, labels={"gpu": "0"})
    assert gpu0.applies_to([SeriesKey.of("gpu_temp", {"gpu": "0"})])
    assert not gpu0.applies_to([SeriesKey.of("gpu_temp", {"gpu": "1"})])
    assert gpu0.applies_to([SeriesKey.of("cpu_percent")]), "a label the series lacks does not exclude it"
    assert not gpu0.applies_to([]), "a plot without series shows nothing"


def test_the_oldest_go_first_past_the_limit_and_are_counted():
    notes = Annotations(limit=3)
    for t in range(5):
        notes.add(Annotation(f"n{t}", float(t)))
    assert [n.text for n in notes.between()] == ["n2", "n3", "n4"]
    assert notes.dropped == 2


def test_kept_in_the_history_folder_across_a_restart(tmp_path, caplog):
    svc = MetricsService([], history=tmp_path)
    svc.annotate(HOSTILE, time=100.0, labels={"run": "1"})
    svc.close_history()
    with (tmp_path / FILE_NAME).open("a") as f:
        f.write('{"text": "half a line\n')  # a crash mid-write
    again = MetricsService([], history=tmp_path)
    assert [n.as_dict() for n in again.annotations.between()] == [
        {"text": HOSTILE, "time": 100.0, "end": None, "labels": {"run": "1"}, "author": None}]
    assert again.annotations.unreadable == 1
    assert f"{tmp_path / FILE_NAME} line 2 skipped" in caplog.text
    again.annotate("after", time=200.0)
    again.close_history()
    assert [n.text for n in MetricsService([], history=tmp_path).annotations.between()] == [HOSTILE, "after"]


def _info(version: str, t: float) -> Batch:
    key = SeriesKey.of("app_info", {"version": version})
    return Batch("app", (key,), np.array([t]), np.array([[1.0]]))


def test_a_spec_marks_every_change_of_a_label_once(tmp_path):
    spec = parse_spec("system: false\nannotations:\n  - metric: app_info\n    label: version\n"
                      "    text: 'deploy {value}'\n")
    svc = spec.service(history=tmp_path)
    for version, t in (("v1", 1.0), ("v1", 2.0), ("v2", 3.0), ("v2", 4.0), ("v1", 5.0)):
        svc._write(_info(version, t))
    marks = [(n.text, n.time) for n in svc.annotations.between()]
    assert marks == [("deploy v1", 1.0), ("deploy v2", 3.0), ("deploy v1", 5.0)]
    svc.close_history()
    again = spec.service(history=tmp_path)
    again._write(_info("v1", 6.0))  # the version it had: no new mark after the restart
    again._write(_info("v3", 7.0))
    assert [n.text for n in again.annotations.between()] == ["deploy v1", "deploy v2", "deploy v1", "deploy v3"]
    again.close_history()


async def test_post_and_list_over_http():
    async with running(TOKEN) as it:
        base = it.url.replace("/ingest", "/annotations")
        body = [{"text": HOSTILE, "time": 1764410400.5, "labels": {"env": "<b>prod</b>"}},
                {"text": "", "time": 1.0},
                {"text": "span", "time": "2025-11-29T10:05:00Z", "end": "2025-11-29T10:10:00Z"},
                {"text": "x", "time": 1.0, "colour": "red"},
                "not an object"]
        refused = await it.client.post(base, json=body)
        assert refused.status_code == 401, "the token rules of /ingest"
        answer = await it.client.post(base, json=body, headers=auth())
        assert answer.status_code == 200
        assert answer.json() == {"accepted": 2, "error_count": 3, "errors": [
            {"item": 2, "field": "text", "reason": "expected a non-empty string"},
            {"item": 4, "field": "item", "reason": "unknown field 'colour'"},
            {"item": 5, "field": "item", "reason": "expected an object, got str"}]}
        listed = (await it.client.get(base)).json()["annotations"]
        assert [n["text"] for n in listed] == [HOSTILE, "span"]
        assert listed[0]["labels"] == {"env": "<b>prod</b>"}, "kept as given: escaping is the renderer's job"
        ranged = await it.client.get(base, params={"from": "2025-11-29T10:06:00Z", "to": "1764411000"})
        assert [n["text"] for n in ranged.json()["annotations"]] == ["span"]
        bad = await it.client.get(base, params={"from": "soon"})
        assert bad.status_code == 400 and "from:" in bad.json()["error"]
        headers = {**auth(), "Content-Type": "application/json"}
        nothing = await it.client.post(base, content=b"{not json", headers=headers)
        assert nothing.status_code == 400 and "not JSON" in nothing.json()["error"]
        assert len(it.service.annotations) == 2


async def test_without_a_token_loopback_may_annotate():
    async with running(None) as it:
        base = it.url.replace("/ingest", "/annotations")
        answer = await it.client.post(base, content=json.dumps({"text": "run 7 starts"}))
        assert answer.status_code == 200 and answer.json()["accepted"] == 1
        async with httpx.AsyncClient() as client:
            assert (await client.get(base)).json()["annotations"][0]["text"] == "run 7 starts"


def test_a_poster_cannot_name_an_author_but_the_kept_file_does():
    with pytest.raises(ParseError, match="author"):
        check_annotation({"text": "deploy", "author": "mallory"})
    kept = check_annotation({"text": "deploy", "time": 5, "author": "ada"}, kept=True)
    assert kept.author == "ada" and kept.as_dict()["author"] == "ada"
