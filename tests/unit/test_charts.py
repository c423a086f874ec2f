"""The server-side SVG charts (app/charts.py): nice axes whose labels fit, nothing
printed on top of anything else, whole-number ticks for counts, no false drop at the
open minute, and an x axis that follows short data. The SVG is parsed as XML and its
text boxes measured at the chart's own (generous) character width."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

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


# -- reading the SVG as a user's eye would --------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def view_width(root: ET.Element) -> float:
    return float(root.get("viewBox").split()[2])


def box(text: ET.Element) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) of a text element, at the chart's own estimate of
    a character's width (generous) and its font size (descenders included)."""
    width = charts.CHAR_WIDTH * float(text.get("font-size")) / 11 * len(text.text or "")
    x, y, size = float(text.get("x")), float(text.get("y")), float(text.get("font-size"))
    anchor = text.get("text-anchor", "start")
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return left, left + width, y - size, y + size / 4  # descenders


def overlapping(boxes) -> list:
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
    ]


def hour(series=None, **options):
    """A 1 h window at one point per minute ending at T0 + 1 h."""
    times = [T0 + MINUTE * i for i in range(60)]
    return charts.time_chart(
        times,
        series if series is not None else {"requests": [5.0] * 60},
        start=T0,
        end=T0 + timedelta(hours=1),
        title="t",
        resolution="minute",
        **options,
    )


def polyline_points(root: ET.Element, name: str) -> list[tuple[float, float]]:
    group = next(g for g in root.iter(f"{SVG}g") if g.get("data-series") == name)
    return [
        (float(x), float(y))
        for line in group.iter(f"{SVG}polyline")
        for x, y in (p.split(",") for p in line.get("points").split())
    ]


def test_marker_labels_never_print_on_top_of_each_other():
    # A deploy and a migration a minute apart, then three migration steps at once.
    markers = [
        charts.Marker(T0 + MINUTE * 30, "deploy", "v2"),
        charts.Marker(T0 + MINUTE * 31, "migration", "add_index"),
        *(charts.Marker(T0 + MINUTE * 45, "migration", f"step {n}") for n in range(3)),
        charts.Marker(T0 + MINUTE * 59, "deploy", "v3"),  # at the right edge
    ]
    root = parse(hour(markers=markers))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"]
    assert len(groups) == len(markers)  # every marker keeps its line and tooltip
    assert all(g.find(f"{SVG}title") is not None for g in groups)
    labels = [t for g in groups for t in g.iter(f"{SVG}text")]
    # The three steps at one moment share a label.
    assert sorted(t.text for t in labels) == ["3 migrations", "deploy", "deploy", "migration"]
    boxes = [box(t) for t in labels]
    assert overlapping(boxes) == []
    assert all(b[0] >= 0 and b[1] <= view_width(root) for b in boxes)


def test_histogram_labels_are_readable_and_its_axes_are_named():
    bounds = [0.0001 * 2 ** (i / 2) for i in range(20)]
    svg = charts.histogram_chart(
        bounds,
        [i * 3 for i in range(20)],
        title="How long checkouts held their connection",
        x_title="connection held",
        y_title="checkouts",
    )
    root = parse(svg)
    # Drawn at the width it is shown (half a 1440 px console), so 11 stays about 11.
    assert view_width(root) <= 560
    texts = list(root.iter(f"{SVG}text"))
    ticks = [t for t in texts if "tick" in (t.get("class") or "")]
    assert len([t for t in ticks if "x" in t.get("class").split()]) >= 4
    assert all(float(t.get("font-size")) >= 11 for t in ticks)
    titles = {t.text for t in texts if "axis-title" in (t.get("class") or "")}
    assert titles == {"connection held (ms)", "checkouts"}
    x_ticks = [box(t) for t in ticks if "x" in t.get("class").split()]
    assert overlapping(x_ticks) == []
    assert all(b[0] >= 0 and b[1] <= view_width(root) for b in x_ticks)


