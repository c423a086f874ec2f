"""The activity page on a bad day: a chain of four real sessions blocked on one
customers row, the root blocker found and first, row-lock waits described as row
locks, cancel only where it does something, and a warning before terminating one
of the app's own pooled connections."""

from __future__ import annotations

import contextlib
import html
import re
import threading
from types import SimpleNamespace

import flask_migrate
import psycopg
import pytest
from browser_forms import add_admin, csrf_token, log_in
from builders import add_customer
from lock_chain import LockChain
from sqlalchemy import select
from waiting import wait_until

from app.dbconsole.activity import blocking_tree, own_connection
from app.dbconsole.durations import duration_text
from app.dbconsole.models import ConsoleAction
from app.extensions import db


class Console:
    """A migrated scratch database, an app on it and a logged-in admin client."""

    def __init__(self, make_app, url: str) -> None:
        self.url = url
        self.app = make_app(url)
        with self.app.app_context():
            flask_migrate.upgrade()
            add_admin(db.session)
            self.customer_id = add_customer(db.session).id
            db.session.remove()
        self.client = self.app.test_client()
        assert log_in(self.client).status_code == 302

    def page(self) -> str:
        response = self.client.get("/admin/db/activity/")
        assert response.status_code == 200, response.text[:500]
        return response.text

    def audit(self) -> list[tuple]:
        with self.app.app_context():
            rows = db.session.scalars(select(ConsoleAction).order_by(ConsoleAction.id)).all()
            found = [(a.action, a.pid, a.result, a.detail) for a in rows]
            db.session.remove()
        return found

    def signal(self, pid: int, action: str):
        page = self.client.get(f"/admin/db/activity/{pid}/{action}")
        assert page.status_code == 200, page.text[:300]
        started = re.search(r'name="backend_start" value="([^"]+)"', page.text)[1]
        return page, self.client.post(
            f"/admin/db/activity/{pid}/{action}",
            data={"csrf_token": csrf_token(page.text), "backend_start": started},
        )


@pytest.fixture
def console(make_app, make_database):
    return Console(make_app, make_database())


@pytest.fixture
def chain(console):
    chain = LockChain(console.url, console.customer_id)
    try:
        yield chain
    finally:
        chain.release()


def blocker_rows(page: str) -> list[dict]:
    """The rows of the blocking tree, top to bottom: pid, depth, root, its html."""
    table = page.split('id="blockers"')[1].split("</table>")[0]
    rows = []
    for row in re.findall(r"<tr class=\"(?:root-blocker|blocked).*?</tr>", table, re.S):
        rows.append(
            {
                "pid": int(re.search(r'data-pid="(\d+)"', row)[1]),
                "depth": int(re.search(r'data-depth="(\d+)"', row)[1]),
                "root": "data-root" in row,
                "html": html.unescape(row),
            }
        )
    return rows


def test_a_chain_of_four_shows_its_root_blocker_first(console, chain):
    a, b, c, d = chain.pids
    assert chain.blocked_by(b) == [a]  # the chain really is a chain
    page = console.page()
    rows = blocker_rows(page)
    assert rows[0]["pid"] == a
    assert sorted(row["pid"] for row in rows) == sorted(chain.pids)  # each once
    root = rows[0]
    assert root["root"] and [row["root"] for row in rows[1:]] == [False] * 3
    assert "root blocker" in root["html"]
    assert "blocks 3 sessions in total" in root["html"]
    assert "idle in transaction" in root["html"]
    assert "chain-root" in root["html"]
    # Its way out is one click from the row; cancel is not offered (it runs nothing).
    assert f'href="/admin/db/activity/{a}/terminate"' in root["html"]
    assert f"/admin/db/activity/{a}/cancel" not in root["html"]
    depth = {row["pid"]: row["depth"] for row in rows}
    assert depth[b] == 1 and depth[c] >= 2 and depth[d] >= 2
    # The waiters run their UPDATE: they may be cancelled.
    for row in rows[1:]:
        assert f"/admin/db/activity/{row['pid']}/cancel" in row["html"]


def test_a_row_lock_wait_reads_as_a_row_lock(console, chain):
    a, b, c, _d = chain.pids
    page = console.page()
    rows = {row["pid"]: row["html"] for row in blocker_rows(page)}
    assert f"waits for a row lock held by pid {a}'s transaction (row in customers)" in rows[b]
    assert "waits for a row lock on a row in customers" in rows[c]
    assert "Lock: transactionid" in rows[b] and "Lock: tuple" in rows[c]
    waits = html.unescape(page.split('id="lock-waits"')[1].split("</table>")[0])
    assert f"row lock held by pid {a}'s transaction (row in customers)" in waits
    # Not read as a table lock (the report: "AccessExclusiveLock on customers").
    assert "table lock" not in page and "Lock on customers" not in page


def test_a_table_lock_wait_reads_as_a_table_lock(console):
    holder = psycopg.connect(console.url, application_name="table-locker")
    waiter = psycopg.connect(console.url, autocommit=True, application_name="table-waiter")
    waiter.execute("SET lock_timeout = '30s'")
    holder_pid = holder.info.backend_pid
    holder.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")

    def read():
        with contextlib.suppress(psycopg.Error):
            waiter.execute("SELECT count(*) FROM customers")

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        with psycopg.connect(console.url, autocommit=True) as observer:
            wait_until(
                lambda: observer.execute(
                    "SELECT cardinality(pg_blocking_pids(%s)) > 0", (waiter.info.backend_pid,)
                ).fetchone()[0],
                message="the reader never waited for the table",
            )
        page = console.page()
    finally:
        holder.rollback()
        thread.join(10)
        holder.close()
        waiter.close()
    waits = page.split('id="lock-waits"')[1].split("</table>")[0]
    assert f"waits for a table lock: AccessShareLock on customers held by pid {holder_pid}" in waits
    assert "Lock: relation" in waits


