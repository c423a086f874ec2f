"""Reports on a real streaming replica (pg_basebackup -R from the embedded wheel):
they run there and say how far behind it is; a stopped or lagging replica sends
them to the primary, saying so; a replica lost mid-report is a clear 503."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from browser_forms import add_admin, log_in
from builders import release_connections
from shop import Shop
from waiting import wait_until

from app import create_app
from app.config import sqlalchemy_url
from app.devdb.replica import LocalReplica
from app.extensions import db

pytestmark = [pytest.mark.replica, pytest.mark.scaleout]
TOP_CUSTOMERS_CALLS = (
    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%customer_totals AS%'"
)


class Replicated:
    """A primary with a customer, products and an order, and a streaming replica."""

    def __init__(self, root: Path) -> None:
        self.shop = Shop(root, database="stockroom_replicated")
        self.shop.sql(
            "INSERT INTO orders (customer_id, total_cents, item_count) VALUES (%s, 100, 1)",
            (self.shop.customer_id,),
        )
        self.replica = LocalReplica(self.shop.server, root / "replica")
        self.replica.start()

    def on_replica(self, statement: str, params=None):
        with psycopg.connect(self.replica.libpq_url(), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def wait_until_streaming(self, timeout: float = 10) -> None:
        """Until the restarted replica's WAL receiver streams again."""
        wait_until(
            lambda: self.on_replica(
                "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'"
            )[0][0],
            timeout=timeout,
            message="the replica did not start streaming",
        )

    def wait_until_replayed(self, timeout: float = 10) -> None:
        """Until the replica has replayed everything the primary has written."""
        target = self.shop.sql("SELECT pg_current_wal_lsn()::text")[0][0]
        replayed = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
        wait_until(
            lambda: self.on_replica(replayed, (target,))[0][0],
            timeout=timeout,
            message="the replica did not catch up",
        )


@pytest.fixture(scope="module")
def replicated():
    root = Path(tempfile.mkdtemp(prefix="stockroom-replica-", dir="/tmp"))
    replicated = Replicated(root)
    yield replicated
    replicated.replica.stop()
    replicated.shop.server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def reports(replicated):
    """A logged-in client of an app whose reports use the replica (max lag 1 s)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "replica",
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(replicated.shop.url),
            "REPORTS_DATABASE_URL": replicated.replica.libpq_url(),
            "REPORTS_MAX_LAG_SECONDS": 1,
            "REPORTS_REPLICA_RETRY_SECONDS": 1,
        }
    )
    email = f"replica{time.monotonic_ns()}@example.com"
    with app.app_context():
        add_admin(db.session, email=email)
        db.session.remove()
    client = app.test_client()
    assert log_in(client, email=email).status_code == 302
    yield client
    release_connections(app)


def source(page) -> tuple[str, str]:
    """(database, description) from a report page's footer."""
    match = re.search(r'id="report-source" data-database="(\w+)"[^>]*>([^<]*)<', page.text)
    assert match, page.text[-2000:]
    return match.group(1), match.group(2)


def test_reports_run_on_the_replica_and_show_its_lag(replicated, reports):
    replicated.wait_until_replayed()
    before = replicated.on_replica(TOP_CUSTOMERS_CALLS)[0][0]
    page = reports.get("/reports/top-customers")
    assert page.status_code == 200
    database, description = source(page)
    # Caught up and streaming: no lag, and it says so.
    assert (database, description) == ("replica", "ran on the replica (no lag)")
    assert "1 row" in page.text  # the primary's order, replicated
    # The statement ran on the replica's side.
    assert replicated.on_replica(TOP_CUSTOMERS_CALLS)[0][0] == before + 1
    # The primary's view of it, on the pool page.
    pool = reports.get("/admin/db/pool/")
    assert 'id="replication"' in pool.text and "streaming" in pool.text


def test_a_stopped_replica_sends_reports_to_the_primary(replicated, reports):
    replicated.replica.stop()
    try:
        page = reports.get("/reports/top-customers")
        assert page.status_code == 200
        database, description = source(page)
        assert database == "primary"
        assert description.startswith("ran on the primary: the replica cannot be reached")
        assert 'id="replica-fallback"' in page.text
        metrics = reports.get("/metrics").text
        fallbacks = r'stockroom_reports_replica_fallbacks_total\{[^}]*reason="unreachable"'
        assert re.search(fallbacks, metrics)
    finally:
        replicated.replica.start()
    replicated.wait_until_streaming()
    # Back on the replica once REPORTS_REPLICA_RETRY_SECONDS (1 s) have passed.
    wait_until(
        lambda: source(reports.get("/reports/top-customers"))[0] == "replica",
        interval=0.2,
        message="reports did not go back to the replica",
    )


def test_a_lagging_replica_sends_reports_to_the_primary_until_it_catches_up(replicated, reports):
    replicated.on_replica("SELECT pg_wal_replay_pause()")
    try:

        def skipped_for_lag() -> str | None:
            """A write the replica receives but does not replay, then a report: where
            it ran, if on the primary."""
            replicated.shop.sql(
                "UPDATE products SET updated_at = now() WHERE id = %s",
                (replicated.shop.product_ids[0],),
            )
            database, description = source(reports.get("/reports/daily-revenue"))
            return description if database == "primary" else None

        fallback = wait_until(
            skipped_for_lag,
            timeout=15,
            interval=0.3,
            message="the paused replica was never skipped",
        )
        assert "s behind (more than REPORTS_MAX_LAG_SECONDS=1)" in fallback
    finally:
        replicated.on_replica("SELECT pg_wal_replay_resume()")
    replicated.wait_until_replayed()
    assert source(reports.get("/reports/daily-revenue"))[0] == "replica"


def test_a_replica_lost_during_a_report_is_a_503_not_a_500(replicated, reports):
    replicated.wait_until_replayed()
    # An ACCESS EXCLUSIVE lock on the primary is replayed on the replica: reports
    # reading orders there wait for it.
    holder = psycopg.connect(replicated.shop.url)
    holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
    holder.execute("SELECT pg_switch_wal()")  # ship the lock record now
    result = {}
    try:
        thread = threading.Thread(
            target=lambda: result.setdefault("page", reports.get("/reports/top-customers"))
        )
        thread.start()
        wait_until(
            lambda: replicated.on_replica(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            )[0][0],
            message="the report never waited on the replica",
        )
        replicated.replica.stop()
        thread.join(15)
    finally:
        holder.rollback()
        holder.close()
        replicated.replica.start()
    page = result["page"]
    assert page.status_code == 503
    assert page.headers["Retry-After"]
    assert "went away while this report ran" in page.text
