"""The view in a URL: every parameter parsed, written back, and each bad value named with what was expected."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dashboard.viewurl import format_view, parse_duration, parse_view

NOW = 1_795_960_000.0


@pytest.mark.parametrize(("text", "seconds"), [("300", 300.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0),
                                               ("7d", 604800.0), ("1h30m", 5400.0), ("2.5m", 150.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_every_parameter_is_read_as_bytes_as_tornado_gives_them():
    values, errors = parse_view({"window": [b"1h"], "from": [b"2026-11-29T10:00:00Z"], "to": [b"1795960000"],
                                 "tz": [b"Europe/Paris"], "theme": [b"dark"], "live": [b"true"]}, now=NOW)
    assert errors == []
    assert values == {"window": 3600.0, "start": 1795946400.0, "end": 1795960000.0, "timezone": "Europe/Paris",
                      "theme": "dark", "live": False}, "from and to mean not live"


def test_from_alone_holds_until_now_and_to_alone_one_window_before_it():
    assert parse_view({"from": "1795959000"}, now=NOW)[0] == {"start": 1795959000.0, "end": NOW, "live": False}
    assert parse_view({"to": "1795960000", "window": "5m"}, now=NOW)[0]["start"] == NOW - 300


@pytest.mark.parametrize(("query", "message"), [
    ({"window": "abc"}, "URL parameter 'window': expected seconds or a duration such as 5m, 1h or 7d, got 'abc'"),
    ({"window": "8d"}, "URL parameter 'window': expected a window from 1 s to 7 d, got '8d'"),
    ({"from": "yesterday"}, "URL parameter 'from': expected epoch seconds or ISO 8601"),
    ({"to": "<script>"}, "URL parameter 'to': expected epoch seconds or ISO 8601"),
    ({"live": "maybe"}, "URL parameter 'live': expected true or false, got 'maybe'"),
    ({"tz": "Mars/Olympus"}, "URL parameter 'tz': expected an IANA time zone such as Europe/Paris or UTC"),
    ({"theme": "neon"}, "URL parameter 'theme': expected light, dark or auto, got 'neon'"),
    ({"from": "1795960000", "to": "1795950000"}, "URL parameters 'from' and 'to': expected from before to"),
])
def test_each_bad_value_is_named_and_left_out(query, message):
    values, errors = parse_view(query, now=NOW)
    assert len(errors) == 1 and errors[0].startswith(message)
    assert "start" not in values and "end" not in values and set(values) <= {"window", "live"}


def test_the_view_is_written_back_leaving_defaults_out_and_parses_to_itself():
    view = SimpleNamespace(window=5400.0, live=False, start=1795946400.0, end=1795946700.5, timezone="Asia/Tokyo",
                           theme="dark")
    query = format_view(view, default_window=600.0)
    assert query == {"window": "90m", "from": "2026-11-29T10:00:00Z", "to": "2026-11-29T10:05:00.500Z",
                     "live": "false", "tz": "Asia/Tokyo", "theme": "dark"}
    values, errors = parse_view(query, now=NOW)
    assert errors == [] and values == {"window": 5400.0, "start": view.start, "end": view.end, "live": False,
                                       "timezone": "Asia/Tokyo", "theme": "dark"}
    live = SimpleNamespace(window=None, live=True, start=None, end=None, timezone=None, theme="auto")
    assert format_view(live, default_window=600.0) == {}
