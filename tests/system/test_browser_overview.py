"""The database overview in real headless Chromium (Debian's, driven by Playwright),
served by real gunicorn, on a bad day: a forgotten session idle in its transaction
turns its check critical, and that row is the first the operator sees, linking to
the session's row on the activity page."""

from __future__ import annotations

import psycopg
import pytest
from browser_forms import add_admin, console_page
from processes import Gunicorn, clean_env

pytestmark = pytest.mark.browser


@pytest.fixture
def site(base_app, committed, server_url, tmp_path):
    with committed.sessions() as session:
        add_admin(session)
    env = clean_env(
        DATABASE_URL=server_url,
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        DB_REPORT_INTERVAL="1",
        # Reachable in seconds: warning after 1 s idle in a transaction, critical after 2.
        DB_CHECK_IDLE_IN_TRANSACTION_SECONDS="1",
        DB_CHECK_IDLE_IN_TRANSACTION_CRITICAL_SECONDS="2",
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        yield server


def test_the_overview_shows_the_failing_check_first(chromium, site, server_url):
    forgotten = psycopg.connect(server_url, application_name="forgotten-shell")
    try:
        forgotten.execute("SELECT 1")  # a transaction opened and left
        pid = forgotten.info.backend_pid
        page = console_page(chromium, site.url, "/admin/db/")
        first = "#checks tbody tr:first-child"
        # The page refreshes itself every 5 s; critical after 2 s idle.
        page.wait_for_function(
            "sel => document.querySelector(sel)?.dataset.status === 'critical'",
            arg=first,
            timeout=20000,
        )
        assert page.get_attribute(first, "data-check") == "idle_in_transaction"
        statuses = page.eval_on_selector_all(
            "#checks tbody tr", "rows => rows.map(row => row.dataset.status)"
        )
        assert statuses[0] == "critical" and statuses[-1] == "ok"
        assert set(statuses[statuses.index("ok") :]) == {"ok"}  # every problem above every ok
        assert "1 critical" in page.inner_text("#overview-counts")
        link = page.locator(f"{first} td.check-cause a")
        assert link.inner_text() == f"pid {pid}"
        link.click()
        page.wait_for_url(f"**/admin/db/activity/#pid-{pid}")
    finally:
        forgotten.rollback()
        forgotten.close()
