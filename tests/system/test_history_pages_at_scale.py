"""The console's history pages over 30 hours of history for 3 instances x 3 workers
(tens of thousands of rows, filled for each page): the number of queries a page
issues does not grow with the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from history_console import make_history_console
from statements import counting_statements

from app.db.transactions import run_in_transaction
from app.extensions import db
from bench.history_data import FIRST_SHAPE, Shape, fill_history

MINUTES = 10


@pytest.fixture
def history_console(make_app, make_database, monkeypatch):
    return make_history_console(make_app, make_database, monkeypatch, minutes=MINUTES)


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
