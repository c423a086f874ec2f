"""Admin lists over a large table: the planner's estimate instead of an exact count,
next/previous up to a stated page, and only sorts an index serves."""

from __future__ import annotations

import re

import pytest
from builders import add_customer, add_product
from sqlalchemy import text
from statements import counting_statements

from app.admin.base_views import LARGE_MAX_PAGE
from app.orders.models import Order


@pytest.fixture
def orders(session):
    customer = add_customer(session)
    add_product(session)
    for total in range(1, 31):
        session.add(Order(customer_id=customer.id, total_cents=total, item_count=1))
    session.flush()
    session.execute(text("ANALYZE orders"))  # the estimate the list reads
    return customer


def test_a_large_table_lists_without_counting(
    admin_client, app, session, engine, monkeypatch, orders
):
    monkeypatch.setitem(app.config, "ADMIN_LARGE_TABLE_ROWS", 10)
    with counting_statements(engine) as seen:
        page = admin_client.get("/admin/order/?page_size=20")
    assert page.status_code == 200
    assert not [s for s in seen if "count(" in s.lower()], seen
    assert len(seen) <= 3, seen
    estimate = re.search(r'data-list-estimate="(\d+)"', page.text)
    assert estimate and int(estimate.group(1)) >= 30
    words = " ".join(page.text.split())
    assert "(the planner's estimate:" in words
    assert f"Pages go up to {LARGE_MAX_PAGE + 1};" in words
    assert "List (" not in page.text  # no exact total in the tab
    assert 'href="/admin/order/?page=1' in page.text  # next page offered


def test_a_small_table_keeps_its_exact_count(admin_client, app, session, monkeypatch, orders):
    monkeypatch.setitem(app.config, "ADMIN_LARGE_TABLE_ROWS", 100_000)
    page = admin_client.get("/admin/order/")
    assert "data-list-estimate" not in page.text
    assert "List (30)" in page.text


def test_pages_past_the_cap_are_not_offered(admin_client, app, session, monkeypatch, orders):
    monkeypatch.setitem(app.config, "ADMIN_LARGE_TABLE_ROWS", 10)
    page = admin_client.get(f"/admin/order/?page={LARGE_MAX_PAGE + 500}")
    assert page.status_code == 200
    assert f"Pages past {LARGE_MAX_PAGE + 1} are not offered" in " ".join(page.text.split())
    assert f"page={LARGE_MAX_PAGE + 1}" not in page.text  # no "next" past the cap


@pytest.mark.parametrize(
    ("path", "sortable"),
    [
        ("/admin/order/", {"Id", "Placed At"}),
        ("/admin/customer/", {"Id", "Email", "Region"}),
    ],
)
def test_only_index_served_sorts_are_offered(admin_client, session, orders, path, sortable):
    page = admin_client.get(path)
    head = page.text.split("<thead>", 1)[1].split("</thead>", 1)[0]
    offered = {
        re.sub(r"<[^>]+>", "", label).strip()
        for label in re.findall(r'<a href="[^"]*sort=[^"]*"[^>]*>(.*?)</a>', head, re.DOTALL)
    }
    assert offered == sortable


def test_the_bench_times_only_lists_that_answer(app, session, monkeypatch, orders):
    """Every admin list page `python -m bench reports` times answers 200 (a filter index
    that moved would make the bench time an error page)."""
    from app.auth.admins import set_admin_password
    from bench.reports import ADMIN, ADMIN_LISTS, time_admin_lists

    set_admin_password(session, *ADMIN)
    session.flush()
    monkeypatch.setitem(app.config, "ADMIN_LARGE_TABLE_ROWS", 10)
    timings = time_admin_lists(app)
    assert set(timings) == set(ADMIN_LISTS)
    assert all(ms > 0 for ms in timings.values())
