"""The app and its console with a real primary and a real streaming standby
(pg_basebackup -R from the embedded wheel), reached through a multi-host
DATABASE_URL with target_session_attrs=read-write.

The pool page's Servers section shows the primary and the standby (role, timeline,
sync state); the overview warns when the synchronous standby stops (commits wait
for it) and when an expected standby is gone; after the primary is lost and the
standby promoted, the app writes to the new primary without a restart, the request
that found the old one gone answering 503 with Retry-After."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from browser_forms import add_admin, log_in
from builders import release_connections
from processes import clean_env, flask
from psycopg import sql
from shop import Shop
from waiting import wait_until

from app import create_app
from app.config import sqlalchemy_url
from app.devdb.replica import LocalReplica
from app.extensions import db

pytestmark = [pytest.mark.replica, pytest.mark.scaleout]
CHECK_ROW = re.compile(r'<tr data-check="(\w+)" data-status="(\w+)"')
SERVER_ROW = re.compile(r'<tr data-server="([^"]*)" data-role="(\w+)" data-timeline="(\d*)"')


class Pair:
    """A shop's primary and its streaming standby, and the multi-host URL of both."""

    def __init__(self, root: Path, database: str) -> None:
        self.shop = Shop(root, database=database)
        self.standby = LocalReplica(self.shop.server, root / "standby")
        self.standby.start()
        hosts = f"{self.shop.server.socket_dir},{self.standby.server.socket_dir}"
        # No port list: the default port for both (libpq's empty entries).
        self.url = f"postgresql://postgres@/{database}?host={hosts}&target_session_attrs=read-write"

    def on_standby(self, statement: str, params=None):
        with psycopg.connect(self.standby.libpq_url(), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def streaming_name(self) -> str:
        """The standby's application_name, once it streams."""
        rows = wait_until(
            lambda: self.shop.sql(
                "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"
            ),
            timeout=20,
            message="the standby never streamed",
        )
        return rows[0][0]

    def set_synchronous(self, names: str | None, commit: str = "on") -> None:
        """Set the primary's synchronous_standby_names and synchronous_commit (the
        test servers run with it off), or reset both (``names`` None)."""
        if names:
            for setting, value in (
                ("synchronous_standby_names", names),
                ("synchronous_commit", commit),
            ):
                self.shop.sql(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(setting), sql.Literal(value)
                    )
                )
        else:
            self.shop.sql("ALTER SYSTEM RESET synchronous_standby_names")
            self.shop.sql("ALTER SYSTEM RESET synchronous_commit")
        self.shop.sql("SELECT pg_reload_conf()")

    def stop(self) -> None:
        self.standby.stop()
        self.shop.server.stop()


