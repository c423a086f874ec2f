"""Every console page at 1440 px in real headless Chromium, served by real gunicorn,
with history, load and orders to show: no chart label overlaps another, no number
wraps, nothing answers an error; and the database load chart during a lock chain
and a busy loop, sampled by a real jobs process.

``CONSOLE_SCREENSHOTS=<dir>`` also saves full-page screenshots of the overview,
queries, activity and pool pages there (docs/screenshots/ holds the last ones)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from browser_forms import add_admin, console_page
from builders import add_customer, add_product
from lock_chain import LockChain
from processes import Gunicorn, clean_env
from sqlalchemy import text
from waiting import wait_until

from app.history.load import write
from app.jobs.scheduler import claim
from app.serving.jobs_process import JobsProcess
from bench.history_data import Shape, fill_history

pytestmark = pytest.mark.browser

PAGES = [
    "/admin/",
    "/admin/db/",
    "/admin/db/pool/",
    "/admin/db/queries/",
    "/admin/db/queries/?window=6h&show=all",
    "/admin/db/activity/",
    "/admin/db/schema/",
    "/admin/db/vacuum/",
    "/admin/db/migrations/",
    "/admin/db/regressions/",
    "/admin/db/explain/",
    "/admin/product/",
    "/admin/customer/",
    "/admin/order/",
    "/reports/",
    "/reports/top-customers",
    "/reports/daily-revenue",
    "/reports/product-ranking",
    "/reports/stock-cover",
    "/reports/cohort-retention",
]
# The activity page's is taken during the lock chain (the load test).
SHOTS = {"/admin/db/": "overview", "/admin/db/queries/": "queries", "/admin/db/pool/": "pool"}

# The page-side checks (wrappedNumbers, overlappingLabels).
LAYOUT_JS = (Path(__file__).parent.parent / "support" / "page_layout.js").read_text()


@pytest.fixture
def busy_console(base_app, committed, server_url):
    """Orders, half an hour of history with a deploy and a migration marked, a load
    sample in every minute of it, vacuumed tables (their times on the schema page) and
    a transaction left open."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with committed.sessions() as session:
        add_admin(session)
        for _ in range(3):
            add_product(session, stock=5)
        add_customer(session)
        fill_history(session, base_app, now - timedelta(minutes=30), now, Shape(1, 2, 4, 12))
        for minute in range(30):
            bucket = now - timedelta(minutes=30 - minute)
            claim(session, "history-load-sample", bucket)
            counts = Counter(
                {
                    (
                        "CPU",
                        "CPU",
                        "orders.create",
                        "aaaa",
                        "SELECT 1 FROM products WHERE id = ?",
                    ): 40,
                    (
                        "Lock",
                        "transactionid",
                        "products.restock",
                        "bbbb",
                        "UPDATE products SET stock = stock + ?",
                    ): minute,
                    (
                        "IO",
                        "DataFileRead",
                        "reports.report",
                        "cccc",
                        "SELECT sum(total_cents) FROM orders",
                    ): 15,
                }
            )
            write(session, bucket, counts, 60)
        session.commit()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE products, customers")
    # A transaction left open, holding the xmin horizon (the vacuum page lists it),
    # whose statement is one long token: it may break, never widen the page.
    holder = psycopg.connect(server_url, application_name="horizon-holder")
    holder.execute("SELECT txid_current(), %s::text", ("x" * 180,))
    holder.execute(f"SELECT 'long_{'y' * 150}' AS {'z' * 60}")
    yield
    holder.close()


@pytest.fixture
def site(busy_console, server_url, tmp_path):
    env = clean_env(
        DATABASE_URL=server_url, WEB_CONCURRENCY="2", GUNICORN_THREADS="4", DB_REPORT_INTERVAL="1"
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        yield server


def test_every_console_page_at_1440_px_has_no_overlapping_label_or_wrapped_number(chromium, site):
    page = console_page(chromium, site.url)
    failed = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    shots = os.environ.get("CONSOLE_SCREENSHOTS")
    problems = {}
    for path in PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        found = {
            "wrapped numbers": page.evaluate(f"() => {{ {LAYOUT_JS}; return wrappedNumbers(); }}"),
            "overlapping labels": page.evaluate(
                f"() => {{ {LAYOUT_JS}; return overlappingLabels(); }}"
            ),
            "wider than the window": page.evaluate(
                "() => document.documentElement.scrollWidth > window.innerWidth + 1"
            ),
        }
        if any(found.values()):
            problems[path] = {k: v for k, v in found.items() if v}
        if shots and path in SHOTS:
            page.screenshot(path=str(Path(shots) / f"console-{SHOTS[path]}.png"), full_page=True)
    assert problems == {}
    assert failed == []


def _busy_loop(url: str, stop: threading.Event) -> None:
    with psycopg.connect(url, autocommit=True, application_name="busy-loop") as conn:
        conn.execute("SET statement_timeout = '4s'")
        while not stop.is_set():
            with contextlib.suppress(psycopg.errors.QueryCanceled):
                conn.execute("SELECT count(*) FROM generate_series(1, 200000000)")


def test_the_load_chart_shows_lock_waits_in_a_lock_chain_and_cpu_in_a_busy_loop(
    chromium, site, committed, server_url, tmp_path
):
    with committed.sessions() as session:
        customer_id = add_customer(session).id
        # Only the live load below: the fixture's sampled minutes go.
        session.execute(text("TRUNCATE db_history_load, db_history_load_samples"))
        session.commit()
    env = clean_env(DATABASE_URL=server_url, LOAD_SAMPLE_MS="250", LOAD_WRITE_MS="500")
    stop = threading.Event()
    busy = threading.Thread(target=_busy_loop, args=(server_url, stop))
    with JobsProcess(env, log=tmp_path / "jobs.log"):
        chain = LockChain(server_url, customer_id)
        busy.start()
        try:
            page = console_page(chromium, site.url)

            def waits_shown() -> set[str]:
                page.goto("/admin/db/?window=1h")
                shown = set(
                    page.locator("#load-statements .load-wait").evaluate_all(
                        "es => es.map(e => e.dataset.wait)"
                    )
                )
                return shown if {"Lock", "CPU"} <= shown else set()

            wait_until(
                waits_shown, timeout=30, interval=1, message="no Lock and CPU load on the overview"
            )
            if shots := os.environ.get("CONSOLE_SCREENSHOTS"):
                # The activity page on a bad day: the chain and the busy loop.
                activity = console_page(chromium, site.url, "/admin/db/activity/")
                activity.screenshot(path=str(Path(shots) / "console-activity.png"), full_page=True)
        finally:
            stop.set()
            chain.release()
            busy.join(timeout=10)
    chart = page.locator("#load-chart svg")
    assert chart.locator("g.series[data-series='Lock']").count() == 1
    assert chart.locator("g.series[data-series='CPU']").count() == 1
    # The lock chain's statement leads with Lock waits; the busy loop's with CPU.
    rows = page.locator("#load-statements tbody tr")
    texts = rows.all_inner_texts()
    assert any("UPDATE customers" in t and "Lock" in t for t in texts), texts
    assert any("generate_series" in t and "CPU" in t for t in texts), texts
