"""The server-side SVG charts (app/charts.py): nice axes whose labels fit."""

from __future__ import annotations

import re

import pytest

from app import charts


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (322_201.43, [0, 100_000, 200_000, 300_000, 400_000]),
        (19_096_268.57, [0, 5_000_000, 10_000_000, 15_000_000, 20_000_000]),
        (7, [0, 2, 4, 6, 8]),
        (0.0042, [0, 0.002, 0.004, 0.006]),
    ],
)
def test_axis_ticks_are_round_numbers_past_the_largest_value(maximum, expected):
    assert charts.nice_ticks(maximum) == pytest.approx(expected)


def test_the_widest_axis_label_is_not_clipped():
    # The daily-revenue report's axis once read "096,268.57" for 19,096,268.57.
    svg = str(charts.bar_chart(["a", "b"], [1_909_626_857, 5], title="t", unit=charts.money_unit()))
    labels = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="end"[^>]*>([^<]+)</text>', svg)
    assert [text for _x, text in labels] == ["$0", "$5M", "$10M", "$15M", "$20M"]
    for x, text in labels:
        assert float(x) - charts.CHAR_WIDTH * len(text) >= 0  # inside the picture
