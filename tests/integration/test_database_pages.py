"""Instrumentation and the admin's database pages, in one process."""

import json
import logging
import os
import threading
import time

import flask_migrate
import pytest
from browser_forms import add_admin, log_in
from builders import add_product
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from waiting import wait_until

from app.db.migration_scripts import migration_scripts
from app.extensions import db
from app.monitoring.request_accounting import NPlusOneDetected


def test_requests_carry_server_timing_and_a_log_line(admin_client, caplog):
    with caplog.at_level(logging.INFO, logger="stockroom.request"):
        response = admin_client.get("/admin/product/")
    timing = response.headers["Server-Timing"]
    assert timing.startswith("db;dur=") and "queries" in timing and "app;dur=" in timing
    line = json.loads(caplog.records[-1].getMessage())
    assert line["path"] == "/admin/product/"
    assert line["status"] == 200
    assert line["queries"] >= 2
    assert line["db_ms"] >= 0


@pytest.fixture
def probe_app(make_app):
    """An app with extra routes that misbehave on purpose, slow queries captured at 30 ms."""
    app = make_app(SLOW_QUERY_MS=30, DB_LEAK_SECONDS=1)

    @app.get("/_probe/n-plus-one")
    def n_plus_one():
        for product_id in range(12):
            db.session.execute(text("SELECT id FROM products WHERE id = :id"), {"id": product_id})
        return "done"

    @app.get("/_probe/slow")
    def slow():
        db.session.execute(
            text(
                "SELECT count(*) FROM products"
                " WHERE price_cents > :floor AND pg_sleep(0.04) IS NOT NULL"
            ),
            {"floor": 5},
        ).scalar()
        db.session.execute(text("UPDATE products SET stock = stock WHERE pg_sleep(0.04) IS NULL"))
        db.session.rollback()
        return "done"

    return app


def test_n_plus_one_is_an_error_in_tests(probe_app):
    with pytest.raises(NPlusOneDetected, match="12 times"):
        probe_app.test_client().get("/_probe/n-plus-one")


def test_n_plus_one_is_logged_in_production(probe_app, caplog):
    probe_app.config["N_PLUS_ONE_RAISE"] = False
    with caplog.at_level(logging.WARNING, logger="stockroom.request"):
        assert probe_app.test_client().get("/_probe/n-plus-one").status_code == 200
    warning = json.loads(caplog.records[-1].getMessage())
    assert warning["n_plus_one"]["times"] == 12
    assert "FROM products WHERE id" in warning["n_plus_one"]["statement"]


def logged_in(app, committed):
    with committed.sessions() as session:
        add_admin(session)
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


@pytest.fixture
def fresh_slow_statements():
    """This process's slow-statement store, emptied. It is the whole test process's:
    a slow ``UPDATE products`` of an earlier test (a restock queueing on a row lock on
    a loaded machine) would be the one found below, and its explain page, never
    reported to this database, a 404."""
    from app.monitoring.statements import slow_statements

    with slow_statements.lock:
        slow_statements.entries.clear()
        slow_statements.dirty.clear()


def test_slow_statements_are_captured_and_explained(probe_app, committed, fresh_slow_statements):
    client = logged_in(probe_app, committed)
    with committed.sessions() as session:
        add_product(session, price_cents=100)  # pg_sleep runs once per row
    assert client.get("/_probe/slow").status_code == 200
    page = client.get("/admin/db/queries/")
    assert page.status_code == 200
    assert "pg_sleep(0.04)" in page.text
    assert "%(floor)s" in page.text  # the statement, never its values
    assert "slow" in page.text  # the endpoint that ran it
    assert "tests/integration/test_database_pages.py" in page.text  # and where in the code

    from app.monitoring.statements import slow_statements

    entries = slow_statements.entries.values()
    select_entry = next(e for e in entries if e.sql.startswith("SELECT count(*)"))
    update_entry = next(e for e in entries if e.sql.startswith("UPDATE products"))

    plain = client.get(f"/admin/db/queries/explain/{select_entry.fingerprint}")
    assert plain.status_code == 200
    assert "Aggregate" in plain.text and "actual time" not in plain.text
    analyzed = client.get(f"/admin/db/queries/explain/{select_entry.fingerprint}?analyze=1")
    assert "actual time" in analyzed.text

    refused = client.get(f"/admin/db/queries/explain/{update_entry.fingerprint}?analyze=1")
    assert "Only SELECT statements can be explained" in refused.text
    assert client.get("/admin/db/queries/explain/0123456789abcdef").status_code == 404
    assert client.get("/admin/db/queries/explain/DROP%20TABLE%20x").status_code == 404


