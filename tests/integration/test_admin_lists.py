"""The admin's model lists read like a shop's: money with its currency, grouped counts,
times to the second in UTC; sorting, filtering, searching and editing still work on the
stored values."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from browser_forms import csrf_token
from builders import add_customer, add_product
from markupsafe import Markup
from sqlalchemy import select

from app.admin.formatting import grouped, money, time_text, utc_time
from app.api.models import ApiToken
from app.auth.models import AdminUser
from app.orders.models import Order

LIST_PAGES = [
    "/admin/product/",
    "/admin/customer/",
    "/admin/order/",
    "/admin/apitoken/",
    "/admin/adminuser/",
]
# A time with microseconds, or with a "+00:00" offset: what the lists used to show.
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
SHOWN_TIME = re.compile(
    r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)" title="\1">'
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)</time>"
)


def cells(page_html: str, column: str) -> list[str]:
    """The contents of a list's (or detail page's) cells for ``column``, stripped."""
    found = re.findall(rf'<td class="col-{column}">(.*?)</td>', page_html, re.DOTALL)
    return [cell.strip() for cell in found]


def details(page_html: str) -> dict[str, str]:
    """A detail page's rows: label -> shown value (markup kept), stripped."""
    rows = re.findall(r"<td>\s*<b>(.*?)</b>\s*</td>\s*<td>(.*?)</td>\s*</tr>", page_html, re.DOTALL)
    return {html.unescape(label.strip()): value.strip() for label, value in rows}


def header(page_html: str) -> str:
    """The list table's header row."""
    return page_html.split("<thead>", 1)[1].split("</thead>", 1)[0]


def header_text(page_html: str) -> str:
    """What the list's header row reads (its column names)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", header(page_html))).split())


def sort_links(page_html: str) -> list[str]:
    """The header's "sort by" links."""
    return sorted(
        {html.unescape(url) for url in re.findall(r'href="([^"]*sort=[^"]*)"', header(page_html))}
    )


def filter_groups(page_html: str) -> dict:
    """The list's filters as the page hands them to its script: name -> operations
    (empty when the list has no filters)."""
    data = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page_html)
    return json.loads(data.group(1)) if data else {}


def place_big_order(api, session, *, price_cents=849, quantity=999_999):
    """An order through the API, big enough for its numbers to need grouping."""
    customer = add_customer(session)
    product = add_product(session, price_cents=price_cents, stock=1_000_000)
    response = api.post(
        "/api/orders",
        json={
            "customer_id": customer.id,
            "lines": [{"product_id": product.id, "quantity": quantity}],
        },
    )
    assert response.status_code == 201
    return session.scalar(select(Order).where(Order.customer_id == customer.id))


def test_product_list_shows_money_with_its_currency_and_grouped_stock(admin_client, session):
    add_product(session, price_cents=849, stock=100_425_051)
    page = admin_client.get("/admin/product/")
    assert page.status_code == 200
    assert cells(page.text, "price_cents") == ["$8.49"]
    assert cells(page.text, "stock") == ["100,425,051"]
    # The header no longer claims cents over an amount in dollars.
    assert "cents" not in header_text(page.text).lower()
    assert "Price" in header_text(page.text).split()


def test_money_is_exact_for_big_amounts_and_shows_zero_cents(admin_client, session):
    add_product(session, price_cents=2_147_483_647, stock=0)
    add_product(session, price_cents=5, stock=7)
    page = admin_client.get("/admin/product/?sort=3")  # by price, cheapest first
    assert cells(page.text, "price_cents") == ["$0.05", "$21,474,836.47"]
    assert cells(page.text, "stock") == ["7", "0"]


@pytest.mark.parametrize(
    ("setting", "shown"),
    [("EUR", "€8.49"), ("GBP", "£8.49"), ("CHF", "8.49 CHF"), ("<i>X", "8.49 &lt;I&gt;X")],
)
def test_the_currency_comes_from_the_currency_setting(
    admin_client, app, session, monkeypatch, setting, shown
):
    monkeypatch.setitem(app.config, "CURRENCY", setting)
    add_product(session, price_cents=849)
    page = admin_client.get("/admin/product/")
    assert cells(page.text, "price_cents") == [shown]


def test_order_list_shows_totals_as_money_and_grouped_item_counts(admin_client, api, session):
    place_big_order(api, session)
    page = admin_client.get("/admin/order/")
    assert page.status_code == 200
    assert cells(page.text, "total_cents") == ["$8,489,991.51"]  # 849 x 999,999 cents
    assert cells(page.text, "item_count") == ["999,999"]
    assert "cents" not in header_text(page.text).lower()


