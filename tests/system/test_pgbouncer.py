"""Stockroom behind a real PgBouncer in transaction pooling mode (Debian's pgbouncer).

A private PostgreSQL with max_connections = 20 sits behind a bouncer whose server
pool is 8 + 2 in reserve; the app reaches it only through the bouncer (migrations
and seeding go direct). Skipped, saying why, when pgbouncer is not installed;
.ci/run installs it and sets REQUIRE_PGBOUNCER=1, so there a skip is a failure.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from browser_forms import PASSWORD
from builders import release_connections
from processes import Browser, Gunicorn, clean_env, flask, get_json, require_pgbouncer
from shop import RetryingClients, Shop, post_order, start_gunicorn
from sqlalchemy import text
from waiting import wait_until

from app import create_app
from app.config import sqlalchemy_url
from app.devdb.pgbouncer import LocalPgBouncer
from app.extensions import db
from app.reports.runner import in_report_transaction
from app.serving.gunicorn_process import free_port

pytestmark = [pytest.mark.pgbouncer, pytest.mark.scaleout]

BOUNCER = {"max_client_conn": "200", "default_pool_size": "8", "reserve_pool_size": "2"}
SERVER_POOL = 10  # default_pool_size + reserve_pool_size
MAX_CONNECTIONS = 20
STOCKS = (1500, 1500, 1500, 100_000)
SETTINGS = (
    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
    "current_setting('idle_in_transaction_session_timeout'), "
    "current_setting('client_connection_check_interval'), pg_backend_pid()"
)


class Pooled:
    """A shop whose server only the bouncer talks to, for the app."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shop = Shop(
            root,
            settings={"max_connections": str(MAX_CONNECTIONS)},
            database="stockroom_pooled",
            stocks=STOCKS,
        )
        self.bouncer = self.make_bouncer("bouncer", BOUNCER)

    def make_bouncer(self, name: str, settings: dict) -> LocalPgBouncer:
        """Another bouncer in front of the same server, started."""
        bouncer = LocalPgBouncer(
            self.root / name,
            server_socket_dir=self.shop.server.socket_dir,
            os_user=self.shop.server.os_user,
            port=free_port(),
            settings=settings,
        )
        bouncer.start()
        return bouncer

    @property
    def url(self) -> str:
        return self.bouncer.url(self.shop.server.database)

    def settings(self, **extra) -> dict:
        """The environment of an app that reaches the server through the bouncer."""
        return {
            "DB_POOLER": "pgbouncer",
            "DATABASE_DIRECT_URL": self.shop.url,
            "DB_POOLER_ADMIN_URL": self.bouncer.admin_url(),
            **{key: str(value) for key, value in extra.items()},
        }

    def gunicorn(self, tmp_path: Path, **settings) -> Gunicorn:
        return start_gunicorn(self.shop, tmp_path, url=self.url, **self.settings(**settings))

    def env(self, **extra) -> dict:
        return clean_env(DATABASE_URL=self.url, **self.settings(**extra))

    def server_connections(self) -> int:
        """Client backends on the server now, besides the one asking."""
        return self.shop.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        )[0][0]

    def bouncer_clients(self) -> int:
        """Clients connected to the bouncer for our database now."""
        with psycopg.connect(self.bouncer.admin_url(), autocommit=True) as conn:
            rows = conn.execute("SHOW POOLS").fetchall()
        return sum(row[2] + row[3] for row in rows if row[0] == self.shop.server.database)