def test_a_statement_cut_off_by_the_timeout_is_captured_too(probe_app):
    """The slowest statements are the ones that fail: a timeout is timed and kept."""
    from app.monitoring.statements import slow_statements

    with (
        probe_app.app_context(),
        pytest.raises(OperationalError, match="statement timeout"),
        db.engine.connect() as conn,
    ):
        conn.execute(text("SET LOCAL statement_timeout = '50ms'"))
        conn.execute(text("SELECT pg_sleep(5) AS cut_off_by_timeout"))
    entry = next(e for e in slow_statements.entries.values() if "cut_off_by_timeout" in e.sql)
    # Timed as it ran: the 50 ms it lasted, far short of the 5 s it asked for.
    assert 40 <= entry.max_ms < 2500


def test_pool_page_shows_this_worker_and_connections_held_too_long(probe_app, committed):
    client = logged_in(probe_app, committed)
    holding = threading.Event()
    release = threading.Event()

    def hold():
        with probe_app.app_context(), db.engine.connect():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(5)
        time.sleep(1.2)  # the point: held past DB_LEAK_SECONDS (1 s)
        page = client.get("/admin/db/pool/")
    finally:
        release.set()
        holder.join()
    assert page.status_code == 200
    assert "budget = " in page.text
    assert f'data-pid="{__import__("os").getpid()}"' in page.text
    assert "stockroom:test:" in page.text  # server connections by application
    held = page.text.split('id="held"')[1]
    assert "tests/integration/test_database_pages.py" in held
    assert "hold" in held


def test_migrations_page_shows_pending_revisions(make_app, make_database, committed):
    app = make_app(make_database())
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="-1")
        from app.auth.admins import set_admin_password

        set_admin_password(db.session, "ops@example.com", "correct horse battery")
        db.session.commit()
    client = app.test_client()
    assert log_in(client).status_code == 302
    page = client.get("/admin/db/migrations/")
    assert page.status_code == 200
    pending = page.text.split('id="pending"')[1].split("</div>")[0]
    head = migration_scripts().get_revision("head")
    assert "1 pending" in pending
    assert head.revision in pending
    assert head.doc.splitlines()[0] in pending


def test_migrations_page_at_head_shows_no_drift(admin_client):
    page = admin_client.get("/admin/db/migrations/")
    assert "At head: nothing pending." in page.text
    assert "No drift between the models and the database." in page.text
    assert page.text.count("(head)") == 1


def waiting_for_a_lock(committed, pid: int) -> bool:
    """Whether session ``pid`` waits for a lock now (a transaction of its own: the
    server keeps one snapshot of pg_stat_activity per transaction)."""
    with committed.connect() as observer:
        return bool(
            observer.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE pid = :pid AND wait_event_type = 'Lock'"
                ),
                {"pid": pid},
            ).scalar()
        )


def test_activity_page_shows_who_blocks_whom(probe_app, committed):
    client = logged_in(probe_app, committed)
    with committed.sessions() as session:
        product_id = add_product(session).id
    blocker = committed.connect()
    blocker.begin()
    blocker.execute(text("SELECT * FROM products WHERE id = :id FOR UPDATE"), {"id": product_id})
    waiter = committed.connect()
    waiter_pid = waiter.connection.driver_connection.info.backend_pid

    def wait_for_lock():
        try:
            waiter.execute(text("SET lock_timeout = '5s'"))
            waiter.execute(
                text("UPDATE products SET stock = stock + 1 WHERE id = :id"), {"id": product_id}
            )
        finally:
            waiter.rollback()

    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    try:
        # Until our waiter waits for the row (another test's session may wait too).
        wait_until(
            lambda: waiting_for_a_lock(committed, waiter_pid),
            message="the waiter never waited for the lock",
        )
        page = client.get("/admin/db/activity/")
    finally:
        blocker.rollback()
        blocker.close()
        thread.join()
        waiter.close()
    waits = page.text.split('id="lock-waits"')[1].split("</table>")[0]
    assert "UPDATE products SET stock = stock + 1" in waits
    assert "FOR UPDATE" in waits
    assert "idle in transaction" in waits


