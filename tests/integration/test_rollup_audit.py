"""The rollups' audit job and the overview's checks of the jobs: a change made behind
the rollups' back (a capture trigger disabled, as a careless bulk edit would) is found
by the next audit, turns the rollups check critical with the report that differs,
and `flask rollup rebuild` clears it; without a jobs process the jobs check warns."""

from __future__ import annotations

import itertools
import time

import pytest
from test_dbconsole import Console

from app.jobs.scheduler import JobRunner
from app.reports.rollups.audit import AUDIT_JOB
from app.reports.rollups.upkeep import ROLLUP_JOB


@pytest.fixture
def console(make_app, make_database):
    """A console whose jobs may run again at once (a period of one second)."""
    return Console(make_app, make_database(), ROLLUP_AUDIT_SECONDS=1, ROLLUP_FOLD_SECONDS=1)


# Each tick a minute after the last: every job is due again.
LATER = itertools.count()


def run_jobs(console: Console, *jobs) -> list[str]:
    """One tick of ``jobs``, as the jobs process runs them: the names that ran."""
    with console.app.app_context():
        session = console.session()
        try:
            return JobRunner(console.app, list(jobs)).tick(session, time.time() + 60 * next(LATER))
        finally:
            session.close()


def place_an_order_today(console: Console) -> int:
    console.sql(
        "INSERT INTO customers (email, name, region) VALUES ('a@example.com', 'A', 'europe'),"
        " ('b@example.com', 'B', 'europe')"
    )
    console.sql("INSERT INTO products (sku, name, price_cents, stock) VALUES ('P1', 'P', 500, 99)")
    rows = console.sql(
        "WITH o AS (INSERT INTO orders (customer_id, total_cents, item_count)"
        " SELECT id, 500 * id, 1 FROM customers RETURNING id)"
        " INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
        " SELECT o.id, p.id, 1, 500 FROM o, products p RETURNING order_id"
    )
    return rows[0][0]


def audits(console: Console) -> list[tuple]:
    return console.sql("SELECT questions, different FROM rollup_audits ORDER BY id")


def test_an_edit_behind_the_rollups_back_is_found_and_a_rebuild_clears_it(console):
    order = place_an_order_today(console)
    assert "rollups" in run_jobs(console, ROLLUP_JOB)
    assert "rollup-audit" in run_jobs(console, AUDIT_JOB)
    assert audits(console)[-1][1] == 0
    statuses = console.statuses()
    assert statuses["rollups"] == "ok"

    # What a bulk fix with the triggers off does: the orders change, the queue does not.
    console.sql("ALTER TABLE orders DISABLE TRIGGER orders_capture_updates")
    console.sql("UPDATE orders SET total_cents = total_cents + 100000 WHERE id = %s", [order])
    console.sql("ALTER TABLE orders ENABLE TRIGGER orders_capture_updates")
    assert "rollup-audit" in run_jobs(console, AUDIT_JOB)
    assert audits(console)[-1][1] > 0
    page = console.client.get("/admin/db/").text
    assert console.statuses()["rollups"] == "critical"
    assert "flask rollup rebuild" in page and "daily-revenue" in page

    result = console.app.test_cli_runner().invoke(args=["rollup", "rebuild", "--yes"])
    assert result.exit_code == 0, result.output
    assert "rollup-audit" in run_jobs(console, AUDIT_JOB)
    assert audits(console)[-1][1] == 0
    assert console.statuses()["rollups"] == "ok"


def test_a_queue_left_unfolded_turns_the_rollups_check(console):
    place_an_order_today(console)
    assert console.statuses()["rollups"] == "ok"  # seconds old: the fold has time
    console.sql("UPDATE order_changes SET queued_at = now() - interval '10 minutes'")
    assert console.statuses()["rollups"] == "warning"
    console.sql("UPDATE order_changes SET queued_at = now() - interval '1 hour'")
    page = console.client.get("/admin/db/").text
    assert console.statuses()["rollups"] == "critical"
    assert "the oldest change has waited" in page


def test_without_a_jobs_process_the_jobs_check_warns(console):
    page = console.client.get("/admin/db/").text
    assert console.statuses()["jobs"] == "warning"
    assert "no jobs process is running" in page
