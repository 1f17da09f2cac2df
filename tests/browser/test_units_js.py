"""The units' JavaScript (axis ticks, hovers) reads every value as the Python (cards, tables) does."""

from __future__ import annotations

import json

import pytest

from dashboard.units import FORMAT_JS, format_value

from ..test_units import CASES

pytestmark = pytest.mark.browser


def test_javascript_and_python_agree(page):
    cases = [(v, u) for v, u, _ in CASES if v is None or v == v]  # JSON has no NaN; null stands for it
    extra = [(v * s, u) for v in (0.001234, 1.5, 15.55, 99.96, 234.5, 1023.9, 1024.0, 65_432.1, 7.2e9)
             for s in (1, -1) for u in ("", "B", "B/s", "%", "s", "W")]
    cases += extra
    got = page.evaluate(f"() => {{ {FORMAT_JS}\n return {json.dumps(cases)}.map(([v, u]) => format(v, u)) }}")
    assert got == [format_value(v, u) for v, u in cases]
