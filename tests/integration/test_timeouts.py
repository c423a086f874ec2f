"""Web connections give up on locks and long statements, per connection."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.catalog.models import Product
from app.errors import database_failure
from app.extensions import db


@pytest.fixture
def quick_app(make_app):
    return make_app(DB_LOCK_TIMEOUT_MS=300, DB_STATEMENT_TIMEOUT_MS=400)


def test_lock_wait_gives_up_after_lock_timeout(quick_app, committed):
    with committed.sessions.begin() as setup:
        setup.add(Product(sku="HOT-1", name="Hot item", price_cents=100, stock=5))

    holder = committed.connect()
    holder.begin()
    holder.execute(text("SELECT id FROM products WHERE sku = 'HOT-1' FOR UPDATE"))
    try:
        with quick_app.app_context(), db.engine.connect() as conn:
            started = time.monotonic()
            with pytest.raises(OperationalError) as caught:
                conn.execute(text("SELECT id FROM products WHERE sku = 'HOT-1' FOR UPDATE"))
            waited = time.monotonic() - started
        assert caught.value.orig.sqlstate == "55P03"  # lock_not_available
        # It waited for the 300 ms lock timeout and gave up (the holder keeps the lock
        # until the test ends).
        assert 0.25 < waited < 5, waited
        # What an API client gets for it: retry later, not a server error.
        assert database_failure(caught.value)[:2] == (409, "conflict")
    finally:
        holder.rollback()
        holder.close()


def test_long_statement_is_cancelled_after_statement_timeout(quick_app):
    with quick_app.app_context(), db.engine.connect() as conn:
        started = time.monotonic()
        with pytest.raises(OperationalError) as caught:
            conn.execute(text("SELECT pg_sleep(5)"))
        ran = time.monotonic() - started
        assert caught.value.orig.sqlstate == "57014"  # query_canceled
        # It ran for the 400 ms limit, and was cut well short of its 5 s.
        assert 0.35 < ran < 2.5, ran
    assert database_failure(caught.value)[:2] == (503, "statement-timeout")


def test_committed_rows_are_visible_across_threads(committed):
    with committed.sessions.begin() as setup:
        setup.add(Product(sku="SHARED-1", name="Shared", price_cents=100, stock=1))
    seen = []

    def look():
        with committed.sessions() as other:
            seen.append(other.query(Product).filter_by(sku="SHARED-1").one().stock)

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert seen == [1]
