"""A synchronous standby and a failover, on real clusters in temporary directories:
a commit returns only once the standby has flushed it; with the standby down it
waits; after the primary crashes, the promoted standby holds every acknowledged
commit and an app with the multi-host URL reaches it and writes."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import psycopg
import pytest
from processes import clean_env, flask, require_pgbouncer
from waiting import wait_until

from app.devdb.embedded import TEST_SETTINGS, EmbeddedPostgres, EmbeddedPostgresError
from app.devdb.failover import fail_over, multi_host_url
from app.devdb.pgbouncer import LocalPgBouncer
from app.devdb.replica import LocalReplica

pytestmark = [pytest.mark.replica, pytest.mark.scaleout]


def lsn(text: str) -> int:
    """A pg_lsn's text ("16/B374D848") as a number, to compare positions."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class Pair:
    """A primary with a table of acknowledged writes, and its streaming standby."""

    def __init__(self, root: Path) -> None:
        self.primary = EmbeddedPostgres(
            root / "primary", settings=TEST_SETTINGS, database="stockroom_sync"
        )
        self.primary.start()
        with psycopg.connect(self.primary.libpq_url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE acknowledged (id bigint PRIMARY KEY)")
            conn.execute("CREATE EXTENSION pg_walinspect")
        self.standby = LocalReplica(self.primary, root / "standby")
        self.standby.start()

    def on_standby(self, statement: str, params=None):
        with psycopg.connect(self.standby.libpq_url(), autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def on_primary(self, statement: str, params=None):
        with psycopg.connect(self.primary.libpq_url(), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def pair():
    root = Path(tempfile.mkdtemp(prefix="stockroom-sync-", dir="/tmp"))
    pair = Pair(root)
    yield pair
    pair.standby.stop()
    pair.primary.stop(mode="immediate")
    shutil.rmtree(root, ignore_errors=True)


def test_a_synchronous_commit_is_on_the_standby_when_it_returns(pair):
    pair.standby.set_sync(True)
    seen = pair.standby.connection()
    assert seen is not None and (seen.state, seen.sync_state) == ("streaming", "sync")
    settings = pair.standby.sync_settings()
    assert settings.synchronous and settings.fallback == "wait"
    assert settings.standby_names == "FIRST 1 (stockroom_standby)"

    commits = 50
    visible_at_once = 0
    with (
        psycopg.connect(pair.primary.libpq_url()) as primary,
        psycopg.connect(pair.standby.libpq_url(), autocommit=True) as standby,
    ):
        for number in range(1, commits + 1):
            with primary.transaction():
                row = primary.execute(
                    "SELECT pg_current_wal_insert_lsn()::text, pg_current_xact_id()::text"
                ).fetchone()
                assert row
                before, xid = row
                primary.execute("INSERT INTO acknowledged (id) VALUES (%s)", (number,))
            # The commit has returned: ask the standby first, before anything else.
            flushed = standby.execute("SELECT pg_last_wal_receive_lsn()::text").fetchone()
            visible = standby.execute(
                "SELECT count(*) FROM acknowledged WHERE id = %s", (number,)
            ).fetchone()
            assert flushed and visible
            visible_at_once += visible[0]
            # Where this transaction's commit record ends in the primary's WAL.
            with primary.transaction():
                row = primary.execute(
                    "SELECT max(end_lsn)::text FROM pg_get_wal_records_info("
                    "%s::pg_lsn, pg_current_wal_flush_lsn()) "
                    "WHERE record_type = 'COMMIT' AND xid = %s::xid",
                    (before, xid),
                ).fetchone()
            assert row and row[0], "no commit record found"
            assert lsn(flushed[0]) >= lsn(row[0]), (
                f"commit {number} returned before the standby had it on disk"
            )
    # Flushed is durable; replayed (visible to queries there) follows right after.
    wait_until(
        lambda: pair.on_standby("SELECT count(*) FROM acknowledged")[0][0] == commits,
        message="the standby did not replay the commits",
    )
    print(f"visible on the standby at once: {visible_at_once}/{commits}")


def test_with_the_standby_down_a_commit_waits_for_it(pair):
    pair.standby.set_sync(True, if_standby_down="wait")
    pair.standby.stop()
    returned = threading.Event()
    errors: list[BaseException] = []

    def commit() -> None:
        try:
            with psycopg.connect(pair.primary.libpq_url(), autocommit=True) as conn:
                conn.execute("INSERT INTO acknowledged (id) VALUES (1)")
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        returned.set()

    threading.Thread(target=commit, daemon=True).start()
    assert not returned.wait(1.0), f"the commit returned with no standby ({errors})"
    # PostgreSQL says why: the backend waits for synchronous replication.
    wait_until(
        lambda: (
            pair.on_primary("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")[
                0
            ][0]
            == 1
        ),
        message="no backend waits for the synchronous standby",
    )
    pair.standby.start()
    assert returned.wait(30), "the commit did not return once the standby was back"
    assert errors == []
    assert pair.on_standby("SELECT count(*) FROM acknowledged")[0][0] == 1

    # The fallback the app acts on is recorded on the primary, for new sessions.
    pair.standby.set_sync(True, if_standby_down="async")
    assert pair.on_primary("SELECT current_setting('stockroom.sync_fallback', true)") == [
        ("async",)
    ]
    # Asynchronous again: commits no longer wait for a stopped standby.
    pair.standby.set_sync(False)
    assert not pair.standby.sync_settings().synchronous
    assert pair.standby.sync_settings().fallback is None
    pair.standby.stop()
    pair.on_primary("INSERT INTO acknowledged (id) VALUES (2)")
    pair.standby.start()
    wait_until(
        lambda: (seen := pair.standby.connection()) and seen.sync_state == "async",
        message="the restarted standby is not streaming asynchronously",
    )


@pytest.mark.fault
def test_failover_keeps_every_acknowledged_commit_and_the_app_follows(pair):
    pair.standby.set_sync(True)
    # The app's URL lists the standby first: it still lands on the one taking writes.
    app_url = multi_host_url(pair.standby.server, pair.primary)
    with psycopg.connect(app_url, connect_timeout=5) as conn:
        assert conn.info.host == str(pair.primary.socket_dir)

    acknowledged: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with psycopg.connect(pair.primary.libpq_url(), autocommit=True) as conn:
                for number in range(1, 1_000_000):
                    conn.execute("INSERT INTO acknowledged (id) VALUES (%s)", (number,))
                    acknowledged.append(number)
        except psycopg.OperationalError as error:  # the crash ends it
            failures.append(error)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    wait_until(lambda: len(acknowledged) >= 300, timeout=30, message="the writer is stuck")
    done = fail_over(pair.standby)  # the primary is killed mid-stream
    writer.join(timeout=10)
    assert not writer.is_alive() and failures, "the writer outlived its primary"
    assert done.crashed and done.was_synchronous

    with psycopg.connect(app_url, connect_timeout=5) as conn:
        assert conn.info.host == str(pair.standby.server.socket_dir)
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        rows = {row[0] for row in conn.execute("SELECT id FROM acknowledged")}
        missing = set(acknowledged) - rows
        assert not missing, f"{len(missing)} acknowledged commits lost: {sorted(missing)[:10]}"
        conn.execute("INSERT INTO acknowledged (id) VALUES (0)")  # it takes writes
        conn.commit()
    print(f"acknowledged before the crash: {len(acknowledged)}, on the new primary: {len(rows)}")

    # The old primary is never started again as a primary by accident.
    with pytest.raises(EmbeddedPostgresError, match="failover"):
        pair.primary.start()
    assert not pair.primary.is_running()
    assert pair.standby.status().startswith("promoted: a primary now")


@pytest.mark.fault
@pytest.mark.pgbouncer
def test_the_commands_fail_over_and_repoint_pgbouncer():
    require_pgbouncer()
    env = clean_env()
    instance = Path(env["STOCKROOM_INSTANCE_PATH"])
    primary = EmbeddedPostgres(instance / "postgres")
    standby = LocalReplica(primary, instance / "replica")
    bouncer = LocalPgBouncer(
        instance / "pgbouncer", server_socket_dir=primary.socket_dir, os_user=primary.os_user
    )
    try:
        started = flask(
            "devdb", "replica", "start", "--sync", "--if-standby-down", "async", env=env
        )
        assert started.returncode == 0, started.stderr
        assert "synchronous (synchronous_standby_names = 'FIRST 1 (stockroom_standby)'" in (
            started.stdout
        )
        assert "if the standby is down: async" in started.stdout
        assert "target_session_attrs=read-write" in started.stdout
        status = flask("devdb", "replica", "status", env=env)
        assert "sync_state sync" in status.stdout, status.stdout
        assert flask("devdb", "pgbouncer", "start", env=env).returncode == 0
        through_bouncer = bouncer.url(primary.database)
        with psycopg.connect(through_bouncer, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int)")
            conn.execute("INSERT INTO kept VALUES (1)")

        failed_over = flask("devdb", "failover", env=env)
        assert failed_over.returncode == 0, failed_over.stderr
        assert "every acknowledged commit is on the new primary" in failed_over.stdout
        assert "PgBouncer re-pointed at the new primary" in failed_over.stdout
        assert multi_host_url(primary, standby.server) in failed_over.stdout

        # Clients of the bouncer reach the new primary, with the data, and write.
        with psycopg.connect(through_bouncer, autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            assert conn.execute("SHOW data_directory").fetchone() == (str(standby.pgdata),)
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
            conn.execute("INSERT INTO kept VALUES (2)")
        refused = flask("devdb", "start", env=env)
        assert refused.returncode != 0
        assert "was the primary until a failover" in refused.stderr
        promoted = flask("devdb", "replica", "status", env=env)
        assert "promoted: a primary now" in promoted.stdout
    finally:
        bouncer.stop()
        standby.stop()
        primary.stop(mode="immediate")
        shutil.rmtree(instance, ignore_errors=True)