def scrape(client) -> dict:
    """/metrics parsed by prometheus_client's own parser: {family name: family}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(family, name_suffix: str = "", **labels) -> list:
    return [
        s
        for s in family.samples
        if s.name == family.name + name_suffix
        and all(s.labels.get(key) == value for key, value in labels.items())
    ]


def test_metrics_cover_pool_queries_requests_and_orders(api, session, client):
    from builders import add_customer

    customer = add_customer(session)
    product = add_product(session)
    api.post(
        "/api/orders",
        json={"customer_id": customer.id, "lines": [{"product_id": product.id, "quantity": 1}]},
    )
    api.get("/api/nothing-here")
    families = scrape(client)
    me = {"pid": str(os.getpid())}
    for name in (
        "stockroom_pool_size",
        "stockroom_pool_checked_out",
        "stockroom_pool_leaked_connections",
        "stockroom_pool_acquire_wait_seconds",
        "stockroom_pool_timeouts",
        "stockroom_db_query_duration_seconds",
        "stockroom_n_plus_one",
        "stockroom_db_connections",
        "stockroom_db_deadlocks",
        "stockroom_db_oldest_xid_age",
    ):
        assert name in families, name
    assert families["stockroom_orders"].type == "counter"
    (placed,) = samples(families["stockroom_orders"], "_total", outcome="placed", **me)
    assert placed.value >= 1
    requests = families["stockroom_http_request_duration_seconds"]
    assert requests.type == "histogram"
    (count,) = samples(
        requests, "_count", method="POST", endpoint="api.orders.orders_create", status="2xx", **me
    )
    assert count.value >= 1
    # Endpoint labels are Flask endpoint names, never raw paths (a 404 has none).
    endpoints = {s.labels["endpoint"] for s in requests.samples}
    assert "(unmatched)" in endpoints and not any(e.startswith("/") for e in endpoints)
    assert samples(families["stockroom_db_connections"], state="active")
    assert samples(families["stockroom_db_oldest_xid_age"])[0].value > 0


def test_metrics_count_n_plus_one_incidents_by_endpoint(probe_app):
    probe_app.config["N_PLUS_ONE_RAISE"] = False
    client = probe_app.test_client()
    before = scrape(client)["stockroom_n_plus_one"]
    assert client.get("/_probe/n-plus-one").status_code == 200
    after = scrape(client)["stockroom_n_plus_one"]

    def total(family):
        return sum(s.value for s in samples(family, "_total", endpoint="n_plus_one"))

    assert total(after) == total(before) + 1


def test_metrics_can_require_a_token(make_app):
    app = make_app(METRICS_TOKEN="scrape-me")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200
    assert "stockroom_pool_size" in ok.text


def test_pool_counts_waits_and_timeouts(make_app):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from app.monitoring.pool_tracking import ACQUIRE_WAIT, TIMEOUTS, InstrumentedQueuePool

    def totals():
        waits, seconds = ACQUIRE_WAIT.totals()
        return waits, seconds, sum(count for *_labels, count in TIMEOUTS.snapshot())

    app = make_app(
        SQLALCHEMY_ENGINE_OPTIONS={
            "poolclass": InstrumentedQueuePool,
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 1,
        }
    )
    before = totals()

    def hold(seconds, ready):
        with app.app_context(), db.engine.connect():
            ready.set()
            time.sleep(seconds)  # the point: the other checkout waits this long, or times out

    for hold_for, expect_timeout in ((0.3, False), (1.6, True)):
        ready = threading.Event()
        holder = threading.Thread(target=hold, args=(hold_for, ready))
        holder.start()
        ready.wait(5)
        with app.app_context():
            if expect_timeout:
                with pytest.raises(PoolTimeout):
                    db.engine.connect()
            else:
                db.engine.connect().close()
        holder.join()
    waits, seconds, timeouts = totals()
    assert waits - before[0] == 2
    assert seconds - before[1] >= 1.2  # ~0.3 s waited + 1 s timed out
    assert timeouts - before[2] == 1