def test_order_detail_shows_money_grouped_quantities_and_times(admin_client, api, session):
    order = place_big_order(api, session)
    page = admin_client.get(f"/admin/order/details/?id={order.id}")
    assert page.status_code == 200
    rows = details(page.text)
    assert rows["Total"] == "$8,489,991.51"
    assert SHOWN_TIME.fullmatch(rows["Placed At"])
    assert rows["Cancelled At"] == ""
    lines = page.text.split("Unit price", 1)[1].split("</table>", 1)[0]
    assert "<td class='text-right'>999,999</td><td class='text-right'>$8.49</td>" in lines
    assert "+00:00" not in page.text
    assert not MICROSECONDS.search(page.text)


@pytest.mark.parametrize("page_url", LIST_PAGES)
def test_lists_show_times_to_the_second_in_utc(admin_client, api, session, page_url):
    place_big_order(api, session)  # also uses the API token: last_used_at is set
    page = admin_client.get(page_url)
    assert page.status_code == 200
    times = SHOWN_TIME.findall(page.text)
    assert times, "no times on the page"
    for iso, shown in times:
        assert shown == iso.replace("T", " ").replace("Z", " UTC")
    assert "+00:00" not in page.text
    assert not MICROSECONDS.search(page.text)


def test_a_listed_time_is_the_stored_time_truncated_to_the_second(admin_client, session):
    product = add_product(session)
    session.refresh(product)
    page = admin_client.get("/admin/product/")
    expected = product.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    (cell,) = cells(page.text, "updated_at")
    assert SHOWN_TIME.fullmatch(cell).group(2) == expected


def test_token_and_admin_lists_show_their_times(admin_client, api, session):
    token = session.scalar(select(ApiToken))  # the api fixture's
    admin = session.scalar(select(AdminUser))  # the one logged in
    tokens = admin_client.get("/admin/apitoken/").text
    admins = admin_client.get("/admin/adminuser/").text
    assert cells(tokens, "created_at") == [str(utc_time(token.created_at))]
    assert cells(tokens, "revoked_at") == [""]  # never revoked: empty, not "None"
    assert cells(admins, "created_at") == [str(utc_time(admin.created_at))]
    assert SHOWN_TIME.fullmatch(cells(admins, "last_login_at")[0])


def test_forms_still_take_cents(admin_client, session):
    product = add_product(session, price_cents=849)
    form = admin_client.get(f"/admin/product/edit/?id={product.id}")
    assert "Price (cents)" in form.text
    assert re.search(
        r'name="price_cents"[^>]*value="849"|value="849"[^>]*name="price_cents"', form.text
    )
    response = admin_client.post(
        f"/admin/product/edit/?id={product.id}",
        data={
            "csrf_token": csrf_token(form.text),
            "version": str(product.version),
            "name": product.name,
            "description": "",
            "price_cents": "1299",
            "stock": "1000000",
        },
    )
    assert response.status_code == 302
    session.refresh(product)
    assert (product.price_cents, product.stock) == (1299, 1_000_000)
    page = admin_client.get("/admin/product/")
    assert cells(page.text, "price_cents") == ["$12.99"]
    assert cells(page.text, "stock") == ["1,000,000"]
    assert "Price (cents)" in admin_client.get("/admin/product/new/").text


def test_a_refused_edit_tells_the_price_as_money_and_in_cents(admin_client, api, session):
    product = add_product(session, price_cents=100, stock=12_345)
    form = admin_client.get(f"/admin/product/edit/?id={product.id}")
    etag = api.get(f"/api/products/{product.id}").headers["ETag"]
    api.patch(f"/api/products/{product.id}", headers={"If-Match": etag}, json={"price_cents": 999})
    response = admin_client.post(
        f"/admin/product/edit/?id={product.id}",
        data={
            "csrf_token": csrf_token(form.text),
            "version": str(product.version),
            "name": "Mine",
            "description": "",
            "price_cents": "250",
            "stock": "7",
        },
        follow_redirects=True,
    )
    assert "price $9.99 (999 cents), stock 12,345" in response.text


def test_the_price_filter_says_it_takes_cents(admin_client, api, session):
    place_big_order(api, session)
    products = filter_groups(admin_client.get("/admin/product/").text)
    orders = filter_groups(admin_client.get("/admin/order/").text)
    assert "Price (cents)" in products and "Price" not in products
    # No filter on the order total: no index serves it at ten million orders.
    assert set(orders) == {"Status", "Placed At", "Customer Id"}


