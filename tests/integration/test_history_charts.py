"""The history's charts on the console's pages: a point per minute, deploy and
migration markers on every chart, and a page for odd query strings. (The axes
themselves: unit/test_charts.py; the pages' queries over 30 hours of history:
system/test_history_pages_at_scale.py.)"""

from __future__ import annotations

import re

import pytest
from history_console import make_history_console

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
