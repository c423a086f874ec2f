"""The database overview as an operator reads it on a bad day: problems first and
counted at the top, durations in words, each problem linking to the row that causes
it, and a check that cannot answer in time marked unknown while the page still comes."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import psycopg
import pytest
from scratch_console import ScratchConsole
from waiting import wait_until

from app.dbconsole.durations import duration_text


@pytest.fixture
def console(make_app, make_database):
    return ScratchConsole(make_app, make_database())


def row(page: str, check: str) -> str:
    """The HTML of one check's row."""
    match = re.search(rf'<tr data-check="{check}".*?</tr>', page, re.S)
    assert match, f"no row for {check}"
    return match[0]


@pytest.fixture
def idle_session(console):
    """A session left idle inside a transaction (its pid), until the test ends."""
    conn = psycopg.connect(console.url, application_name="forgotten-shell")
    conn.execute("SELECT 1")  # opens the transaction, then nothing
    try:
        yield conn.info.backend_pid
    finally:
        conn.rollback()
        conn.close()


def wait_for_status(console, check: str, status: str) -> str:
    """The overview's page once ``check`` shows ``status``."""
    seen: dict = {}

    def shows() -> str | None:
        page = console.page()
        seen.update(console.checks(page))
        return page if seen.get(check) == status else None

    return wait_until(shows, message=lambda: f"checks: {seen}")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.85, "850 ms"),
        (0.0004, "0 ms"),
        (0.9996, "1 s"),
        (42, "42 s"),
        (60, "1 min"),
        (318, "5 min 18 s"),
        (7440, "2 h 4 min"),
        (7200, "2 h"),
        (3 * 86400 + 7 * 3600 + 59, "3 d 7 h"),
        (-5, "0 ms"),
        (timedelta(minutes=90), "1 h 30 min"),
        (None, ""),
    ],
)
def test_durations_read_in_words(seconds, text):
    assert duration_text(seconds) == text


def test_failing_checks_come_first_and_the_top_counts_them(console, idle_session):
    page = wait_for_status(console, "idle_in_transaction", "warning")
    rows = console.checks(page)
    statuses = [status for _, status in rows]
    order = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
    assert statuses == sorted(statuses, key=order.__getitem__), rows
    names = [name for name, _ in rows]
    # Connections (ok) is the first check defined; the idle session's row is above it.
    assert names.index("idle_in_transaction") < names.index("connections")
    # Within a group the checks keep their usual order (jobs warns: no jobs process).
    warnings = [name for name, status in rows if status == "warning"]
    assert warnings.index("idle_in_transaction") < warnings.index("jobs")
    counts = re.search(r'<span id="overview-counts"[^>]*>(.*?)</span>', page, re.S)[1]
    assert f"<b>{statuses.count('critical')} critical</b>" in counts
    assert f"<b>{statuses.count('warning')} warning</b>" in counts
    assert statuses.count("warning") >= 2


def test_durations_on_the_overview_are_in_words(make_app, make_database):
    console = ScratchConsole(
        make_app,
        make_database(),
        checks={"LONG_RUNNING_SECONDS": 318, "IDLE_IN_TRANSACTION_SECONDS": 7440},
        SLOW_QUERY_MS=850,
    )
    page = html.unescape(console.page())
    assert "statements running longer than 5 min 18 s" in page
    assert "idle inside a transaction longer than 2 h 4 min" in page
    assert "statements over 850 ms" in page
    assert "318 s" not in page and "7440 s" not in page


def test_a_failing_check_links_to_the_session_that_causes_it(console, idle_session):
    page = wait_for_status(console, "idle_in_transaction", "warning")
    idle = row(page, "idle_in_transaction")
    assert f'href="/admin/db/activity/#pid-{idle_session}"' in idle
    assert f">pid {idle_session}</a>" in idle
    assert re.search(r"longest \d+ s: pid", idle)  # not "longest 2.0 s" or a bare number
    # A check that is fine still leads to its page.
    assert 'href="/admin/db/schema/"' in row(page, "invalid_indexes")


def test_schema_problems_link_to_their_rows_on_the_schema_page(console):
    console.sql("CREATE TABLE twins (code int)")
    console.sql("INSERT INTO twins VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        console.sql("CREATE UNIQUE INDEX CONCURRENTLY ix_twins_code ON twins (code)")
    console.sql("ALTER TABLE products ADD CONSTRAINT ck_cheap CHECK (price_cents < 10) NOT VALID")
    console.sql("CREATE TABLE small_ids (id serial PRIMARY KEY)")
    console.sql("SELECT setval('small_ids_id_seq', 2100000000)")
    page = console.page()
    schema = console.page("/admin/db/schema/")
    for check, anchor in [
        ("invalid_indexes", "index-public.ix_twins_code"),
        ("not_valid_constraints", "constraint-public.products.ck_cheap"),
        ("sequence_headroom", "sequence-public.small_ids_id_seq"),
    ]:
        assert f'href="/admin/db/schema/#{anchor}"' in row(page, check), check
        assert f'id="{anchor}"' in schema, anchor


def test_a_check_that_times_out_is_unknown_and_the_page_still_comes(make_app, make_database):
    console = ScratchConsole(make_app, make_database(), checks={"STATEMENT_TIMEOUT_MS": 200})
    holder = psycopg.connect(console.url)
    try:
        # The rollups check reads the queue of order changes: it waits for this lock
        # until its statement timeout stops it.
        holder.execute("LOCK TABLE order_changes IN ACCESS EXCLUSIVE MODE")
        page = console.page()  # 200
    finally:
        holder.rollback()
        holder.close()
    statuses = dict(console.checks(page))
    assert statuses["rollups"] == "unknown"
    assert "not evaluated: timed out after 200 ms" in row(page, "rollups")
    # The checks around it answered as usual.
    assert statuses["xid_age"] == statuses["replication"] == "ok"
    assert dict(console.checks())["rollups"] == "ok"


def test_a_check_whose_connection_dies_is_unknown_and_the_rest_still_answer(
    make_app, make_database
):
    # A long timeout: the check waits on the lock until its session is terminated.
    console = ScratchConsole(make_app, make_database(), checks={"STATEMENT_TIMEOUT_MS": 20_000})
    holder = psycopg.connect(console.url)
    killed: list[int] = []

    def terminate_the_waiting_check() -> None:
        def waiting() -> list:
            return console.sql(
                "SELECT pid FROM pg_locks WHERE relation = 'alembic_version'::regclass"
                " AND NOT granted"
            )

        pids = wait_until(waiting, timeout=15, message="no check waited for the lock")
        killed.extend(pid for (pid,) in pids)
        for pid in killed:
            console.sql("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        # The migrations check reads alembic_version: it waits for this lock.
        holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        terminator = threading.Thread(target=terminate_the_waiting_check, daemon=True)
        terminator.start()
        response = console.client.get("/admin/db/")
        terminator.join(20)
    finally:
        holder.rollback()
        holder.close()
    assert killed, "the migrations check never waited for the lock"
    assert response.status_code == 200, response.text[:500]
    statuses = dict(console.checks(response.text))
    assert statuses["migrations"] == "unknown"
    assert "not evaluated:" in row(response.text, "migrations")
    # The checks after it ran on a new connection.
    for check in ("xid_age", "sequence_headroom", "vacuum", "replication", "rollups"):
        assert statuses[check] == "ok", (check, statuses)