@pytest.fixture(scope="module")
def pooled():
    require_pgbouncer()
    root = Path(tempfile.mkdtemp(prefix="stockroom-pgbouncer-", dir="/tmp"))
    pooled = Pooled(root)
    yield pooled
    for name in ("bouncer", "bouncer-single"):
        LocalPgBouncer(
            root / name, server_socket_dir=root, os_user=pooled.shop.server.os_user
        ).stop()
    pooled.shop.server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_orders_under_load_through_pgbouncer(pooled, tmp_path):
    # 4 workers x 8 threads: up to 64 app connections, for a server allowing 20.
    server = pooled.gunicorn(tmp_path, WEB_CONCURRENCY=4, GUNICORN_THREADS=8)
    try:
        status, ready = get_json(f"{server.url}/readyz")
        assert status == 200, ready
        assert ready["pool"]["pooler"] == {
            "kind": "pgbouncer",
            "max_client_conn": 200,
            "server_pool_size": 8,
            "reserve_pool_size": 2,
            "app_connections": 66,  # 4 workers x (8 + 8) + the jobs process's 2
            "server_budget": 12,  # 20 - 3 superuser - 0 - 5 DB_POOL_RESERVED
            "server_connections": SERVER_POOL,
            "source": "admin-console",
            "warnings": [],
        }
        statuses: Counter = Counter()
        server_peak, client_peak = [0], [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                server_peak[0] = max(server_peak[0], pooled.server_connections())
                client_peak[0] = max(client_peak[0], pooled.bouncer_clients())
                time.sleep(0.05)  # sampling the peaks while the load runs

        def client(number):
            rng = random.Random(number)
            while not stop.is_set():
                products = rng.sample(pooled.shop.product_ids[:3], rng.choice((1, 2)))
                status, body, _, _ = post_order(server, pooled.shop, sorted(products))
                statuses[(status, body.get("type"))] += 1

        with ThreadPoolExecutor(max_workers=33) as pool:
            sampler = pool.submit(sample)
            clients = [pool.submit(client, n) for n in range(32)]
            time.sleep(10)  # the load itself: 32 clients for 10 s
            stop.set()
            for future in [*clients, sampler]:
                future.result()
    finally:
        server.stop()
    print(
        f"\nthrough PgBouncer, 32 clients for 10 s: {dict(statuses)}; peak server "
        f"connections {server_peak[0]}, peak clients at the bouncer {client_peak[0]}"
    )
    assert set(statuses) <= {(201, None), (409, "/problems/insufficient-stock")}, statuses
    assert statuses[(201, None)] > 100
    # The app held more connections than the server allows; the server never saw
    # more than the bouncer's pool.
    assert client_peak[0] > MAX_CONNECTIONS - 3
    assert 0 < server_peak[0] <= SERVER_POOL
    pooled.shop.ledger_holds()


def test_the_whole_app_works_through_pgbouncer(pooled, tmp_path):
    admin = flask(
        "create-admin",
        "bouncer@example.com",
        "--password-stdin",
        env=pooled.env(),
        input=PASSWORD + "\n",
    )
    assert admin.returncode == 0, admin.stderr
    server = pooled.gunicorn(tmp_path, WEB_CONCURRENCY=2, GUNICORN_THREADS=4)
    try:
        browser = Browser(server.url)
        browser.log_in("bouncer@example.com", PASSWORD)
        pool_page = browser.get("/admin/db/pool/")
        assert 'id="pgbouncer"' in pool_page and 'id="plan-tiers"' in pool_page
        for path in ("/admin/db/queries/", "/admin/db/activity/", "/admin/db/migrations/"):
            browser.get(path)
        for path in ("/admin/order/", "/admin/product/", "/reports/top-customers"):
            assert "<table" in browser.get(path)
        # Idempotency: the same key and body replay the first order.
        product = pooled.shop.product_ids[3]
        key = str(uuid.uuid4())
        first = post_order(server, pooled.shop, [product], key=key)
        again = post_order(server, pooled.shop, [product], key=key)
        assert first[0] == again[0] == 201
        assert again[2]["Idempotent-Replayed"] == "true"
        assert first[1]["public_id"] == again[1]["public_id"]
        # Cancelling twice restores the stock once.
        stock = pooled.shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0]
        for _ in range(2):
            status, _, _, _ = api(server, pooled, "POST", f"/orders/{first[1]['public_id']}/cancel")
            assert status == 200
        after = pooled.shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0]
        assert after == stock + 1
        status, _, headers, _ = api(server, pooled, "GET", f"/products/{product}")
        assert status == 200 and headers["ETag"]
        metrics = browser.get("/metrics")
        assert "stockroom_pgbouncer_up 1" in metrics
        assert re.search(r'stockroom_pgbouncer_servers\{database="stockroom_pooled"', metrics)
        assert 'stockroom_pool_size{app_instance="' in metrics
    finally:
        server.stop()
    pooled.shop.ledger_holds()


