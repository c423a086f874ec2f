"""Fixtures: a real PostgreSQL for the whole session, the schema built by the
migrations, and per-test isolation.

- ``TEST_DATABASE_URL`` set: tests use that database (it must be disposable).
- otherwise: a throwaway embedded cluster under the system temp dir, started once
  per session and deleted afterwards. The development database is never touched.

Most tests use ``app``/``client``/``session``: everything they do runs inside an
outer transaction that is rolled back at the end; code that commits only releases
a savepoint. Tests that need committed rows visible to other connections (threads,
subprocesses) use ``committed``, which empties the tables afterwards.

Every test under tests/system/, and any test elsewhere with a process marker, is
also marked ``slow``: ``pytest -m "not slow"`` is the quick edit loop.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import flask_migrate
import psycopg
import pytest
from api_client import ApiClient
from browser_forms import add_admin, log_in
from builders import bearer, release_connections
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from app.config import libpq_url, sqlalchemy_url
from app.devdb.embedded import TEST_SETTINGS, EmbeddedPostgres
from app.extensions import db

SYSTEM_TESTS = Path(__file__).parent / "system"
# Markers of tests that start real processes (declared in pyproject.toml).
PROCESS_MARKERS = {"gunicorn", "browser", "fault", "scaleout", "pgbouncer", "replica", "contract"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(config, items):
    """Mark every system test, and every test that starts real processes, ``slow``."""
    for item in items:
        markers = {marker.name for marker in item.iter_markers()}
        if item.path.is_relative_to(SYSTEM_TESTS) or markers & PROCESS_MARKERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def server_url():
    """libpq URL of the test database (``TEST_DATABASE_URL`` or a throwaway cluster)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)
        return
    # Not under /root: the server runs as its own OS user and must reach the dir.
    root = Path(tempfile.mkdtemp(prefix="stockroom-test-", dir="/tmp"))
    server = EmbeddedPostgres(root / "pg", settings=TEST_SETTINGS, database="stockroom_test")
    server.start()
    try:
        yield server.libpq_url()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def make_database(server_url):
    """Create empty scratch databases on the test server; dropped at session end."""
    created = []

    def make() -> str:
        name = f"stockroom_scratch_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return libpq_url(server_url, database=name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def app_config(url: str, **overrides) -> dict:
    """Test settings for :func:`create_app`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
        "APP_ROLE": "test",
        # Any request running one statement 10+ times fails its test.
        "N_PLUS_ONE_RAISE": True,
        **overrides,
    }


@pytest.fixture(scope="session")
def base_app(server_url):
    """One app for the session, its database migrated to head by the migrations."""
    app = create_app(app_config(server_url))
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    release_connections(app)


@pytest.fixture
def make_app(server_url):
    """Build extra apps with their own settings (engines disposed after the test)."""
    apps = []

    def make(url: str | None = None, **overrides):
        app = create_app(app_config(url or server_url, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        release_connections(app)


@pytest.fixture
def connection(base_app):
    """One connection with an outer transaction, rolled back after the test."""
    with base_app.app_context():
        conn = db.engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def app(base_app, connection):
    """The app; every request's ``db.session`` joins the test's transaction.

    Each request still gets its own app context (and so its own ``g`` and
    session), as in production; the sessions are plain SQLAlchemy sessions bound
    to the test connection, where a commit only releases a savepoint.
    """
    registry = db.session.registry
    original = registry.createfunc
    registry.createfunc = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield base_app
    finally:
        registry.createfunc = original


@pytest.fixture
def engine(base_app):
    """The app's engine (for event listeners), without holding an app context."""
    with base_app.app_context():
        return db.engine


@pytest.fixture
def session(app, connection):
    """The test's own session, in the same transaction as the requests it makes.

    Requests run in their own sessions: after one, ``refresh`` or ``expire_all``
    before reading objects loaded earlier.
    """
    test_session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield test_session
    finally:
        test_session.close()


@pytest.fixture
def client(app):
    """A test client; requests share the test's transaction."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for ``flask`` commands."""
    return app.test_cli_runner()


@pytest.fixture
def api(app, client, session):
    """A client for /api with a fresh token; every response is checked against the spec."""
    return ApiClient(app, client, headers=bearer(session))


class Committed:
    """Real, committed rows on separate connections, for concurrency tests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(sqlalchemy_url(url), pool_size=20, max_overflow=0)
        self.sessions = sessionmaker(self.engine)

    def connect(self):
        """A new connection from this fixture's own pool."""
        return self.engine.connect()

    def truncate(self) -> None:
        """Empty every application table."""
        # Table names come from our own metadata, not from input.
        # The customer sales windows are kept (their rows are the migration's); they
        # start tomorrow again, empty, as the migration leaves them.
        tables = ", ".join(
            f'"{table.name}"'
            for table in db.metadata.sorted_tables
            if table.name != "customer_sales_windows"
        )
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # The rollups' one row of state, as the migration leaves it on no orders.
            conn.execute(
                text(
                    "INSERT INTO rollup_state (id, historic_through_id, backfilled_through_id)"
                    " VALUES (1, 0, 0)"
                )
            )
            conn.execute(
                text(
                    "UPDATE customer_sales_windows"
                    " SET starts_on = (now() AT TIME ZONE 'UTC')::date + 1"
                )
            )


@pytest.fixture
def committed(base_app, server_url):
    """Committed data on separate connections; every table is emptied afterwards."""
    helper = Committed(server_url)
    try:
        yield helper
    finally:
        helper.truncate()
        helper.engine.dispose()


@pytest.fixture
def admin_client(client, session):
    """A test client logged in as an admin."""
    add_admin(session)
    response = log_in(client)
    assert response.status_code == 302, response.text
    return client


# Debian's Chromium, driven by Playwright (see system/test_browser.py).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Chromium is not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
