"""A console with some history behind it, for the tests of the history's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flask_migrate
from browser_forms import add_admin, log_in

from app.db.transactions import run_in_transaction
from app.extensions import db
from app.history.recorder import record_deploy
from bench.history_data import Shape, fill_history


def make_history_console(make_app, make_database, monkeypatch, *, minutes: int):
    """A migrated scratch database (the migrations are recorded), a deploy, ``minutes``
    minutes of history for 2 instances x 2 workers, and a logged-in client:
    ``(app, client)``."""
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
                session, app, now - timedelta(minutes=minutes), now, shape
            ),
        )
        run_in_transaction(db.session, record_deploy)
        db.session.remove()
    client = app.test_client()
    assert log_in(client).status_code == 302
    return app, client
