"""The queries page of a busy instance in real headless Chromium at 1440x900: a
page of the app's statements (the console's own left out), not a 14,000 px wall,
numbers on one line."""

from __future__ import annotations

import threading
import time

import pytest
from browser_forms import add_admin, console_page, log_in
from processes import Gunicorn, clean_env
from sqlalchemy import text

from app.extensions import db
from app.history.recorder import Sampler
from app.monitoring.statements import MONITORING_THREAD

pytestmark = pytest.mark.browser

ENDPOINTS = 12
PER_ENDPOINT = 10
SHAPES = ENDPOINTS * PER_ENDPOINT
MAX_HEIGHT = 3000
POOL_STATE = {
    "size": 5,
    "max_overflow": 10,
    "checked_out": 0,
    "peak": 0,
    "waits": 0,
    "wait_seconds": 0.0,
    "timeouts": 0,
    "connects": 0,
    "invalidations": 0,
}
# Lines of text each numeric cell of the page's tables takes (0 for an empty one).
LINES_PER_NUMBER = """() => [...document.querySelectorAll('table td.num')].map(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
})"""


@pytest.fixture
def site(base_app, committed, server_url, tmp_path):
    """gunicorn writing its history every second (so the browser's console traffic
    is in it within a moment)."""
    with committed.sessions() as session:
        add_admin(session)
    env = clean_env(
        DATABASE_URL=server_url,
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        DB_REPORT_INTERVAL="1",
        DB_HISTORY_INTERVAL_SECONDS="1",
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        yield server


def busy_history(make_app) -> None:
    """120 distinct statement shapes run by an app endpoint, and the console's own
    statements (the reporter's, a console page's) costing more than any of them,
    all through the app's instrumented engine and into the history as a worker's
    sampler writes it."""
    app = make_app(DB_HISTORY_INTERVAL_SECONDS=1, N_PLUS_ONE_RAISE=False)

    def probe(endpoint: int):
        def run():
            for i in range(endpoint * PER_ENDPOINT, (endpoint + 1) * PER_ENDPOINT):
                db.session.execute(
                    text(f"SELECT id, name FROM products WHERE stock > :floor AND id <> {i}"),
                    {"floor": i},
                )
            return "done"

        return run

    for endpoint in range(ENDPOINTS):  # a dozen endpoints, ten shapes each
        app.add_url_rule(f"/_probe/search-{endpoint}", f"search_{endpoint}", probe(endpoint))

    def reporter_work():
        with app.app_context():
            for _ in range(3):
                db.session.execute(text("SELECT pg_sleep(0.2), count(*) FROM db_worker_reports"))
            db.session.rollback()

    client = app.test_client()
    for endpoint in range(ENDPOINTS):
        assert client.get(f"/_probe/search-{endpoint}").status_code == 200
    reporter = threading.Thread(target=reporter_work, name=MONITORING_THREAD)
    reporter.start()
    reporter.join(timeout=30)
    assert log_in(client).status_code == 302
    for path in ("/admin/db/queries/", "/admin/db/pool/"):
        assert client.get(path).status_code == 200  # console traffic, recorded as such
    with app.app_context():
        # The sampler's tick, a bucket later: the closed bucket goes to the history.
        Sampler(app).tick(db.session, dict(POOL_STATE), now=time.time() + 5)
        db.session.remove()


def statement_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#statements tbody tr",
        "rows => rows.map(r => ({origin: r.dataset.origin, text: r.cells[0].innerText}))",
    )


def test_the_queries_page_of_a_busy_instance_is_short_and_leads_with_the_app(
    chromium, site, make_app
):
    busy_history(make_app)
    page = console_page(chromium, site.url, "/admin/db/queries/")
    for path in ("/admin/db/activity/", "/admin/db/schema/", "/admin/db/"):
        page.goto(path)  # console traffic through gunicorn

    # Everything, the console's own included: they lead (they cost the most).
    deadline = time.monotonic() + 30
    while True:
        page.goto("/admin/db/queries/?show=all")
        everything = statement_rows(page)
        total = page.locator("nav[data-pager=page]")
        if everything and everything[0]["origin"] != "app" and total.count():
            break
        assert time.monotonic() < deadline, f"the console's statements never led: {everything[:3]}"
        time.sleep(0.5)
    assert "db_worker_reports" in everything[0]["text"]
    assert {row["origin"] for row in everything} >= {"app", "monitoring"}

    page.goto("/admin/db/queries/")
    rows = statement_rows(page)
    assert 10 <= len(rows) <= 25  # a page of them
    assert rows[0]["origin"] == "app" and "db_" not in rows[0]["text"]
    assert {row["origin"] for row in rows} == {"app"}
    shown = page.locator("nav[data-pager=page] span").first.inner_text()
    assert int(shown.rsplit(" of ", 1)[1].replace(",", "")) >= SHAPES
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < MAX_HEIGHT, f"the queries page is {height} px tall"
    lines = page.evaluate(LINES_PER_NUMBER)
    assert lines and max(lines) == 1, f"a number wrapped: {lines}"
    # The statement cell is one line too, cut with an ellipsis.
    one_line = page.locator("#statements td.statement .one-line").first
    assert one_line.evaluate("e => e.scrollHeight <= e.clientHeight + 1")

    page.locator("nav[data-pager=page] a[rel=next]").click()
    page.wait_for_url("**page=2**")
    assert statement_rows(page) and statement_rows(page)[0]["text"] != rows[0]["text"]

    # A statement's page is titled by its statement; the EXPLAIN it offers works.
    page.locator("#statements td.statement a").first.click()
    page.wait_for_selector("#statement-title")
    assert page.locator("#statement-title").inner_text().startswith("SELECT id, name FROM products")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440  # nothing overflows
    page.click("#explain-link")
    page.wait_for_selector("#plan")
    assert "products" in page.locator("#plan").inner_text()
