"""Prometheus exposition parsing: kinds, filters, per-line errors, and fuzzing (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.errors import DataError, ParseError
from dashboard.metrics.model import SeriesKey
from dashboard.sources.exposition import Selector, parse_lines, parse_payload

SCRAPE = """# HELP jobs_total Jobs done
# TYPE jobs_total counter
jobs_total{queue="a"} 10
# TYPE temp gauge
temp{room="x"} 21.5
# TYPE lat histogram
lat_bucket{le="0.1"} 1
lat_bucket{le="+Inf"} 2
lat_sum 0.3
lat_count 2
lat_created 1.7e9
# TYPE size summary
size{quantile="0.5"} 100
size_sum 300
size_count 3
untyped 4
"""


def test_kinds_of_a_scrape():
    samples = {s.key: s for s in parse_payload(SCRAPE)}
    assert samples[SeriesKey.of("jobs_total", queue="a")].kind == "counter"
    assert samples[SeriesKey.of("temp", room="x")].kind == "gauge"
    assert samples[SeriesKey.of("lat_count")].kind == samples[SeriesKey.of("lat_sum")].kind == "counter"
    assert samples[SeriesKey.of("size", quantile="0.5")].kind == "gauge"
    assert samples[SeriesKey.of("untyped")].value == 4.0
    assert not [k for k in samples if k.name.endswith(("_bucket", "_created"))]
    assert samples[SeriesKey.of("jobs_total", queue="a")].help == "Jobs done"


def test_openmetrics_and_selectors():
    text = "# TYPE c counter\nc_total{x=\"1\"} 5\nc_total{x=\"2\"} 6\n# TYPE g gauge\ng 1\n# EOF\n"
    samples = parse_payload(text, openmetrics=True, selector=Selector(include=("c*",), labels={"x": "2"}))
    assert [(s.key, s.value, s.kind) for s in samples] == [(SeriesKey.of("c_total", x="2"), 6.0, "counter")]


def test_a_malformed_scrape_is_one_data_error_naming_the_source():
    with pytest.raises(DataError, match=r"^exporter: malformed exposition"):
        parse_payload('ok 1\nbad{x="1} 2\n', source="exporter")


def test_pushed_text_keeps_good_lines_and_names_bad_ones():
    text = "# TYPE reqs counter\nreqs_total 5\nnot a line\n\nmem 3e9\nx{a=b} 1\n"
    samples, errors = parse_lines(text)
    assert [(s.key.name, s.kind) for s in samples] == [("reqs_total", "counter"), ("mem", "gauge")]
    assert [(e.line, e.unit) for e in errors] == [(3, "line"), (6, "line")]
    assert "not a sample line" in errors[0].reason and errors[0].as_dict()["line"] == 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_samples_or_our_errors(text):
    try:
        assert all(s.key.name for s in parse_payload(text))
    except DataError as exc:
        assert str(exc).startswith("malformed exposition")
    _samples, errors = parse_lines(text)
    assert all(isinstance(e, ParseError) and e.line >= 1 and e.reason for e in errors)
    assert len(errors) <= len(text.splitlines())


line = st.builds(
    lambda name, labels, value: f"{name}{labels} {value}",
    st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True),
    st.sampled_from(["", '{a="1"}', '{a="x\\"y"}', "{a=1}", '{a="1",}', "{"]),
    st.one_of(st.floats(allow_nan=True).map(repr), st.sampled_from(["NaN", "+Inf", "abc", ""])))


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=20))
def test_exposition_shaped_lines_are_each_kept_or_reported(lines):
    samples, errors = parse_lines("\n".join(lines))
    assert len(samples) + len(errors) == len([ln for ln in lines if ln.strip()])