def test_filters_and_search_work_on_stored_values(admin_client, session):
    cheap = add_product(session, price_cents=849, stock=3)
    dear = add_product(session, price_cents=100_000, stock=100_425_051)
    groups = filter_groups(admin_client.get("/admin/product/").text)

    def arg(group, operation):
        (flt,) = [f for f in groups[group] if f["operation"] == operation]
        return f"flt0_{flt['index']}"

    page = admin_client.get(f"/admin/product/?{arg('Price (cents)', 'equals')}=849")
    assert page.status_code == 200
    assert cheap.sku in page.text and dear.sku not in page.text
    page = admin_client.get(f"/admin/product/?{arg('Stock', 'greater than')}=100000000")
    assert dear.sku in page.text and cheap.sku not in page.text
    assert cells(page.text, "stock") == ["100,425,051"]
    page = admin_client.get(f"/admin/product/?search={dear.sku}")
    assert dear.sku in page.text and cheap.sku not in page.text


def test_sorting_by_money_and_counts_is_numeric(admin_client, session):
    # As text "$100.00" < "$9.00" and "10,000" < "9"; sorting is on the stored numbers.
    for price, stock in ((900, 9), (10_000, 10_000), (100, 100)):
        add_product(session, price_cents=price, stock=stock)
    page = admin_client.get("/admin/product/")
    links = {re.search(r"sort=(\d+)", url).group(1): url for url in sort_links(page.text)}
    by_price = admin_client.get("/admin/product/?sort=3").text
    by_stock_desc = admin_client.get("/admin/product/?sort=4&desc=1").text
    assert {"3", "4"} <= set(links)
    assert cells(by_price, "price_cents") == ["$1.00", "$9.00", "$100.00"]
    assert cells(by_stock_desc, "stock") == ["10,000", "100", "9"]


@pytest.mark.parametrize("page_url", LIST_PAGES)
def test_every_sort_and_filter_still_answers(admin_client, api, session, page_url):
    place_big_order(api, session)
    page = admin_client.get(page_url)
    links = sort_links(page.text)
    assert links
    for url in links:
        for direction in ("", "&desc=1"):
            response = admin_client.get(url + direction)
            assert response.status_code == 200, url + direction
            assert "+00:00" not in response.text
    for operations in filter_groups(page.text).values():
        for flt in operations:
            value = sample_filter_value(flt)
            response = admin_client.get(page_url, query_string={f"flt0_{flt['index']}": value})
            assert response.status_code == 200, (flt, value)
            assert "Invalid Filter Value" not in response.text, (flt, value)


def sample_filter_value(flt: dict) -> str:
    """A value each kind of filter accepts (as a person would type it)."""
    if flt.get("options"):
        return flt["options"][0][0]
    operation = flt["operation"]
    kind = flt.get("type") or ""
    if operation in ("empty",):
        return "1"
    if "datetime" in kind:
        day = "2026-01-01 00:00:00"
        return f"{day} to 2026-12-31 23:59:59" if "between" in operation else day
    if "date" in kind:
        return "2026-01-01 to 2026-12-31" if "between" in operation else "2026-01-01"
    if operation in ("in list", "not in list"):
        return "1,2"
    if "between" in operation:
        return "1 to 2"
    return "1"


def test_formatters_escape_and_handle_missing_values(app):
    with app.app_context():
        assert money(-849) == "-$8.49"
        assert money(0) == "$0.00"
        assert money(None) == ""
        assert money(2**63 - 1, "EUR") == "€92,233,720,368,547,758.07"  # exact: no float
        assert money(1, "<b>") == Markup("0.01 &lt;b&gt;")
        assert grouped(100_425_051) == "100,425,051"
        assert grouped(-1234) == "-1,234"
        assert grouped(None) == ""
    east = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2026, 11, 27, 17, 29, 14, 146_019, tzinfo=east)
    assert time_text(local) == "2026-11-27 11:59:14 UTC"
    assert time_text(datetime(2026, 11, 27, 11, 59, 14, 999_999)) == "2026-11-27 11:59:14 UTC"
    assert utc_time(local) == Markup(
        '<time datetime="2026-11-27T11:59:14Z" title="2026-11-27T11:59:14Z">'
        "2026-11-27 11:59:14 UTC</time>"
    )
    assert utc_time(None) == ""
    assert money(849) == "$8.49"  # outside an app: the default currency
    assert isinstance(money(1), Markup) and isinstance(grouped(1), Markup)


def test_product_detail_uses_the_same_formatters(admin_client, session):
    product = add_product(session, price_cents=849, stock=100_425_051)
    page = admin_client.get(f"/admin/product/details/?id={product.id}")
    assert page.status_code == 200
    rows = details(page.text)
    assert (rows["Price"], rows["Stock"]) == ("$8.49", "100,425,051")
    assert SHOWN_TIME.fullmatch(rows["Created At"])
    assert "+00:00" not in page.text
    assert not MICROSECONDS.search(page.text)


def test_the_pool_page_shows_when_each_worker_reported_relative(admin_client):
    page = admin_client.get("/admin/db/pool/").text
    assert re.search(r'<time datetime="[^"]+Z" title="[^"]+ UTC">\d+ s ago</time>', page)
