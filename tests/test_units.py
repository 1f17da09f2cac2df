"""Units as a person reads them: IEC bytes, percentages, durations, SI prefixes; one set of rules."""

from __future__ import annotations

import pytest

from dashboard.units import format_duration, format_value

CASES = [
    (77.0, "", "77"),
    (0.0, "", "0"),
    (0.5312, "", "0.53"),
    (950.0, "", "950"),
    (12_345.0, "req/s", "12.3 kreq/s"),
    (4_100_000_000.0, "", "4.1 G"),
    (-2_500.0, "W", "-2.5 kW"),
    (12.54, "%", "12.5 %"),
    (100.0, "%", "100 %"),
    (512.0, "B", "512 B"),
    (1536.0, "B/s", "1.5 KiB/s"),
    (3.2 * 1024**3, "B", "3.2 GiB"),
    (0.85, "s", "850 ms"),
    (12.34, "s", "12.3 s"),
    (243.0, "s", "4 min 3 s"),
    (7500.0, "s", "2 h 5 min"),
    (3 * 86400 + 4 * 3600, "s", "3 d 4 h"),
    (234.5, "", "235"),  # half up, as the browser's Math.round
    (float("nan"), "%", "no data"),
    (None, "B", "no data"),
    (36.6, "°C", "36.6 °C"),
]


@pytest.mark.parametrize(("value", "unit", "text"), CASES)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_durations_round_to_the_second_and_keep_the_sign():
    assert format_duration(-0.25) == "-250 ms"
    assert format_duration(3600) == "1 h"
    assert format_duration(59.99) == "60 s"
