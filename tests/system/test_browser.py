"""The admin console in real headless Chromium (Debian's, driven by Playwright),
served by real gunicorn.

Without Chromium on the machine these tests skip with the reason; .ci/run installs
it and sets REQUIRE_BROWSER=1, so in CI a missing browser fails instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_forms import PASSWORD, add_admin
from builders import add_product
from processes import Gunicorn, clean_env
from sqlalchemy import select

from app.catalog.models import Product
from bench.history_data import Shape, fill_history

pytestmark = pytest.mark.browser


@pytest.fixture
def site(base_app, committed, server_url, tmp_path):
    with committed.sessions() as session:
        add_admin(session)
    env = clean_env(
        DATABASE_URL=server_url, WEB_CONCURRENCY="2", GUNICORN_THREADS="4", DB_REPORT_INTERVAL="1"
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        yield server


def log_in(browser, site):
    page = browser.new_context(base_url=site.url).new_page()
    page.goto("/admin/db/pool/")
    assert "/login" in page.url
    page.fill("input[name=email]", "ops@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/db/pool/")
    return page


def test_log_in_and_open_every_database_page(chromium, site):
    page = log_in(chromium, site)
    assert page.locator("#pool-formula").inner_text().startswith("budget = ")
    assert page.locator("#workers tbody tr").count() >= 1
    for path, marker in [
        ("/admin/db/queries/", "Slow statements captured"),
        ("/admin/db/migrations/", "At head: nothing pending."),
        ("/admin/db/activity/", "Blocked and blocking sessions"),
        ("/admin/db/", "Database overview"),
        ("/admin/db/schema/", "Schema health"),
    ]:
        page.goto(path)
        assert marker in page.content()
    page.click("text=Log out")
    page.wait_for_url("**/login")
    page.goto("/admin/")
    assert "/login" in page.url


def test_edit_a_product(chromium, site, committed):
    with committed.sessions() as session:
        product_id = add_product(session, price_cents=500).id
    page = log_in(chromium, site)
    page.goto(f"/admin/product/edit/?id={product_id}")
    page.fill("input[name=name]", "Edited in Chromium")
    page.fill("input[name=price_cents]", "777")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/product/**")
    assert "Edited in Chromium" in page.content()
    with committed.sessions() as session:
        product = session.get(Product, product_id)
        assert (product.name, product.price_cents) == ("Edited in Chromium", 777)


def test_two_admins_editing_one_product_cannot_overwrite_each_other(chromium, site, committed):
    with committed.sessions() as session:
        product_id = add_product(session, price_cents=500).id
    alice, bob = log_in(chromium, site), log_in(chromium, site)
    for page in (alice, bob):
        page.goto(f"/admin/product/edit/?id={product_id}")
    alice.fill("input[name=price_cents]", "600")
    alice.click("input[type=submit][value=Save]")
    alice.wait_for_url("**/admin/product/**")

    bob.fill("input[name=price_cents]", "900")
    bob.click("input[type=submit][value=Save]")
    bob.wait_for_load_state()
    message = bob.locator(".alert-danger, .alert-error").first.inner_text()
    assert "Someone else saved this product" in message
    assert "600" in message  # Bob sees Alice's price
    with committed.sessions() as session:
        assert session.scalar(select(Product.price_cents).where(Product.id == product_id)) == 600


def test_admin_works_under_the_content_security_policy(chromium, site, committed):
    with committed.sessions() as session:
        doomed = [add_product(session).id for _ in range(2)]
    page = log_in(chromium, site)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/admin/product/")
    for product_id in doomed:
        page.check(f"input.action-checkbox[value='{product_id}']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=With selected")
    page.click("[data-stockroom-action=delete]")
    page.wait_for_load_state()
    assert "successfully deleted" in page.content()
    assert violations == []
    with committed.sessions() as session:
        assert all(session.get(Product, pid).deleted_at is not None for pid in doomed)


def test_reports_live_in_the_console_menu_under_the_content_security_policy(
    chromium, site, committed
):
    with committed.sessions() as session:
        add_product(session, stock=3)
    page = log_in(chromium, site)
    violations, outside, failed = [], [], []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "request",
        lambda request: None if request.url.startswith(site.url) else outside.append(request.url),
    )
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    # From the console to a report through the menu (Bootstrap's dropdown script).
    page.goto("/admin/")
    page.click("#admin-navbar-collapse >> text=Reports")
    page.click("#admin-navbar-collapse .dropdown-menu >> text=Stock cover")
    page.wait_for_url("**/reports/stock-cover")
    assert page.locator("#report-rows tbody tr").count() == 1
    assert (
        page.locator("#report-rows td.num").first.evaluate(
            "cell => getComputedStyle(cell).textAlign"
        )
        == "right"
    )
    # The same navbar and theme as the console's pages, and back again.
    assert page.locator("nav.navbar.bg-dark #admin-navbar-collapse").count() == 1
    assert page.locator("text=ops@example.com").count() == 1
    page.click("#admin-navbar-collapse >> text=Database")
    page.click("#admin-navbar-collapse .dropdown-menu >> text=Pool")
    page.wait_for_url("**/admin/db/pool/")
    page.go_back()
    page.click("text=EXPLAIN (ANALYZE, BUFFERS)")
    page.wait_for_url("**/reports/stock-cover/explain*")
    assert "Execution time:" in page.locator("body").inner_text()
    page.click("text=Log out")
    page.wait_for_url("**/login")
    assert violations == [] and outside == [] and failed == []


def test_api_docs_render_locally_under_the_content_security_policy(chromium, site):
    page = chromium.new_context(base_url=site.url).new_page()
    violations, outside = [], []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    # Every asset comes from this site: no CDN.
    page.on(
        "request",
        lambda request: None if request.url.startswith(site.url) else outside.append(request.url),
    )
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/orders" in path for path in paths), paths
    page.click("text=Place an order")
    page.wait_for_selector("text=Idempotency-Key")
    assert violations == [] and outside == []


def test_live_pages_refresh_and_pause(chromium, site):
    page = log_in(chromium, site)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/admin/db/")
    first = page.locator("#overview-status small").inner_text()
    page.wait_for_function(
        "text => document.querySelector('#overview-status small').innerText !== text",
        arg=first,
        timeout=15000,
    )
    page.click("#live-pause")
    assert page.locator("#live-state").inner_text() == "paused"
    paused = page.locator("#overview-status small").inner_text()
    # Longer than the page's 5 s refresh (the point: paused, nothing refreshes meanwhile).
    page.wait_for_timeout(6500)
    assert page.locator("#overview-status small").inner_text() == paused
    page.click("#live-pause")
    page.wait_for_function(
        "text => document.querySelector('#overview-status small').innerText !== text",
        arg=paused,
        timeout=15000,
    )
    assert page.locator("[data-check=connections]").count() == 1
    assert violations == []


def test_dashboard_history_charts_and_statement_pages_under_the_content_security_policy(
    chromium, site, committed, base_app
):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with committed.sessions() as session:
        add_product(session, stock=2)
        fill_history(session, base_app, now - timedelta(minutes=30), now, Shape(1, 2, 2, 4))
        session.commit()
    page = log_in(chromium, site)
    violations, failed = [], []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    # The pool page (where log_in lands) draws its history.
    page.reload()
    assert page.locator("figure svg g.series[data-series='checked out (most)']").count() >= 1

    page.goto("/admin/")
    assert page.locator("#orders-today .h2").is_visible()
    assert page.locator("#sales-chart svg").count() == 1
    assert page.locator("#database-health .badge").inner_text() in {
        "ok",
        "warning",
        "critical",
        "unknown",
    }

    page.goto("/admin/db/queries/?window=1h")
    first = page.locator("#statements tbody tr").first
    # One line, cut with an ellipsis (the whole text is on the statement page).
    assert first.locator(".one-line").first.evaluate("e => getComputedStyle(e).textOverflow") == (
        "ellipsis"
    )
    page.click("#statements [data-sort-by=calls]")
    page.wait_for_url("**sort=calls**")
    assert page.locator("#statements").get_attribute("data-sort") == "calls"
    calls = [
        int(text.replace(",", ""))
        for text in page.locator("#statements tbody tr td:nth-child(2)").all_inner_texts()
    ]
    assert calls == sorted(calls, reverse=True) and len(calls) >= 4

    page.locator("#statements tbody tr").first.locator("td.statement a").click()
    page.wait_for_url("**/admin/db/queries/*")
    assert page.locator("#app-view [data-calls]").inner_text().replace(",", "") == str(calls[0])
    assert page.locator("figure svg").count() >= 2
    assert violations == [] and failed == []
