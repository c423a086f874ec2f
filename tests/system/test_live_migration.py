"""A real migration watched live: while ``flask db upgrade`` backfills two million
rows in batches and then builds an index CONCURRENTLY, Chromium keeps the console's
migrations page open and sees the rows done and the build's phase and percentage
advance; afterwards the page says nothing runs.

The migrations are three extra revisions after head, in a migrations directory of
the test's own (our env.py and progress helper, the app's revisions, then these).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import flask_migrate
import pytest
from browser_forms import PASSWORD, add_admin
from builders import release_connections
from processes import FLASK, Gunicorn, clean_env

from app import create_app
from app.config import sqlalchemy_url
from app.db.migration_scripts import migration_scripts
from app.extensions import db
from app.paths import MIGRATIONS_DIR, PROJECT_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.gunicorn]
ROWS = 2_000_000
# The app's head revision, which the demo revisions follow.
HEAD = migration_scripts().get_current_head()

DEMO = {
    "demo_table": f'''
"""a big table to migrate"""
from alembic import op

revision = "demo_table"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE TABLE progress_demo (id bigint PRIMARY KEY, payload text, doubled bigint)")
    op.execute(
        "INSERT INTO progress_demo (id, payload) "
        "SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) AS g"
    )


def downgrade():
    op.execute("DROP TABLE progress_demo")
''',
    "demo_backfill": '''
"""backfill progress_demo.doubled in batches"""
import progress
import sqlalchemy as sa
from alembic import op

revision = "demo_backfill"
down_revision = "demo_table"
branch_labels = None
depends_on = None
STEP = "backfill progress_demo.doubled"
BATCH = 100_000


def upgrade():
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        last = bind.execute(sa.text("SELECT max(id) FROM progress_demo")).scalar()
        progress.start(bind, revision, STEP, last)
        for first in range(1, last + 1, BATCH):
            bind.execute(
                sa.text("UPDATE progress_demo SET doubled = id * 2 WHERE id >= :a AND id < :b"),
                {"a": first, "b": first + BATCH},
            )
            progress.report(bind, revision, STEP, min(first + BATCH - 1, last), last)


def downgrade():
    pass
''',
    "demo_index": '''
"""an index on progress_demo.payload, built concurrently"""
from alembic import op

revision = "demo_index"
down_revision = "demo_backfill"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        # A small sort memory: the build spills to disk and takes a few seconds.
        op.execute("SET maintenance_work_mem = '1MB'")
        op.execute("CREATE INDEX CONCURRENTLY ix_progress_demo_payload ON progress_demo (payload)")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_progress_demo_payload")
''',
}


@pytest.fixture
def watched(make_database, tmp_path):
    """A database at head, gunicorn on it, and a migrations directory with the demo."""
    url = make_database()
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "live", "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url)}
    )
    with app.app_context():
        flask_migrate.upgrade()
        add_admin(db.session)
    release_connections(app)
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in DEMO.items():
        (directory / "versions" / f"29990101_0000_{name}.py").write_text(source)
    env = clean_env(DATABASE_URL=url, WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready(path="/healthz")
        yield server, env, directory


def test_the_migrations_page_shows_a_migration_as_it_runs(chromium, watched):
    server, env, directory = watched
    page = chromium.new_context(base_url=server.url).new_page()
    page.goto("/login?next=/admin/db/migrations/")
    page.fill("input[name=email]", "ops@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/db/migrations/")
    assert page.locator("#running-migration").inner_text() == "No migration is running."

    upgrade = subprocess.Popen(
        [*FLASK, "db", "upgrade", "-d", str(directory)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows_done, builds, revisions = [], [], set()
    deadline = time.monotonic() + 120
    try:
        while upgrade.poll() is None and time.monotonic() < deadline:
            page.reload()
            running = page.locator("div#running-migration")
            if running.count():
                revisions.add(running.get_attribute("data-revision"))
            for step in page.locator("tr.migration-step").all():
                if "running" in step.inner_text():
                    rows_done.append(int(step.get_attribute("data-rows-done")))
            for build in page.locator(".index-build").all():
                percent = build.get_attribute("data-percent")
                builds.append((build.get_attribute("data-phase"), percent))
            time.sleep(0.2)  # sampling the page while the migration runs
    finally:
        if upgrade.poll() is None:
            upgrade.kill()
        stderr = upgrade.communicate()[1]
    assert upgrade.returncode == 0, stderr[-2000:]
    print(f"\nrows done seen: {rows_done}\nindex build seen: {builds}\nrevisions: {revisions}")
    # The backfill's rows done advanced while it ran.
    assert len(set(rows_done)) >= 2 and rows_done == sorted(rows_done)
    assert "demo_backfill" in revisions
    # The concurrent build showed its phase, and its percentage moved.
    assert any(phase.startswith("building index") for phase, _ in builds)
    percents = {float(p) for phase, p in builds if p and phase.startswith("building index")}
    assert len(percents) >= 2
    # Done: nothing runs; the step's history stays.
    page.reload()
    assert page.locator("#running-migration").inner_text() == "No migration is running."
    assert "finished" in page.locator("tr.migration-step").first.inner_text()
