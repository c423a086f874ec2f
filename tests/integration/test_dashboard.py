"""The admin home page: today's sales against the same weekday last week, what is
about to run out (from the hourly sales-rates job), and the database's status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import flask_migrate
import psycopg
from browser_forms import add_admin, log_in
from builders import add_customer, add_product
from sqlalchemy import text

from app.admin.dashboard import sales
from app.extensions import db
from app.jobs.scheduler import JobRunner, registered
from app.orders.models import Order, OrderLine


def place(session, customer, product, quantity, at, status="placed"):
    """An order of ``quantity`` units of ``product`` placed at ``at``."""
    order = Order(
        customer_id=customer.id,
        total_cents=quantity * product.price_cents,
        item_count=quantity,
        placed_at=at,
        status=status,
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            product_id=product.id,
            quantity=quantity,
            unit_price_cents=product.price_cents,
        )
    )
    session.commit()
    return order


def card(page: str, card_id: str) -> dict[str, int]:
    tag = re.search(rf'<div class="card h-100" id="{card_id}"([^>]*)>', page).group(1)
    return {k: int(v) for k, v in re.findall(r'data-([a-z-]+)="(-?\d+)"', tag)}


def test_today_against_the_same_weekday_last_week_up_to_the_same_time(admin_client, session):
    now = datetime.now(UTC)
    before = sales(session, now)
    customer, product = add_customer(session), add_product(session, price_cents=250, stock=1000)
    # Earlier today (never before midnight), and a week before that.
    earlier = max(datetime.combine(now.date(), time(), UTC), now - timedelta(minutes=1))
    week = timedelta(days=7)
    place(session, customer, product, 2, earlier)
    place(session, customer, product, 1, earlier)
    place(session, customer, product, 9, earlier, status="cancelled")  # not a sale
    place(session, customer, product, 4, earlier - week)
    # Later in the day last week than it is now: not yet comparable.
    place(session, customer, product, 5, now - week + timedelta(minutes=5))
    place(session, customer, product, 7, earlier - week - timedelta(days=1))  # another day

    after = sales(session, datetime.now(UTC))
    assert after.today.orders - before.today.orders == 2
    assert after.today.revenue_cents - before.today.revenue_cents == 750
    assert after.last_week.orders - before.last_week.orders == 1
    assert after.last_week.revenue_cents - before.last_week.revenue_cents == 1000

    page = admin_client.get("/admin/").text
    orders, revenue = card(page, "orders-today"), card(page, "revenue-today")
    assert orders == {"orders": after.today.orders, "last-week": after.last_week.orders}
    assert revenue["cents"] == after.today.revenue_cents
    assert revenue["last-week"] == after.last_week.revenue_cents
    chart = page.split('<figure class="chart" id="sales-chart">')[1].split("</figure>")[0]
    assert chart.count('data-series="today"') == 1
    assert f'data-points="{now.hour + 1}"' in chart  # one point per hour so far
    assert 'data-status="' in page.split('id="database-health"')[1][:40]


def test_products_about_to_run_out_come_from_the_hourly_sales_rates(app, admin_client, session):
    customer = add_customer(session)
    urgent = add_product(session, stock=5)  # 30 sold in 30 days: 5 days of cover
    fine = add_product(session, stock=500)  # 30 sold: 500 days
    gone = add_product(session, stock=1)
    recently = datetime.now(UTC) - timedelta(days=2)
    for product in (urgent, fine, gone):
        place(session, customer, product, 30, recently)
    session.execute(text("UPDATE products SET deleted_at = now() WHERE id = :id"), {"id": gone.id})
    session.commit()

    # Before the job: says so, and lists the lowest stock instead.
    page = admin_client.get("/admin/").text
    assert 'id="rates-pending"' in page

    ran = JobRunner(app, registered(app)).tick(session)
    assert "sales-rates" in ran
    assert JobRunner(app, registered(app)).tick(session) == []  # once per hour, everywhere
    page = admin_client.get("/admin/").text
    assert 'id="rates-pending"' not in page
    rows = page.split('id="running-out"')[1].split("</table>")[0]
    assert f'data-product="{urgent.id}"' in rows
    assert f'data-product="{fine.id}"' not in rows and f'data-product="{gone.id}"' not in rows
    assert "5.0" in rows.split(f'data-product="{urgent.id}"')[1].split("</tr>")[0]

    # Stock is live: a restock takes it off the list without waiting for the job.
    session.execute(text("UPDATE products SET stock = 900 WHERE id = :id"), {"id": urgent.id})
    session.commit()
    page = admin_client.get("/admin/").text
    assert f'data-product="{urgent.id}"' not in page


def test_a_locked_orders_table_leaves_the_rest_of_the_dashboard_working(make_app, make_database):
    url = make_database()
    app = make_app(url, DB_LOCK_TIMEOUT_MS=200)
    with app.app_context():
        flask_migrate.upgrade()
        add_admin(db.session)
        db.session.remove()
    client = app.test_client()
    assert log_in(client).status_code == 302
    with psycopg.connect(url) as migration:  # as a migration rewriting orders would
        migration.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        page = client.get("/admin/")
        migration.rollback()
    assert page.status_code == 200
    assert 'id="sales-unavailable"' in page.text and "lock timeout" in page.text
    assert 'id="database-health"' in page.text
    assert 'id="rates-pending"' in page.text  # the products list still answers
    assert client.get("/admin/").text.count('id="orders-today"') == 1  # and back