def api(server, pooled, method, path):
    """(status, body, headers, seconds) of an authenticated API call without a body."""
    request = urllib.request.Request(
        f"{server.url}/api{path}",
        headers={"Authorization": f"Bearer {pooled.shop.token}"},
        method=method,
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    return status, json.loads(raw or b"{}"), headers, time.monotonic() - started


def test_timeouts_are_enforced_through_pgbouncer(pooled, tmp_path):
    server = pooled.gunicorn(
        tmp_path,
        WEB_CONCURRENCY=1,
        GUNICORN_THREADS=2,
        DB_LOCK_TIMEOUT_MS=500,
        DB_STATEMENT_TIMEOUT_MS=20_000,
        REPORT_STATEMENT_TIMEOUT_MS=300,
    )
    product = pooled.shop.product_ids[3]
    holder = psycopg.connect(pooled.shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (product,))
        status, body, headers, seconds = post_order(server, pooled.shop, [product])
        assert (status, body["type"]) == (409, "/problems/conflict")
        # It waited for the 0.5 s lock timeout, and no longer: without it, the order
        # would wait for the holder until the 20 s statement limit.
        assert headers["Retry-After"] and 0.4 < seconds < 5, seconds
        holder.rollback()
        holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        created = flask(
            "create-admin",
            "timeouts@example.com",
            "--password-stdin",
            env=pooled.env(),
            input=PASSWORD + "\n",
        )
        assert created.returncode == 0, created.stderr
        browser = Browser(server.url)
        browser.log_in("timeouts@example.com", PASSWORD)
        with pytest.raises(urllib.error.HTTPError) as failed:
            browser.get("/reports/daily-revenue")
        assert failed.value.code == 503
        assert "took longer than 0.3 s" in failed.value.read().decode()
    finally:
        holder.rollback()
        holder.close()
        server.stop()


def test_no_setting_outlives_its_transaction(pooled):
    # One server connection for every client: whatever one transaction set, the
    # next client's transaction would see.
    single = pooled.make_bouncer("bouncer-single", {"default_pool_size": "1"})
    url = single.url(pooled.shop.server.database)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            "DB_POOLER": "pgbouncer",
            "DB_STATEMENT_TIMEOUT_MS": 1234,
            "DB_LOCK_TIMEOUT_MS": 567,
        }
    )
    with app.app_context():
        with db.engine.connect() as conn:
            inside = conn.execute(text(SETTINGS)).one()
            # The same statement many times: never a server-side prepared statement.
            for _ in range(12):
                conn.execute(text("SELECT count(*) FROM products WHERE id = :id"), {"id": 1})
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
            conn.commit()
            # A transaction whose first statement is an executemany (psycopg pipeline).
            conn.execute(text("SELECT :x"), [{"x": 1}, {"x": 2}])
            after_executemany = conn.execute(text(SETTINGS)).one()
            conn.commit()
        report_work_mem = in_report_transaction(
            lambda conn: conn.execute(text("SHOW work_mem")).scalar()
        )[0]
    release_connections(app)
    assert inside[:4] == ("1234ms", "567ms", "1min", "1s")
    assert after_executemany[:4] == inside[:4]
    assert prepared == 0
    assert report_work_mem == app.config["REPORT_WORK_MEM"]
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as other:
        outside = other.execute(SETTINGS).fetchone()
        work_mem = other.execute("SHOW work_mem").fetchone()[0]
    assert outside[4] == inside[4], "not the same server connection"
    assert outside[:4] == ("0", "0", "0", "0")
    assert work_mem == "4MB"
    single.stop()


