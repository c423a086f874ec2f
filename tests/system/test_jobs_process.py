"""The jobs process (``flask jobs run``, real processes): it runs the periodic jobs
and the web workers none; the workers keep reporting while a fold is held up under
order load; killing it in the middle of a fold loses nothing and the next run
catches up; two of them fold every change exactly once."""

from __future__ import annotations

import re
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from processes import get_json
from report_questions import differences
from shop import Shop, post_order, start_gunicorn, start_jobs
from sqlalchemy import create_engine
from waiting import wait_until

from app.config import sqlalchemy_url

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module")
def shop():
    root = Path(tempfile.mkdtemp(prefix="stockroom-jobs-", dir="/tmp"))
    shop = Shop(root, database="stockroom_jobs", stocks=(10**7,) * 4)
    shop.root = root
    yield shop
    shop.server.stop()


@pytest.fixture
def engine(shop):
    engine = create_engine(sqlalchemy_url(shop.url), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def queue_orders(shop: Shop, n: int) -> None:
    """``n`` orders of one line each on the last 300 days, in one statement (the
    triggers queue them, like any order)."""
    shop.sql(
        "WITH placed AS ("
        " INSERT INTO orders (customer_id, total_cents, item_count, placed_at)"
        " SELECT %s, 100 * (1 + g %% 5), 1 + g %% 5, now() - (g %% 300) * interval '1 day'"
        " FROM generate_series(1, %s) g RETURNING id, item_count)"
        " INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
        " SELECT id, %s, item_count, 100 FROM placed",
        [shop.customer_id, n, shop.product_ids[0]],
    )


def queued(shop: Shop) -> int:
    return shop.sql("SELECT count(*) FROM order_changes")[0][0]


def jobs_waiting_on_a_lock(shop: Shop) -> bool:
    return bool(
        shop.sql(
            "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'stockroom:jobs:%%'"
            " AND wait_event_type = 'Lock'"
        )
    )


def test_the_jobs_process_runs_the_jobs_and_the_workers_none(shop, tmp_path):
    server = start_gunicorn(shop, tmp_path, WEB_CONCURRENCY=2, DB_REPORT_INTERVAL=1)
    jobs = start_jobs(shop, tmp_path, ROLLUP_FOLD_SECONDS=1, DB_REPORT_INTERVAL=1)
    try:
        for _ in range(5):
            assert post_order(server, shop, shop.product_ids[:2])[0] == 201
        wait_until(lambda: queued(shop) == 0, timeout=20, message="the orders were not folded")
        claimants = {row[0] for row in shop.sql("SELECT claimed_by FROM db_job_runs")}
        assert claimants and all(c.endswith(f":{jobs.process.pid}") for c in claimants)
        web = {row[0] for row in shop.sql("SELECT pid FROM db_worker_reports WHERE role = 'web'")}
        assert len(web) == 2 and not any(c.endswith(f":{pid}") for c in claimants for pid in web)
        # Its own small pool, named as the jobs process, in the plan and in /readyz.
        names = shop.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stockroom:jobs:%%'"
        )[0][0]
        assert 1 <= names <= 2
        status, ready = get_json(f"{server.url}/readyz")
        assert status == 200 and ready["pool"]["jobs_pool"] == 2

        def scraped() -> str:
            with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
                return response.read().decode()

        def series(name: str, text: str) -> dict[str, float]:
            """``name``'s samples of the jobs process for the rollups job, by outcome."""
            found = {}
            for labels, value in re.findall(rf"^{name}{{([^}}]*)}} (\S+)$", text, re.M):
                pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                if pairs.get("pid") == str(jobs.process.pid) and pairs.get("job") == "rollups":
                    found[pairs.get("outcome", "")] = float(value)
            return found

        metrics = wait_until(
            lambda: (text := scraped()) and series("stockroom_job_runs_total", text) and text,
            timeout=10,
            message="the jobs process's job metrics never reached /metrics",
        )
        assert series("stockroom_job_runs_total", metrics)["success"] >= 1
        assert series("stockroom_job_duration_seconds_count", metrics)[""] >= 1
        last = re.search(
            r'^stockroom_job_last_success_timestamp_seconds{job="rollups"} (\S+)$', metrics, re.M
        )
        assert last and abs(float(last.group(1)) - time.time()) < 60
    finally:
        assert jobs.stop(timeout=30) == 0  # SIGTERM: it stops after the job in hand
        server.stop()


