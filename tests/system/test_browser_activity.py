"""The activity page in real headless Chromium at 1440 px, served by real gunicorn,
with a chain of four sessions blocked on one customers row: the root blocker is
the first row of the blockers table, and one click on its action reaches its
confirmation page."""

from __future__ import annotations

import pytest
from browser_forms import PASSWORD, add_admin
from builders import add_customer
from lock_chain import LockChain
from processes import Gunicorn, clean_env
from waiting import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def site(base_app, committed, server_url, tmp_path):
    with committed.sessions() as session:
        add_admin(session)
    env = clean_env(DATABASE_URL=server_url, WEB_CONCURRENCY="1", GUNICORN_THREADS="2")
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        yield server


@pytest.fixture
def chain(committed, server_url):
    with committed.sessions() as session:
        customer_id = add_customer(session).id
    chain = LockChain(server_url, customer_id)
    try:
        yield chain
    finally:
        chain.release()


def test_the_root_blocker_comes_first_one_click_from_its_confirm_page(chromium, site, chain):
    root = chain.pids[0]
    context = chromium.new_context(base_url=site.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto("/admin/db/activity/")
    page.fill("input[name=email]", "ops@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/db/activity/")
    page.click("#live-pause")  # no refresh under the click

    first = page.locator("#blockers tbody tr").first
    assert first.get_attribute("data-pid") == str(root)
    assert "root blocker" in first.inner_text()
    assert "blocks 3 sessions in total" in first.inner_text()
    assert "idle in transaction" in first.inner_text()
    assert page.locator("#blockers tbody tr").count() == 4
    # Durations and numbers stay on one line at 1440 px (a wrapped inline box has
    # more than one client rect).
    wrapped = page.evaluate(
        """() => [...document.querySelectorAll(
                  '#blockers td.text-nowrap, #lock-waits td.text-right')]
              .filter(cell => cell.innerText.trim() && [...cell.querySelectorAll('span, strong')]
                  .some(e => e.getClientRects().length > 1))
              .map(cell => cell.innerText)"""
    )
    assert wrapped == []

    first.locator("a[data-action=terminate]").click()
    page.wait_for_url(f"**/admin/db/activity/{root}/terminate")
    assert f"Terminate session: pid {root}?" in page.locator("h2").inner_text()
    assert "chain-root" in page.locator("#backend").inner_text()
    assert page.locator("#blocks").inner_text().startswith("3 sessions in total (1 directly)")
    # Confirmed: the root goes, and the chain behind it drains.
    page.click("#signal-form button[type=submit]")
    page.wait_for_url("**/admin/db/activity/")
    wait_until(lambda: root not in chain.alive(), message="the root blocker is still there")
    for thread in chain.threads:
        thread.join(20)
    page.reload()
    assert page.locator("#blockers").count() == 0
    context.close()