def test_pgbouncer_restart_under_load(pooled, tmp_path):
    server = pooled.gunicorn(
        tmp_path,
        WEB_CONCURRENCY=2,
        GUNICORN_THREADS=4,
        DB_POOL_TIMEOUT=2,
        DB_CONNECT_TIMEOUT=2,
        IDEMPOTENCY_LEASE_SECONDS=2,
    )
    clients = RetryingClients(server, pooled.shop)
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
                pooled.bouncer.stop()
                time.sleep(2)  # the outage (the point of the test): clients keep retrying
                pooled.bouncer.start()
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
        f"\nPgBouncer restart under load: {dict(statuses)}, {len(clients.placed)} orders, "
        f"slowest {clients.slowest:.2f} s, first success {clients.first_success_after_outage} s "
        f"after the restart"
    )
    assert before_outage > 0
    assert statuses[503] > 0 and clients.bad_answers == []
    assert set(statuses) <= {201, 409, 503}, statuses
    assert clients.slowest < 8
    # The app recovers by itself within seconds (a client gives up after 40 s).
    assert clients.first_success_after_outage < 10
    assert clients.unresolved == []
    clients.orders_match_the_201s()
    pooled.shop.ledger_holds()


def test_a_direct_mode_app_behind_pgbouncer_refuses_in_one_line(pooled, tmp_path):
    env = clean_env(DATABASE_URL=pooled.url, WEB_CONCURRENCY="1")
    with Gunicorn(env, tmp_path / "direct.log") as server:
        assert server.process.wait(timeout=30) != 0
    refusals = [line for line in server.log().splitlines() if "refusing to start" in line]
    assert len(refusals) == 1
    assert "unsupported startup parameter" in refusals[0]
    assert "set DB_POOLER=pgbouncer" in refusals[0]


def test_pool_plan_and_migrations_through_pgbouncer(pooled):
    plan = flask("pool-plan", "--workers", "4", "--threads", "8", env=pooled.env())
    assert plan.returncode == 0, plan.stderr
    for line in (
        "app tier    PgBouncer max_client_conn=200",
        "per_worker  = (200 - 2 jobs) // (1 x 4) = 49",
        "max_overflow= min(49 - 8, 8) = 8",
        "budget      = 20 - 3 - 0 - 5 (DB_POOL_RESERVED) = 12",
        "PgBouncer server pool 8 + reserve 2 = 10 server connections vs budget 12: fits",
        "live        PgBouncer:",
    ):
        assert line in plan.stdout, plan.stdout
    # Migrations need a session of their own: refused without a direct URL.
    env = pooled.env()
    del env["DATABASE_DIRECT_URL"]
    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 1
    errors = [line for line in upgrade.stderr.splitlines() if "Error:" in line]
    assert len(errors) == 1 and "set DATABASE_DIRECT_URL" in errors[0], upgrade.stderr
    current = flask("db", "current", env=env)
    assert current.returncode == 0 and "(head)" in current.stdout, current.stderr
    assert flask("db", "upgrade", env=pooled.env()).returncode == 0


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # The app tier cannot fit: refused, naming the numbers.
        (
            {"PGBOUNCER_MAX_CLIENT_CONN": "3", "WEB_CONCURRENCY": "4"},
            "refusing to start: 4 workers x 1 instance(s)",
        ),
        # The bouncer's server pools cannot fit the server: starts, warns.
        (
            {"PGBOUNCER_MAX_CLIENT_CONN": "100", "PGBOUNCER_POOL_SIZE": "30"},
            "PgBouncer may open 30 server connections",
        ),
        # Nothing known: starts with pool_size = max_overflow = threads, warns once.
        ({}, "the pool plan cannot be checked"),
    ],
)
def test_gunicorn_checks_both_tiers(pooled, tmp_path, settings, expected):
    env = clean_env(
        DATABASE_URL=pooled.url,
        DB_POOLER="pgbouncer",
        DATABASE_DIRECT_URL=pooled.shop.url,
        GUNICORN_THREADS="2",
        **{"WEB_CONCURRENCY": "1", **settings},
    )
    with Gunicorn(env, tmp_path / "plan.log") as server:
        if expected.startswith("refusing"):
            assert server.process.wait(timeout=30) != 0
        else:
            server.wait_ready()
    log = server.log()
    assert sum(expected in line for line in log.splitlines()) == 1, log