def test_workers_keep_reporting_while_a_fold_is_held_up_under_load(shop, tmp_path, engine):
    server = start_gunicorn(shop, tmp_path, WEB_CONCURRENCY=2, DB_REPORT_INTERVAL=1)
    jobs = start_jobs(
        shop,
        tmp_path,
        ROLLUP_FOLD_SECONDS=1,
        DB_REPORT_INTERVAL=1,
        DB_LOCK_TIMEOUT_MS=60_000,
        DB_STATEMENT_TIMEOUT_MS=60_000,
    )
    stop = threading.Event()
    placed = []

    def client(number: int) -> None:
        while not stop.is_set():
            status, *_ = post_order(server, shop, [shop.product_ids[number % 4]])
            placed.append(status)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    holder = psycopg.connect(shop.url)
    try:
        web = wait_until(
            lambda: (
                {r[0] for r in shop.sql("SELECT pid FROM db_worker_reports WHERE role='web'")}
                if len(shop.sql("SELECT pid FROM db_worker_reports WHERE role='web'")) == 2
                else None
            ),
            timeout=10,
        )
        for thread in clients:
            thread.start()
        # The fold waits for this lock as long as it is held (the jobs process's
        # lock_timeout is a minute): a fold that does not end, under saturating load.
        holder.execute("LOCK TABLE sales_days IN SHARE MODE")
        wait_until(lambda: jobs_waiting_on_a_lock(shop), timeout=15, message="no fold started")
        scrapes = []
        held_until = time.monotonic() + 15  # the 15-second fold
        while time.monotonic() < held_until:
            with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
                text = response.read().decode()
            scrapes.append(
                {int(p) for p in re.findall(r'stockroom_pool_size{[^}]*pid="(\d+)"', text)}
            )
            time.sleep(0.5)
        assert jobs_waiting_on_a_lock(shop)  # the fold was held up all along
    finally:
        holder.close()  # the fold goes on
        stop.set()
        for thread in clients:
            thread.join()
    try:
        assert len(scrapes) >= 15
        assert all(web <= pids for pids in scrapes), scrapes  # no gap for any worker
        assert placed.count(201) > 50 and set(placed) == {201}
        wait_until(lambda: queued(shop) == 0, timeout=30, message="the held fold never finished")
        assert differences(engine) == []
    finally:
        jobs.stop(timeout=30)
        server.stop()


def test_killing_the_jobs_process_mid_fold_loses_nothing(shop, tmp_path, engine):
    queue_orders(shop, 3000)
    settings = {
        "ROLLUP_FOLD_SECONDS": 1,
        "ROLLUP_FOLD_BATCH": 50,
        "DB_LOCK_TIMEOUT_MS": 60_000,
    }
    jobs = start_jobs(shop, tmp_path, **settings)
    holder = psycopg.connect(shop.url)
    try:
        # Let some batches commit, then hold the next one up and kill the process.
        wait_until(lambda: 0 < queued(shop) < 3000, timeout=20, interval=0.01)
        holder.execute("LOCK TABLE sales_days IN SHARE MODE")
        wait_until(lambda: jobs_waiting_on_a_lock(shop), timeout=15)
        jobs.kill()
    finally:
        holder.close()
    left = queued(shop)
    assert 0 < left < 3000
    assert differences(engine) == []  # folded batches plus the queue: exact
    again = start_jobs(shop, tmp_path, **settings)
    try:
        wait_until(lambda: queued(shop) == 0, timeout=30, message="the next run did not catch up")
        assert differences(engine) == []
        placed = shop.sql("SELECT count(*) FROM orders WHERE status = 'placed'")[0][0]
        assert shop.sql("SELECT sum(orders) FROM sales_days")[0][0] == placed
    finally:
        again.stop(timeout=30)


def test_two_jobs_processes_fold_every_change_once(shop, tmp_path, engine):
    queue_orders(shop, 4000)
    settings = {"ROLLUP_FOLD_SECONDS": 1, "ROLLUP_FOLD_BATCH": 40}
    both = [start_jobs(shop, tmp_path, **settings) for _ in range(2)]
    try:
        wait_until(lambda: queued(shop) == 0, timeout=60, message="the queue was not folded")
        assert differences(engine) == []
        placed = shop.sql("SELECT count(*) FROM orders WHERE status = 'placed'")[0][0]
        assert shop.sql("SELECT sum(orders) FROM sales_days")[0][0] == placed
        runs = shop.sql(
            "SELECT count(*), count(DISTINCT period_start) FROM db_job_runs WHERE job = 'rollups'"
        )
        assert runs[0][0] == runs[0][1]  # one run per period, whichever process won it
    finally:
        for jobs in both:
            jobs.stop(timeout=30)
