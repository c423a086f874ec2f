"""Faults against real processes: PostgreSQL restarted under load, an exhausted pool,
statement and lock timeouts, a worker killed mid-request.

These run against a PostgreSQL cluster of their own (it gets stopped) and real
gunicorn. Marked ``fault``: .ci/run runs them as a separate, time-bounded step.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from shop import RetryingClients, Shop, post_order, start_gunicorn
from waiting import wait_until

pytestmark = pytest.mark.fault
# Sessions of the app's web workers waiting for a row lock.
WEB_LOCK_WAITERS = (
    "SELECT application_name FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND application_name LIKE 'stockroom:web:%'"
)


@pytest.fixture(scope="module")
def shop():
    root = Path(tempfile.mkdtemp(prefix="stockroom-faults-", dir="/tmp"))
    shop = Shop(root)
    yield shop
    if shop.server.is_running():
        shop.server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_database_restart_under_load(shop, tmp_path):
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=2,
        GUNICORN_THREADS=4,
        DB_POOL_TIMEOUT=2,
        DB_CONNECT_TIMEOUT=2,
        IDEMPOTENCY_LEASE_SECONDS=2,
    )
    clients = RetryingClients(server, shop)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            running = [pool.submit(clients.run, n) for n in range(6)]
            try:
                wait_until(
                    lambda: len(clients.placed) >= 10,
                    timeout=30,
                    message="no orders went through before the outage",
                )
                before_outage = len(clients.placed)
                shop.server.stop()
                time.sleep(3)  # the outage (the point of the test): clients keep retrying
                shop.server.start()
                clients.outage_ended_at = time.monotonic()
                wait_until(
                    lambda: clients.first_success_after_outage is not None,
                    timeout=30,
                    message="no order went through after the restart",
                )
            finally:
                clients.stop.set()
            for future in running:
                future.result()
    finally:
        server.stop()

    statuses = clients.statuses
    print(
        f"\nrestart under load: responses {dict(statuses)}, {len(clients.placed)} orders placed, "
        f"slowest {clients.slowest:.2f} s, first success {clients.first_success_after_outage} s "
        f"after the restart"
    )
    assert before_outage > 0
    assert statuses[500] == 0 and statuses[0] == 0, statuses
    assert statuses[503] > 0  # the outage was seen, and answered properly
    assert clients.bad_answers == []
    assert set(statuses) <= {201, 409, 503}, statuses
    assert clients.slowest < 8, f"a request hung for {clients.slowest:.1f} s"
    # The app recovers by itself within seconds (a client gives up after 40 s).
    assert clients.first_success_after_outage < 10
    assert clients.unresolved == []
    clients.orders_match_the_201s()
    shop.ledger_holds()


def test_exhausted_pool_answers_503_quickly_and_recovers(shop, tmp_path):
    # One worker with 4 threads but one connection (a reserve that leaves 1 beside the
    # jobs process's 2). The first order holds that connection waiting for the row (up
    # to the 10 s lock timeout); the others time out in the pool after 1 s instead of
    # queueing for it.
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=1,
        GUNICORN_THREADS=4,
        DB_POOL_RESERVED=94,
        DB_POOL_TIMEOUT=1,
        DB_LOCK_TIMEOUT_MS=10_000,
        DB_STATEMENT_TIMEOUT_MS=15_000,
    )
    hot = shop.product_ids[0]
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (hot,))
        with ThreadPoolExecutor(max_workers=4) as pool:
            first = pool.submit(post_order, server, shop, [hot])
            # It holds the only connection, waiting for the row.
            wait_until(
                lambda: shop.sql(WEB_LOCK_WAITERS), message="the order never reached the lock"
            )
            others = [
                pool.submit(post_order, server, shop, [shop.product_ids[1]]) for _ in range(3)
            ]
            waited = [future.result() for future in others]
            holder.rollback()
            status, _, _, _ = first.result()
        assert status == 201
        for status, body, headers, seconds in waited:
            assert (status, body["type"]) == (503, "/problems/pool-timeout")
            assert headers["Retry-After"]
            # Answered after the 1 s pool timeout, well before the 10 s lock wait
            # that holds the only connection.
            assert seconds < 5
        # Load gone: the next request goes through at once (not after a lock wait).
        status, _, _, seconds = post_order(server, shop, [shop.product_ids[1]])
        assert status == 201 and seconds < 5
    finally:
        holder.close()
        server.stop()
    shop.ledger_holds()


def order_while_row_locked(shop, tmp_path, product, **settings):
    """POST an order for ``product`` while another session holds its row lock."""
    server = start_gunicorn(shop, tmp_path, WEB_CONCURRENCY=1, GUNICORN_THREADS=2, **settings)
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (product,))
        return post_order(server, shop, [product])
    finally:
        holder.rollback()
        holder.close()
        server.stop()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # The statement limit runs out before the lock wait: the statement is cancelled.
        (
            {"DB_STATEMENT_TIMEOUT_MS": 300, "DB_LOCK_TIMEOUT_MS": 10_000},
            (503, "/problems/statement-timeout"),
        ),
        # The lock wait runs out first: a conflict the client may retry.
        (
            {"DB_LOCK_TIMEOUT_MS": 300, "DB_STATEMENT_TIMEOUT_MS": 10_000},
            (409, "/problems/conflict"),
        ),
    ],
)
def test_statement_and_lock_timeouts_answer_cleanly(shop, tmp_path, settings, expected):
    product = shop.product_ids[2]
    orders_before = shop.sql("SELECT count(*) FROM orders")[0][0]
    stock_before = shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0]
    status, body, headers, seconds = order_while_row_locked(shop, tmp_path, product, **settings)
    assert (status, body["type"]) == expected
    # It waited for the 0.3 s limit, and gave up long before the other one (10 s).
    assert headers["Retry-After"] and 0.3 <= seconds < 5, seconds
    assert shop.sql("SELECT count(*) FROM orders")[0][0] == orders_before
    assert shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0] == stock_before


def test_worker_killed_mid_request_leaves_no_locks_and_no_order(shop, tmp_path):
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=1,
        GUNICORN_THREADS=2,
        DB_LOCK_TIMEOUT_MS=30000,
        DB_STATEMENT_TIMEOUT_MS=60000,
    )
    free, held = sorted(shop.product_ids[:2])
    orders_before = shop.sql("SELECT count(*) FROM orders")[0][0]
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (held,))
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Locks `free` (lower id first), then waits for `held`.
            pending = pool.submit(post_order, server, shop, [free, held], None, 30)
            waiting = wait_until(
                lambda: shop.sql(WEB_LOCK_WAITERS), message="the order never reached the lock"
            )
            worker_name = waiting[0][0]
            worker_pid = int(worker_name.split(":")[-1])
            os.kill(worker_pid, signal.SIGKILL)
            with pytest.raises(OSError):  # the worker died: the connection just closes
                pending.result()
        # The server notices and rolls the transaction back (long before the 30 s
        # lock wait or the 60 s statement limit would have ended it).
        wait_until(
            lambda: (
                not shop.sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (worker_name,),
                )[0][0]
            ),
            timeout=10,
            message=f"{worker_name}'s session outlived its worker",
        )
        holder.rollback()
        # `free` is not locked any more: gunicorn's new worker sells it at once, not
        # after the 30 s lock wait.
        server.wait_ready()
        status, _, _, seconds = post_order(server, shop, [free])
        assert status == 201 and seconds < 10
    finally:
        holder.close()
        server.stop()
    assert shop.sql("SELECT count(*) FROM orders")[0][0] == orders_before + 1
    shop.ledger_holds()