def test_cancel_is_refused_for_a_session_that_runs_nothing(console, chain):
    root = chain.pids[0]
    page, response = console.signal(root, "cancel")
    # The confirm page says why and offers terminate instead; its button is disabled.
    assert 'id="nothing-to-cancel"' in page.text
    assert "there is no running query to cancel" in page.text
    assert f'href="/admin/db/activity/{root}/terminate"' in page.text
    assert re.search(r'<button type="submit" class="btn btn-danger" disabled>', page.text)
    # A POST anyway (an old tab, a crafted form) is refused, flashed and audited.
    assert response.status_code == 302
    flashed = console.page()
    assert "no running query to cancel" in flashed
    assert chain.blocked_by(chain.pids[1]) == [root]  # nothing changed
    [(action, pid, result, detail)] = console.audit()
    assert (action, pid, result) == ("cancel", root, "refused")
    assert "idle in transaction" in detail


def test_terminating_the_root_blocker_frees_the_whole_chain(console, chain):
    root = chain.pids[0]
    _page, response = console.signal(root, "terminate")
    assert response.status_code == 302
    # The rest get the row in turn and end their transactions (LockChain._wait).
    for thread in chain.threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in chain.threads)
    wait_until(lambda: root not in chain.alive(), message="the root blocker is still there")
    assert 'id="blockers"' not in console.page()
    assert "No session is waiting for a lock." in console.page()
    assert [row[:3] for row in console.audit()] == [("terminate", root, "done")]


def test_terminating_one_of_the_apps_own_connections_warns_first(console):
    pooled = psycopg.connect(console.url, application_name="stockroom:web:shop-1:4242")
    stranger = psycopg.connect(console.url, application_name="psql")
    try:
        page, response = console.signal(pooled.info.backend_pid, "terminate")
        warning = html.unescape(page.text.split('id="own-connection"')[1].split("</div>")[0])
        assert "one of Stockroom's own pooled connections" in warning
        assert "worker pid 4242" in warning
        assert "in-flight request will fail and the pool will reconnect" in warning
        # Still allowed once confirmed.
        assert response.status_code == 302
        wait_until(
            lambda: pooled.closed or _gone(console, pooled.info.backend_pid),
            message="the pooled connection survived its termination",
        )
        other = console.client.get(f"/admin/db/activity/{stranger.info.backend_pid}/terminate")
        assert 'id="own-connection"' not in other.text
    finally:
        pooled.close()
        stranger.close()


def _gone(console, pid: int) -> bool:
    with psycopg.connect(console.url, autocommit=True) as observer:
        return not observer.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchall()


def test_durations_read_as_durations():
    assert duration_text(318) == "5 min 18 s"
    assert duration_text(4.25) == "4 s"
    assert duration_text(42.9) == "42 s"
    assert duration_text(7500) == "2 h 5 min"
    assert duration_text(97200) == "1 d 3 h"
    assert duration_text(None) == ""


def test_own_connections_are_recognised_by_name():
    own = own_connection("stockroom:jobs:shop-1:77")
    assert (own.role, own.instance, own.process_pid) == ("jobs", "shop-1", 77)
    assert own_connection("psql") is None and own_connection(None) is None


def _session(pid, blocked_by=(), seconds=1.0):
    return SimpleNamespace(pid=pid, blocked_by=list(blocked_by), transaction_seconds=seconds)


def test_the_tree_puts_the_biggest_root_first_and_survives_a_cycle():
    sessions = [
        _session(1),
        _session(2, [1]),
        _session(3, [2]),
        _session(4, [2, 3]),
        _session(10),
        _session(11, [10]),
        _session(20, [21]),  # 20 and 21 wait for each other
        _session(21, [20]),
        _session(30, [999]),  # blocked by a session outside this database
    ]
    rows = blocking_tree(sessions, [])
    roots = [(row.pid, row.blocks_total, row.cycle) for row in rows if row.root]
    assert roots[0] == (1, 3, False)
    assert set(roots[1:]) == {(10, 1, False), (20, 1, True), (999, 1, False)}
    assert [row.pid for row in rows[:4]] == [1, 2, 3, 4]
    assert [row.depth for row in rows[:4]] == [0, 1, 2, 2]
    assert sorted(row.pid for row in rows) == [1, 2, 3, 4, 10, 11, 20, 21, 30, 999]


@pytest.mark.parametrize("pid", [0, 2147483647, 99999999999, 10**30])
def test_a_pid_that_names_no_session_is_a_flash_not_a_500(console, pid):
    page = console.client.get(f"/admin/db/activity/{pid}/terminate")
    assert page.status_code == 302
    form = console.client.get("/admin/db/activity/").text
    posted = console.client.post(
        f"/admin/db/activity/{pid}/cancel",
        data={"csrf_token": csrf_token(form), "backend_start": "2026-01-01T00:00:00+00:00"},
    )
    assert posted.status_code == 302
    flashed = console.page()
    assert f"No session has pid {pid}." in flashed or "No such session any more." in flashed
