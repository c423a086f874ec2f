"""The synchronous standby's fallback (``--if-standby-down async``), watched by the
jobs process: with the standby down, commits wait until the watcher gives up on it,
then go through; when it streams again, commits wait for it again. With ``wait``
they keep waiting."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from builders import release_connections
from standby_pair import Pair
from waiting import wait_until

from app import create_app
from app.config import sqlalchemy_url
from app.jobs.sync_fallback import SyncFallbackWatcher

pytestmark = [pytest.mark.replica, pytest.mark.scaleout]


@pytest.fixture
def degradable():
    root = Path(tempfile.mkdtemp(prefix="stockroom-fallback-", dir="/tmp"))
    pair = Pair(root, "stockroom_fallback", if_standby_down="async")
    yield pair
    pair.close()


def commit_in_thread(url: str) -> tuple[threading.Thread, list[float]]:
    """One INSERT committed on ``url`` in a thread; when it returned (appended)."""
    done: list[float] = []

    def write() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS fallback_probe (at timestamptz)")
            conn.execute("INSERT INTO fallback_probe VALUES (now())")
        done.append(time.monotonic())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, done


def watching(url: str, *, grace: int, every_ms: int):
    """An app on ``url`` and its fallback watcher, started: (app, watcher)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            "SECRET_KEY": "fallback",
            "TESTING": True,
            "SYNC_FALLBACK_SECONDS": grace,
            "SYNC_WATCH_MS": every_ms,
        }
    )
    watcher = SyncFallbackWatcher(app)
    watcher.start()
    return app, watcher


def setting(url: str, name: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]


def test_commits_stop_waiting_after_the_grace_and_wait_again_once_the_standby_streams(
    degradable,
):
    primary = degradable.shop.url
    app, watcher = watching(primary, grace=2, every_ms=200)
    try:
        names = setting(primary, "synchronous_standby_names")
        assert names  # FIRST 1 (stockroom_standby)
        degradable.standby.stop()
        stopped_at = time.monotonic()
        thread, done = commit_in_thread(primary)
        # It waits for the standby first (within the grace) ...
        time.sleep(1)
        assert done == [], "the commit did not wait for the synchronous standby"
        # ... then the watcher empties the standby names and the commit goes through.
        thread.join(timeout=20)
        assert done, "the commit still waits after the grace"
        assert 2 <= done[0] - stopped_at < 15, done[0] - stopped_at
        assert setting(primary, "synchronous_standby_names") == ""
        # Degraded: later commits do not wait.
        quick, quick_done = commit_in_thread(primary)
        quick.join(timeout=5)
        assert quick_done
        # The standby comes back and streams: commits wait for it again.
        degradable.standby.start()
        wait_until(
            lambda: setting(primary, "synchronous_standby_names") == names,
            timeout=30,
            message="the standby names were not restored",
        )
    finally:
        watcher.stop()
        release_connections(app)


def test_with_wait_the_watcher_leaves_commits_waiting(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="stockroom-fallback-wait-", dir="/tmp"))
    pair = Pair(root, "stockroom_fallback_wait", if_standby_down="wait")
    app, watcher = watching(pair.shop.url, grace=0, every_ms=100)
    try:
        pair.standby.stop()
        thread, done = commit_in_thread(pair.shop.url)
        time.sleep(2)  # ten looks of the watcher, none of which may give up
        assert done == []
        assert setting(pair.shop.url, "synchronous_standby_names") != ""
        pair.standby.start()
        thread.join(timeout=20)
        assert done, "the commit never returned once the standby was back"
    finally:
        watcher.stop()
        release_connections(app)
        pair.close()
