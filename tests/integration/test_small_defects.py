"""Small things a user meets first: the site's root and icon, the console's busiest
endpoint, one log line per request, an order's page (its products, its Cancel
button) and the customers' region filter."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from browser_forms import csrf_token
from builders import add_customer, add_product
from sqlalchemy import select, text

from app.catalog.models import Product
from app.customers.models import REGIONS, Customer
from app.history.recorder import write_bucket
from app.monitoring.minute_totals import minute_totals
from app.orders.models import Order
from app.serving.gunicorn_hooks import access_log


def test_the_root_leads_to_the_console(client, admin_client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert admin_client.get("/").headers["Location"].endswith("/admin/")


def test_logged_out_the_root_ends_at_the_login_page(app):
    page = app.test_client().get("/", follow_redirects=True)
    assert page.status_code == 200
    assert page.request.path == "/login"


def test_the_icon_is_served_and_every_page_links_it(app, admin_client):
    with app.test_client().get("/favicon.ico") as icon:
        assert icon.status_code == 200
        assert icon.mimetype.startswith("image/")
        assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
        assert len(icon.data) > 1000
    login = app.test_client().get("/login")
    console = admin_client.get("/admin/customer/")
    link = '<link href="/favicon.ico" rel="icon"'
    assert link in login.text
    assert link in console.text


def history_endpoints(app, session) -> set[str]:
    """Close this process's history bucket, write it as the reporter does, and read
    back the endpoints it recorded (what the console ranks as the busiest)."""
    closed = minute_totals.take_closed(time.time() + 2 * minute_totals.interval)
    assert closed is not None
    pool_state = dict.fromkeys(
        ("waits", "wait_seconds", "timeouts", "connects", "invalidations", "size"), 0
    ) | {"max_overflow": 0}
    write_bucket(session, app, closed, pool_state)
    return set(
        session.scalars(
            text("SELECT endpoint FROM db_history_endpoints WHERE bucket = :bucket"),
            {"bucket": datetime.fromtimestamp(closed.start, UTC)},
        )
    )


def test_static_files_are_not_the_busiest_endpoint(admin_client, session):
    assert minute_totals.enabled
    for _ in range(20):
        for path in ("/static/stockroom.css", "/favicon.ico", "/admin/static/admin/js/helpers.js"):
            with admin_client.get(path) as response:
                assert response.status_code == 200, path
    assert admin_client.get("/healthz").status_code == 200
    endpoints = history_endpoints(admin_client.application, session)
    assert "health.healthz" in endpoints
    assert not endpoints & {"static", "admin.static", "favicon"}, endpoints


def test_one_log_line_per_request():
    # The app writes its JSON line unless the instrumentation is off: gunicorn's
    # access line only then, or when asked for.
    assert access_log({}) is None
    assert access_log({"DB_INSTRUMENTATION": "on"}) is None
    assert access_log({"DB_INSTRUMENTATION": "off"}) == "-"
    assert access_log({"ACCESS_LOG": "on"}) == "-"
    assert access_log({"ACCESS_LOG": "off", "DB_INSTRUMENTATION": "off"}) is None


def place_order(api, session, *products_and_quantities):
    customer = add_customer(session)
    response = api.post(
        "/api/orders",
        json={
            "customer_id": customer.id,
            "lines": [{"product_id": p.id, "quantity": q} for p, q in products_and_quantities],
        },
    )
    assert response.status_code == 201, response.text
    return session.scalar(select(Order).where(Order.customer_id == customer.id))


def order_lines(page: str) -> list[list[str]]:
    table = page.split("<table class='table table-sm order-lines'>")[1].split("</table>")[0]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
        if "<td" in row
    ]


def test_an_orders_page_names_its_products(admin_client, api, session):
    hammer = add_product(session, stock=10, price_cents=1299)
    nails = add_product(session, stock=500, price_cents=5)
    order = place_order(api, session, (hammer, 2), (nails, 120))
    page = admin_client.get(f"/admin/order/details/?id={order.id}")
    assert page.status_code == 200
    lines = sorted(order_lines(page.text))
    assert lines == sorted(
        [
            [hammer.name, hammer.sku, "2", "$12.99"],
            [nails.name, nails.sku, "120", "$0.05"],
        ]
    )


def test_cancel_on_an_orders_page(admin_client, api, session):
    product = add_product(session, stock=10)
    order = place_order(api, session, (product, 3))
    page = admin_client.get(f"/admin/order/details/?id={order.id}")
    form = page.text.split('id="order-cancel"')[1].split("</form>")[0]
    assert "data-stockroom-confirm=" in form  # asks first
    assert 'name="csrf_token"' in form
    token = csrf_token(page.text)

    # Without the CSRF token: refused, nothing changed.
    refused = admin_client.post("/admin/order/cancel/", data={"id": str(order.id)})
    assert refused.status_code == 400
    session.expire_all()
    assert session.get(Order, order.id).status == "placed"

    done = admin_client.post(
        "/admin/order/cancel/",
        data={"id": str(order.id), "csrf_token": token},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "Order cancelled; its stock is back." in done.text
    assert 'id="order-cancel"' not in done.text  # no button on a cancelled order
    assert 'id="order-cancelled"' in done.text
    session.expire_all()
    assert session.get(Order, order.id).status == "cancelled"
    assert session.get(Product, product.id).stock == 10

    # Again (a second tab, a double click): a clear message, the stock back only once.
    again = admin_client.post(
        "/admin/order/cancel/",
        data={"id": str(order.id), "csrf_token": token},
        follow_redirects=True,
    )
    assert again.status_code == 200
    assert "This order was already cancelled: nothing changed." in again.text
    session.expire_all()
    assert session.get(Product, product.id).stock == 10

    for bad in ("999999999", "abc", "", "-1", "9" * 40):
        response = admin_client.post(
            "/admin/order/cancel/",
            data={"id": bad, "csrf_token": token},
            follow_redirects=True,
        )
        assert response.status_code == 200, bad
        assert "That order does not exist." in response.text


def filter_groups(page_html: str) -> dict:
    data = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page_html)
    return json.loads(data.group(1)) if data else {}


def test_the_region_filter_is_a_choice_of_the_regions(admin_client, session):
    european = add_customer(session)  # in europe
    asian = Customer(email="asian@example.com", name="Asian customer", region="asia-pacific")
    session.add(asian)
    session.commit()
    page = admin_client.get("/admin/customer/")
    region = filter_groups(page.text)["Region"]
    assert [f["operation"] for f in region] == ["equals", "not equal"]
    for flt in region:
        assert [value for value, _label in flt["options"]] == list(REGIONS)

    equals = next(f for f in region if f["operation"] == "equals")
    chosen = admin_client.get(
        "/admin/customer/", query_string={f"flt0_{equals['index']}": "europe"}
    )
    assert chosen.status_code == 200
    assert european.email in chosen.text and asian.email not in chosen.text

    # A region that is not one (typed into the URL): said so, not applied, no error.
    unknown = admin_client.get("/admin/customer/", query_string={f"flt0_{equals['index']}": "mars"})
    assert unknown.status_code == 200
    assert "Invalid Filter Value" in unknown.text
    assert european.email in unknown.text and asian.email in unknown.text
