"""The database console's overview, schema health, and cancel/terminate, against a
scratch database of their own with real sessions doing real harm."""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import subprocess
import threading
import time

import flask_migrate
import psycopg
import pytest
from browser_forms import add_admin, csrf_token, log_in
from builders import add_customer, add_product
from processes import clean_env, flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from statements import counting_statements
from waiting import wait_until

from app.config import CHECK_DEFAULTS
from app.dbconsole.activity import signal_backend
from app.dbconsole.models import ConsoleAction
from app.extensions import db
from app.paths import MIGRATIONS_DIR, PROJECT_ROOT

QUICK = CHECK_DEFAULTS | {
    "LONG_RUNNING_SECONDS": 1,
    "IDLE_IN_TRANSACTION_SECONDS": 1,
    "BLOCKED_SECONDS": 1,
}


class Console:
    """A migrated scratch database, an app on it and a logged-in admin client."""

    def __init__(self, make_app, url: str, **settings) -> None:
        self.url = url
        self.app = make_app(url, DB_CHECKS=QUICK, **settings)
        with self.app.app_context():
            flask_migrate.upgrade()
            add_admin(db.session)
            db.session.remove()
        self.client = self.app.test_client()
        assert log_in(self.client).status_code == 302

    def statuses(self, page: str = "/admin/db/") -> dict[str, str]:
        response = self.client.get(page)
        assert response.status_code == 200, response.text[:500]
        return dict(re.findall(r'data-check="(\w+)" data-status="(\w+)"', response.text))

    def sql(self, statement: str, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def session(self) -> Session:
        with self.app.app_context():
            return Session(db.engine)


@pytest.fixture
def console(make_app, make_database):
    return Console(make_app, make_database())


SQL_CHECKS = {
    "connections",
    "long_running",
    "idle_in_transaction",
    "blocked",
    "invalid_indexes",
    "not_valid_constraints",
    "migrations",
    "xid_age",
    "sequence_headroom",
    "vacuum",
    "replication",
}


def test_a_healthy_database_is_ok_everywhere(console):
    statuses = console.statuses()
    assert set(statuses) >= SQL_CHECKS | {"pool_waits", "leaks", "cache_hit", "slow_queries"}
    assert {name: statuses[name] for name in SQL_CHECKS} == dict.fromkeys(SQL_CHECKS, "ok")
    home = console.client.get("/admin/").text
    assert 'id="database-health"' in home and "/admin/db/" in home


def in_thread(work):
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_sessions_that_hurt_turn_their_checks(console):
    with console.session() as session:
        product = add_product(session)
        product_id = product.id
    idle = psycopg.connect(console.url)
    holder = psycopg.connect(console.url)
    waiter = psycopg.connect(console.url)
    sleeper = psycopg.connect(console.url)

    def sleep():
        with contextlib.suppress(psycopg.errors.QueryCanceled):  # cancelled at the end
            sleeper.execute("SELECT pg_sleep(60)")

    threads = []
    try:
        idle.execute("SELECT 1")  # a transaction left open
        holder.execute("UPDATE products SET stock = stock WHERE id = %s", (product_id,))
        threads = [
            in_thread(
                lambda: waiter.execute(
                    "UPDATE products SET stock = stock WHERE id = %s", (product_id,)
                )
            ),
            in_thread(sleep),
        ]
        # Each check warns once its session has been at it for over a second.
        hurting = ("idle_in_transaction", "blocked", "long_running")
        seen = {}

        def all_three_warn() -> bool:
            seen.update(console.statuses())
            return all(seen[check] == "warning" for check in hurting)

        wait_until(all_three_warn, message=lambda: f"checks: {seen}")
        statuses = dict(seen)
        page = console.client.get("/admin/db/").text
    finally:
        holder.rollback()
        idle.rollback()
        sleeper.cancel_safe()
        for thread in threads:
            thread.join(10)
        for conn in (idle, holder, waiter, sleeper):
            conn.close()
    assert statuses["idle_in_transaction"] == "warning"
    assert statuses["blocked"] == "warning"
    assert statuses["long_running"] == "warning"
    assert "blocked by pid" in page
    assert console.statuses()["blocked"] == "ok"


def test_schema_problems_turn_their_checks_and_come_with_a_fix(console):
    console.sql("CREATE TABLE twins (code int)")
    console.sql("INSERT INTO twins VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        console.sql("CREATE UNIQUE INDEX CONCURRENTLY ix_twins_code ON twins (code)")
    console.sql(
        "ALTER TABLE products ADD CONSTRAINT ck_products_cheap CHECK (price_cents < 10) NOT VALID"
    )
    console.sql("CREATE INDEX ix_customers_name_unused ON customers (name)")
    console.sql("CREATE INDEX ix_customers_name_region ON customers (name, region)")
    console.sql("CREATE TABLE small_ids (id serial PRIMARY KEY)")
    console.sql("SELECT setval('small_ids_id_seq', 2100000000)")
    statuses = console.statuses()
    assert statuses["invalid_indexes"] == "warning"
    assert statuses["not_valid_constraints"] == "warning"
    assert statuses["sequence_headroom"] == "critical"  # 97.8 % of an int4 column

    page = console.client.get("/admin/db/schema/")
    assert page.status_code == 200
    findings = dict(
        re.findall(
            r'class="card mb-3 finding" data-kind="([\w-]+)" data-subject="([\w.]+)"', page.text
        )
    )
    assert findings.get("invalid-index") == "ix_twins_code"
    assert findings.get("not-valid-constraint") == "ck_products_cheap"
    assert findings.get("redundant-index") == "ix_customers_name_unused"  # prefix of (name, region)
    assert findings.get("sequence-headroom") == "public.small_ids_id_seq"
    assert "DROP INDEX CONCURRENTLY IF EXISTS" in page.text
    assert "VALIDATE CONSTRAINT" in page.text


def test_a_check_that_cannot_answer_is_unknown_and_the_page_still_works(make_app, make_database):
    console = Console(make_app, make_database())
    # 200 ms, not 1: at 1 ms the checks' own SAVEPOINT and RELEASE could be cancelled
    # too on a loaded machine, leaving the transaction aborted (a 500, not this test).
    console.app.config["DB_CHECKS"] = QUICK | {"STATEMENT_TIMEOUT_MS": 200}
    holder = psycopg.connect(console.url)
    try:
        # The migrations check reads alembic_version: it waits for this lock, then times
        # out (whatever else of the migrations' state the process has cached).
        holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        response = console.client.get("/admin/db/")
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 200
    statuses = dict(re.findall(r'data-check="(\w+)" data-status="(\w+)"', response.text))
    assert "unknown" in statuses.values()
    assert "not evaluated: timed out after 200 ms" in response.text


def test_a_pending_migration_is_critical(console):
    with console.app.app_context():
        flask_migrate.downgrade(revision="-1")
    assert console.statuses()["migrations"] == "critical"
    with console.app.app_context():
        flask_migrate.upgrade()
    assert console.statuses()["migrations"] == "ok"


def test_a_sequence_near_its_end_warns(console):
    console.sql("SELECT setval('products_id_seq', 8000000000000000000)")  # 86.7 % of bigint
    assert console.statuses()["sequence_headroom"] == "warning"


def confirm_and_signal(console, pid: int, action: str, *, backend_start=None):
    page = console.client.get(f"/admin/db/activity/{pid}/{action}")
    assert page.status_code == 200, page.text[:300]
    started = backend_start or re.search(r'name="backend_start" value="([^"]+)"', page.text)[1]
    return page, console.client.post(
        f"/admin/db/activity/{pid}/{action}",
        data={"csrf_token": csrf_token(page.text), "backend_start": started},
    )


def audit(console) -> list[tuple]:
    with console.session() as session:
        return [
            (a.action, a.pid, a.result, a.application_name)
            for a in session.scalars(select(ConsoleAction).order_by(ConsoleAction.id))
        ]


def test_cancel_stops_a_running_statement_long_before_it_ends(console):
    sleeper = psycopg.connect(console.url, application_name="sleepy-job")
    pid = sleeper.info.backend_pid
    outcome = {}

    def sleep():
        try:
            sleeper.execute("SELECT pg_sleep(30)")
        except psycopg.errors.QueryCanceled:
            outcome["cancelled_at"] = time.monotonic()

    thread = in_thread(sleep)
    wait_until(
        lambda: console.sql(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE pid = %s AND state = 'active' AND query LIKE '%%pg_sleep(30)%%'",
            (pid,),
        )[0][0],
        message="the statement never started",
    )
    asked = time.monotonic()
    page, response = confirm_and_signal(console, pid, "cancel")
    assert "sleepy-job" in page.text and "pg_sleep(30)" in page.text
    assert response.status_code == 302
    thread.join(15)
    sleeper.close()
    # Cancelled as the operator asked: seconds at most, not the 30 s it would have run.
    assert outcome["cancelled_at"] - asked < 10
    assert audit(console) == [("cancel", pid, "done", "sleepy-job")]
    activity = console.client.get("/admin/db/activity/").text
    assert 'id="console-actions"' in activity and "sleepy-job" in activity


def test_terminate_ends_an_idle_transaction_and_frees_its_locks(console):
    with console.session() as session:
        product_id = add_product(session).id
    idle = psycopg.connect(console.url, application_name="forgotten-tx")
    idle.execute("UPDATE products SET stock = stock WHERE id = %s", (product_id,))
    pid = idle.info.backend_pid
    _page, response = confirm_and_signal(console, pid, "terminate")
    assert response.status_code == 302
    with psycopg.connect(console.url) as other:
        other.execute("SET lock_timeout = '2s'")
        other.execute("UPDATE products SET stock = stock WHERE id = %s", (product_id,))  # free
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    idle.close()
    assert audit(console) == [("terminate", pid, "done", "forgotten-tx")]


def test_signals_are_refused_for_the_wrong_session(console, server_url):
    victim = psycopg.connect(console.url, application_name="victim")
    pid = victim.info.backend_pid
    try:
        # The pid now belongs to another session than the one the operator saw.
        _page, response = confirm_and_signal(
            console, pid, "terminate", backend_start="2000-01-01T00:00:00+00:00"
        )
        assert response.status_code == 302
        victim.execute("SELECT 1")  # still alive
        # Not this database's session.
        elsewhere = psycopg.connect(server_url, application_name="elsewhere")
        try:
            refused = console.client.get(f"/admin/db/activity/{elsewhere.info.backend_pid}/cancel")
            assert refused.status_code == 302
        finally:
            elsewhere.close()
        # The console's own session.
        with console.app.app_context():
            own = db.session.execute(
                text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            ).one()
            result, detail, _row = signal_backend(
                db.session, pid=own[0], backend_start=own[1], action="terminate"
            )
            db.session.rollback()
        assert (result, detail) == ("refused", "That is the console's own session.")
        # Without the CSRF token: refused before anything is done.
        page = console.client.get(f"/admin/db/activity/{pid}/cancel")
        started = re.search(r'name="backend_start" value="([^"]+)"', page.text)[1]
        no_csrf = console.client.post(
            f"/admin/db/activity/{pid}/cancel", data={"backend_start": started}
        )
        assert no_csrf.status_code == 400
    finally:
        victim.close()
    assert audit(console) == [("terminate", pid, "refused", "victim")]


@pytest.mark.parametrize("page", ["/admin/db/", "/admin/db/schema/", "/admin/db/activity/"])
def test_console_pages_issue_a_fixed_number_of_queries(console, page):
    console.client.get(page)  # warm: model drift is computed once per revision

    with console.app.app_context():
        engine = db.engine

    def count():
        with counting_statements(engine) as seen:
            assert console.client.get(page).status_code == 200
        return len(seen)

    few = count()
    with console.session() as session:
        for _ in range(5):
            add_customer(session)
            add_product(session)
    console.sql("CREATE INDEX ix_extra_one ON customers (region)")
    console.sql("CREATE TABLE extra_table (id bigint)")
    sessions = [psycopg.connect(console.url) for _ in range(3)]
    try:
        for conn in sessions:
            conn.execute("SELECT 1")  # three more sessions, idle in transaction
        assert count() == few
    finally:
        for conn in sessions:
            conn.close()


def test_schema_snippets_are_python_and_squawk_clean(console, tmp_path):
    console.app.config["INDEX_ADVICE_MIN_DAYS"] = 0  # a fresh server: advise on unused ones
    console.sql("CREATE TABLE twins (code int)")
    console.sql("INSERT INTO twins VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        console.sql("CREATE UNIQUE INDEX CONCURRENTLY ix_twins_code ON twins (code)")
    console.sql("ALTER TABLE products ADD CONSTRAINT ck_snip CHECK (stock >= 0) NOT VALID")
    console.sql("CREATE INDEX ix_customers_unused ON customers (created_at)")
    console.sql("CREATE TABLE small_ids (id serial PRIMARY KEY)")
    console.sql("SELECT setval('small_ids_id_seq', 2100000000)")
    console.sql("CREATE SEQUENCE tiny_seq AS integer")
    console.sql("SELECT setval('tiny_seq', 2100000000)")
    page = console.client.get("/admin/db/schema/").text
    snippets = [
        html.unescape(snippet)
        for snippet in re.findall(r'<pre class="snippet"[^>]*>(.*?)</pre>', page, re.S)
    ]
    kinds = set(re.findall(r'data-kind="([\w-]+)"', page))
    assert {"invalid-index", "not-valid-constraint", "unused-index", "sequence-headroom"} <= kinds
    # A migrations directory of their own: our env.py, one migration per snippet.
    directory = tmp_path / "migrations"
    shutil.copytree(
        MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("versions", "__pycache__")
    )
    (directory / "versions").mkdir()
    previous = None
    for number, snippet in enumerate(snippets, 1):
        compile(snippet, f"snippet {number}", "exec")  # valid Python
        revision = f"snippet{number:03d}"
        (directory / "versions" / f"{revision}.py").write_text(
            f'"""snippet {number}"""\n\nrevision = "{revision}"\ndown_revision = {previous!r}\n'
            f"branch_labels = None\ndepends_on = None\n\n{snippet}\n"
        )
        previous = revision
    rendered = flask(
        "db", "upgrade", "--sql", "-d", str(directory), env=clean_env(DATABASE_URL=console.url)
    )
    assert rendered.returncode == 0, rendered.stderr
    sql_file = tmp_path / "snippets.sql"
    sql_file.write_text(rendered.stdout)
    assert "CONCURRENTLY" in rendered.stdout and "VALIDATE CONSTRAINT" in rendered.stdout
    lint = subprocess.run(
        ["squawk", "--config", str(PROJECT_ROOT / "migrations" / "squawk.toml"), str(sql_file)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_overview_reads_the_workers_recent_pool_trouble(make_app, make_database):
    console = Console(make_app, make_database())
    from app.monitoring.pool_tracking import ACQUIRE_WAIT, TIMEOUTS

    ACQUIRE_WAIT.observe(0.2)
    TIMEOUTS.inc()
    page = console.client.get("/admin/db/").text
    assert re.search(r'data-check="pool_waits" data-status="critical"', page)