def console(url: str, **settings):
    """An app on ``url`` with a logged-in admin client."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "servers",
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            # A commit waiting for a synchronous standby that is gone gives up soon
            # (committed locally, with a warning): the console stays usable.
            "DB_STATEMENT_TIMEOUT_MS": 1000,
            **settings,
        }
    )
    email = f"servers{time.monotonic_ns()}@example.com"
    with app.app_context():
        add_admin(db.session, email=email)
        db.session.remove()
    client = app.test_client()
    assert log_in(client, email=email).status_code == 302
    return app, client


def checks(client) -> dict[str, str]:
    page = client.get("/admin/db/")
    assert page.status_code == 200, page.text[:500]
    return dict(CHECK_ROW.findall(page.text)), page.text


def servers(client) -> tuple[list[tuple[str, str, str]], str]:
    page = client.get("/admin/db/pool/")
    assert page.status_code == 200, page.text[:500]
    return SERVER_ROW.findall(page.text), page.text


@pytest.fixture(scope="module")
def pair():
    root = Path(tempfile.mkdtemp(prefix="stockroom-servers-", dir="/tmp"))
    pair = Pair(root, "stockroom_servers")
    yield pair
    pair.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def app_client(pair):
    app, client = console(pair.url)
    yield client
    release_connections(app)


def test_flask_commands_work_with_a_multi_host_url(pair):
    plan = flask("pool-plan", "--json", env=clean_env(DATABASE_URL=pair.url))
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["server_max_connections"] > 0


def test_the_pool_page_shows_the_primary_and_the_synchronous_standby(pair, app_client):
    name = pair.streaming_name()
    pair.set_synchronous(f"FIRST 1 ({name})")
    try:
        wait_until(
            lambda: pair.shop.sql("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'"),
            message="the standby never became synchronous",
        )
        rows, page = servers(app_client)
        primary_dir, standby_dir = (
            str(pair.shop.server.socket_dir),
            str(pair.standby.server.socket_dir),
        )
        assert (primary_dir, "primary", "1") in rows, rows
        assert (standby_dir, "standby", "1") in rows, rows
        assert "the app writes here" in page
        assert f'data-standby="{name}" data-sync-state="sync"' in page
        assert "(in synchronous_standby_names)" in page
        assert 'id="sync-standby-gone"' not in page
        assert checks(app_client)[0]["replication"] == "ok"
    finally:
        pair.set_synchronous(None)


def test_the_overview_warns_when_the_standby_stops(pair, app_client):
    name = pair.streaming_name()
    pair.set_synchronous(f"FIRST 1 ({name})")
    pair.standby.stop()
    try:
        statuses, page = checks(app_client)
        assert statuses["replication"] == "critical"
        assert "the synchronous standby is gone: commits wait for it" in page
        rows, page = servers(app_client)
        assert (str(pair.standby.server.socket_dir), "unreachable", "") in rows, rows
        assert 'id="sync-standby-gone"' in page
        # Commits that do not wait for the standby: running without one.
        pair.set_synchronous(f"FIRST 1 ({name})", commit="local")
        statuses, page = checks(app_client)
        assert statuses["replication"] == "warning"
        assert "running without a synchronous standby" in page
        # Asynchronous now: no commit waits, but a host of DATABASE_URL has no standby.
        pair.set_synchronous(None)
        statuses, page = checks(app_client)
        assert statuses["replication"] == "warning"
        assert "an expected standby is gone" in page
    finally:
        pair.set_synchronous(None)
        pair.standby.start()
    pair.streaming_name()
    assert checks(app_client)[0]["replication"] == "ok"


@pytest.fixture
def lost():
    """A pair of its own: its primary is lost in the test."""
    root = Path(tempfile.mkdtemp(prefix="stockroom-failover-", dir="/tmp"))
    pair = Pair(root, "stockroom_failover")
    yield pair
    pair.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_the_app_follows_the_promoted_standby_without_a_restart(lost):
    shop = lost.shop
    # Pooled connections are never pinged: the first request after the loss meets one.
    app, client = console(lost.url, DB_PING_IDLE_MS=600_000, GUNICORN_THREADS=2)
    headers = {"Authorization": f"Bearer {shop.token}", "Content-Type": "application/json"}
    body = json.dumps(
        {
            "customer_id": shop.customer_id,
            "lines": [{"product_id": shop.product_ids[0], "quantity": 1}],
        }
    )
    try:
        assert client.post("/api/orders", data=body, headers=headers).status_code == 201
        lost.streaming_name()
        wait_until(
            lambda: lost.on_standby("SELECT count(*) FROM orders")[0][0] == 1,
            message="the order never reached the standby",
        )

        shop.server.stop()  # the primary is lost (its sessions end with 57P01)
        assert lost.on_standby("SELECT pg_promote(true, 30)")[0][0]

        first = client.post("/api/orders", data=body, headers=headers)
        assert first.status_code == 503, first.text
        assert first.headers["Retry-After"]
        assert first.content_type == "application/problem+json"
        # The pool was dropped whole: the next request reaches the new primary.
        second = client.post("/api/orders", data=body, headers=headers)
        assert second.status_code == 201, second.text
        rows, _page = servers(client)
        standby_dir = str(lost.standby.server.socket_dir)
        assert (standby_dir, "primary", "2") in rows, rows
        assert (str(shop.server.socket_dir), "unreachable", "") in rows, rows
        # Both acknowledged orders, and only those, are on the new primary.
        assert lost.on_standby("SELECT count(*) FROM orders")[0][0] == 2
    finally:
        release_connections(app)
