"""The history's charts: nice axes whose labels fit, a point per minute, deploy and
migration markers on every chart, and pages whose query count does not grow with
the history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from browser_forms import add_admin, log_in
from statements import counting_statements

from app import charts
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.history.recorder import record_deploy
from bench.history_data import FIRST_SHAPE, Shape, fill_history

MINUTES = 10


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


@pytest.fixture
def history_console(make_app, make_database, monkeypatch):
    """A migrated scratch database (the migrations are recorded), a deploy, ten
    minutes of history for 2 instances x 2 workers, and a logged-in client."""
    monkeypatch.setenv("STOCKROOM_VERSION", "charts-test-1")
    # No slow-statement capture: the bulk fill is slow, and its report would be one
    # more write on the next page.
    app = make_app(make_database(), SLOW_QUERY_MS=600_000)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app.app_context():
        flask_migrate.upgrade()
        add_admin(db.session)
        shape = Shape(instances=2, workers=2, endpoints=2, shapes=3)
        run_in_transaction(
            db.session,
            lambda session: fill_history(
                session, app, now - timedelta(minutes=MINUTES), now, shape
            ),
        )
        run_in_transaction(db.session, record_deploy)
        db.session.remove()
    client = app.test_client()
    assert log_in(client).status_code == 302
    return app, client


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
    "path",
    [
        "/admin/",
        "/admin/db/pool/?window=1h",
        "/admin/db/queries/?window=1h",
        "/admin/db/queries/?window=7d",
        f"/admin/db/queries/{FIRST_SHAPE}?window=24h",
    ],
)
def test_history_pages_issue_a_fixed_number_of_queries(history_console, path):
    app, client = history_console
    with app.app_context():
        engine = db.engine

    def count() -> list[str]:
        with counting_statements(engine) as seen:
            assert client.get(path).status_code == 200
        return [statement.split("\n")[0][:80] for statement in seen]

    # Each measured request right after a warm one: the overview's model drift is
    # cached per revision for 5 minutes, and may expire anywhere in a long suite.
    count()
    few = count()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app.app_context():
        more = Shape(instances=3, workers=3, endpoints=4, shapes=6)
        run_in_transaction(
            db.session,
            lambda session: fill_history(
                session, app, now - timedelta(hours=30), now - timedelta(minutes=MINUTES), more
            ),
        )
        db.session.remove()
    count()
    again = count()
    assert len(again) == len(few), sorted(set(again) - set(few))


@pytest.mark.parametrize(
    "query", ["endpoint=%00", "endpoint=" + "x" * 5000, "sort=%00&window=%00", "window=9" * 30]
)
def test_odd_query_strings_get_a_page_not_an_error(history_console, query):
    _app, client = history_console
    page = client.get(f"/admin/db/queries/?{query}")
    assert page.status_code == 200
    assert 'id="window-range"' in page.text
