"""The history's charts on the console's pages: a point per minute, deploy and
migration markers on every chart, the open minute left out, an x axis fitted to
short data, legends that name the statements, readable histograms, and a page for odd
query strings. (The axes themselves: unit/test_charts.py; the pages' queries over 30
hours of history: system/test_history_pages_at_scale.py.)"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from history_console import make_history_console
from sqlalchemy import text

from app.extensions import db
from bench.history_data import FIRST_SHAPE

MINUTES = 10


@pytest.fixture
def history_console(make_app, make_database, monkeypatch):
    """Ten minutes of history behind a logged-in console."""
    return make_history_console(make_app, make_database, monkeypatch, minutes=MINUTES)


def series(page: str, name: str) -> list[int]:
    """The points drawn by each series called ``name`` on the page."""
    return [
        int(n) for n in re.findall(rf'data-series="{re.escape(name)}" data-points="(\d+)"', page)
    ]


def marker_kinds(figure: str) -> set[str]:
    return set(re.findall(r'<g class="marker" data-kind="(\w+)"', figure))


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/admin/db/queries/?window=1h", "p95 latency"),
        ("/admin/db/pool/?window=1h", "checked out (most)"),
        (f"/admin/db/queries/{FIRST_SHAPE}?window=1h", "p95 (app)"),
    ],
)
def test_charts_have_a_point_per_minute_and_the_deploy_and_migration_markers(
    history_console, path, line
):
    _app, client = history_console
    page = client.get(path)
    assert page.status_code == 200
    assert series(page.text, line) and set(series(page.text, line)) == {MINUTES}
    figures = re.findall(r"<svg.*?</svg>", page.text, re.S)
    timed = [f for f in figures if "one point per minute" in f]
    assert timed
    for figure in timed:  # every time chart marks the deploy and the migrations
        assert marker_kinds(figure) == {"deploy", "migration"}
        assert 'data-label="charts-test-1"' in figure


@pytest.mark.parametrize(
    "query", ["endpoint=%00", "endpoint=" + "x" * 5000, "sort=%00&window=%00", "window=9" * 30]
)
def test_odd_query_strings_get_a_page_not_an_error(history_console, query):
    _app, client = history_console
    page = client.get(f"/admin/db/queries/?{query}")
    assert page.status_code == 200
    assert 'id="window-range"' in page.text


SVG = "{http://www.w3.org/2000/svg}"


def figures(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]


def titled(page: str, title: str) -> ET.Element:
    return next(f for f in figures(page) if f.find(f"{SVG}title").text == title)


def test_the_open_minute_is_left_out_and_the_axis_spans_the_ten_minutes_of_data(
    history_console,
):
    _app, client = history_console
    page = client.get("/admin/db/queries/?window=1h").text
    chart = titled(page, "Requests per second")
    group = next(g for g in chart.iter(f"{SVG}g") if g.get("data-series") == "requests")
    # Ten recorded minutes, not an hour of zeros and not the minute still open.
    assert group.get("data-points") == str(MINUTES)
    points = [
        tuple(map(float, p.split(",")))
        for line in group.iter(f"{SVG}polyline")
        for p in line.get("points").split()
    ]
    zero = max(float(t.get("y")) - 4 for t in chart.iter(f"{SVG}text") if t.text == "0/s")
    assert points[-1][1] < zero  # the line does not drop to 0 at its right end
    xs = [x for x, _y in points]
    assert max(xs) - min(xs) > 600  # of 900: the ten minutes fill the width
    fitted = [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "fitted"]
    assert len(fitted) == 1
    assert re.fullmatch(r"showing the last 11 min \(data starts at \d\d:\d\d\)", fitted[0])
    # Every chart of the page shares that axis.
    timed = [f for f in figures(page) if f.get("data-x-start")]
    assert len({f.get("data-x-start") for f in timed}) == 1


def test_top_statement_legends_name_the_statement_with_its_whole_text_on_hover(
    history_console,
):
    _app, client = history_console
    page = client.get("/admin/db/queries/?window=1h").text
    for title in (
        "p95 of the top statements (by total time)",
        "mean of the top statements (by total time)",
    ):
        legends = [g for g in titled(page, title).iter(f"{SVG}g") if g.get("class") == "legend"]
        assert len(legends) == 3
        for n, legend in enumerate(legends, 1):
            shown = legend.find(f"{SVG}text").text
            assert shown.startswith(f"#{n} SELECT id, stock FROM products")
            assert not re.fullmatch(r"#\d [0-9a-f]{6}", shown)
            whole = legend.find(f"{SVG}title").text
            assert re.fullmatch(r"SELECT id, stock FROM products WHERE id = %\(id_\d\)s", whole)


def test_pool_histograms_read_at_11px_with_named_axes_and_counts_on_whole_ticks(
    history_console,
):
    app, client = history_console
    with app.app_context():  # checkouts held from 0.3 ms to 0.8 s, over 17 buckets
        db.session.execute(
            text("UPDATE db_history_pool SET hold_counts = :counts"),
            {"counts": [0] * 8 + [5 + k for k in range(17)] + [0] * 15},
        )
        db.session.commit()
        db.session.remove()
    page = client.get("/admin/db/pool/?window=1h").text
    hold = titled(page, "How long checkouts held their connection")
    # Drawn at about the width of its half-page column, so 11 units read as 11 px.
    assert float(hold.get("viewBox").split()[2]) <= 560
    ticks = [t for t in hold.iter(f"{SVG}text") if "tick" in (t.get("class") or "")]
    assert ticks and all(float(t.get("font-size")) >= 11 for t in ticks)
    titles = [t.text for t in hold.iter(f"{SVG}text") if "axis-title" in (t.get("class") or "")]
    assert len(titles) == 2 and "checkouts" in titles
    assert any(re.fullmatch(r"connection held \((µs|ms|s)\)", t) for t in titles)
    waits = titled(page, "Checkouts that waited, per minute")
    y_labels = [t.text for t in waits.iter(f"{SVG}text") if t.get("class") == "tick y"]
    assert y_labels and all(re.fullmatch(r"\d+k?", label) for label in y_labels)