@pytest.mark.parametrize(
    ("maximum", "expected"), [(1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (0, [0, 1])]
)
def test_counts_get_whole_number_ticks(maximum, expected):
    assert charts.nice_ticks(maximum, integer=True) == expected


def test_a_count_chart_has_no_quarter_ticks():
    waits = [0.0] * 59 + [1.0]
    root = parse(hour({"waited": waits}))
    # The y axis's labels: right-aligned, left of the plot.
    labels = [
        t.text
        for t in root.iter(f"{SVG}text")
        if t.get("text-anchor") == "end" and float(t.get("x")) < 100
    ]
    assert labels == ["0", "1"]


def test_the_open_minute_is_not_drawn_as_a_drop_to_zero():
    # 5 requests/s every minute; the last, still open, minute has nothing in yet.
    times_open = T0 + MINUTE * 59
    root = parse(hour({"requests": [5.0] * 59 + [0.0]}, open_from=times_open))
    points = polyline_points(root, "requests")
    assert len(points) == 59
    assert {y for _x, y in points} == {points[0][1]}  # a flat line, no drop at the end


def test_minutes_of_data_fill_the_width_of_an_hour_window():
    series = {"requests": [0.0] * 52 + [5.0] * 7 + [0.0]}
    root = parse(hour(series, open_from=T0 + MINUTE * 59))
    xs = [x for x, _y in polyline_points(root, "requests")]
    plot_width = view_width(root) - charts.RIGHT
    assert max(xs) - min(xs) > 0.5 * plot_width
    footer = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "fitted"]
    assert footer == ["showing the last 10 min (data starts at 10:52)"]
    assert root.get("data-x-start") == (T0 + MINUTE * 50).isoformat()
    # Nothing printed on the picture touches anything else.
    assert overlapping([box(t) for t in root.iter(f"{SVG}text")]) == []


def test_a_window_mostly_full_keeps_its_whole_span():
    series = {"requests": [0.0] * 20 + [5.0] * 40}
    root = parse(hour(series))
    assert root.get("data-x-start") == T0.isoformat()
    assert not [t for t in root.iter(f"{SVG}text") if t.get("class") == "fitted"]


@pytest.mark.parametrize(
    ("length", "step"),
    [
        (timedelta(minutes=12), MINUTE),
        (timedelta(hours=1), MINUTE),
        (timedelta(hours=6), MINUTE * 2),
        (timedelta(hours=24), MINUTE * 5),
        (timedelta(days=7), timedelta(hours=1)),
    ],
)
def test_time_tick_labels_never_overlap(length, step):
    start = datetime(2026, 12, 3, 22, 7, tzinfo=UTC)  # across a midnight
    times = charts.window_times(start, start + length - step, step)
    svg = charts.time_chart(
        times,
        {"calls": [1.0] * len(times)},
        start=start,
        end=start + length,
        title="t",
    )
    root = parse(svg)
    # The time axis's labels are the centred texts (or marked as ticks).
    texts = list(root.iter(f"{SVG}text"))
    ticks = [
        box(t) for t in texts if t.get("text-anchor") == "middle" or t.get("class") == "tick x"
    ]
    assert len(ticks) >= 3
    # Nor do they touch the y axis's labels (its 0 sits just above the first one).
    y_labels = [box(t) for t in texts if t.get("text-anchor") == "end" and float(t.get("x")) < 100]
    assert overlapping(ticks + y_labels) == []
    assert all(b[0] >= 0 and b[1] <= view_width(root) for b in ticks)
    assert all(float(t.get("font-size")) >= 11 for t in root.iter(f"{SVG}text"))


def test_long_legends_wrap_inside_the_picture_and_keep_the_whole_name_in_a_tooltip():
    names = {
        f"#{n} SELECT … FROM products JOIN order_lines ON order_lines.product_id = "
        f"products.id WHERE products.sku = %(sku_{n})s": [0.001 * n] * 60
        for n in range(1, 6)
    }
    root = parse(hour(names, unit=charts.SECONDS, titles={name: name for name in names}))
    entries = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert [g.get("data-legend") for g in entries] == list(names)
    assert [g.find(f"{SVG}title").text for g in entries] == list(names)
    boxes = [box(g.find(f"{SVG}text")) for g in entries]
    assert overlapping(boxes) == []
    assert all(b[1] <= view_width(root) for b in boxes)
    # The plot starts below the legend's last row.
    lowest_legend = max(b[3] for b in boxes)
    grid = [float(line.get("y1")) for line in root.iter(f"{SVG}line") if line.get("y1")]
    assert min(grid) > lowest_legend


def test_a_deploy_right_after_a_migration_run_is_labelled_too():
    # flask db upgrade records every step, then the new version reports its deploy.
    at = T0 + MINUTE * 50
    markers = [charts.Marker(at, "migration", f"step {n}") for n in range(19)]
    markers.append(charts.Marker(at + timedelta(seconds=20), "deploy", "v2"))
    root = parse(hour(markers=markers))
    texts = [
        t for g in root.iter(f"{SVG}g") if g.get("class") == "marker" for t in g.iter(f"{SVG}text")
    ]
    assert sorted(t.text for t in texts) == ["19 migrations", "deploy"]
    assert overlapping([box(t) for t in texts]) == []
