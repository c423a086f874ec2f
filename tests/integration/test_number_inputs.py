"""Numbers from users: one spelling in query strings, headers and forms (ASCII digits,
an optional minus), JSON Schema's integers in bodies, and never a 500 for a
number far beyond its range, wherever numbers arrive. (The parser itself:
unit/test_inputs.py.)"""

from __future__ import annotations

import json

import pytest
from browser_forms import csrf_token
from builders import add_customer, add_product
from number_spellings import BAD_SPELLINGS, HUGE
from sqlalchemy import select

from app.catalog.models import Product
from app.orders.models import OrderLine


@pytest.fixture
def reports_client(admin_client):
    return admin_client


@pytest.mark.parametrize("value", BAD_SPELLINGS + HUGE)
def test_report_filters_refuse_bad_numbers_with_a_form_error(reports_client, value):
    for fmt in ("html", "csv"):
        response = reports_client.get(
            "/reports/top-customers", query_string={"top_n": value, "format": fmt}
        )
        assert response.status_code == 400, (value, fmt)
    assert (
        'id="form-errors"'
        in reports_client.get("/reports/stock-cover", query_string={"days": value}).text
    )


def test_report_filters_say_which_error(reports_client):
    huge = reports_client.get("/reports/product-ranking", query_string={"row_limit": "9" * 400})
    assert "out of range" in huge.text
    spelled = reports_client.get("/reports/product-ranking", query_string={"row_limit": "+7"})
    assert "digits only" in spelled.text
    fine = reports_client.get("/reports/product-ranking", query_string={"row_limit": "7"})
    assert fine.status_code == 200


@pytest.mark.parametrize("value", BAD_SPELLINGS + HUGE)
def test_api_query_numbers_are_422(api, value):
    response = api.get("/api/products", query_string={"limit": value})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "limit"


def test_api_ids_in_paths_are_ascii_only(api, session):
    product = add_product(session)
    assert api.get(f"/api/products/{product.id}").status_code == 200
    # A digit of another script is not an id (int() would have read it as one).
    assert api.get("/api/products/\u0663").status_code == 404


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ('"\u0663"', 400),
        ('"+1"', 400),
        ('"\u00b2"', 400),  # isdigit() is true, int() would raise: once a 500
        ('" 1"', 400),
        ('"' + "9" * 400 + '"', 412),
        ('"' + "9" * 5000 + '"', 412),
    ],
)
def test_if_match_numbers(api, session, if_match, status):
    product = add_product(session)
    response = api.patch(
        f"/api/products/{product.id}", json={"stock": 3}, headers={"If-Match": if_match}
    )
    assert response.status_code == status


def post_raw(api, body: str):
    return api.post("/api/orders", data=body, headers={"Content-Type": "application/json"})


def order_body(customer: str, product: str, quantity: str) -> str:
    """A POST /api/orders body with the numbers spelled exactly as given."""
    return (
        f'{{"customer_id": {customer}, '
        f'"lines": [{{"product_id": {product}, "quantity": {quantity}}}]}}'
    )


@pytest.fixture
def shop(session):
    return add_customer(session), add_product(session, stock=10)


def test_json_integers_as_json_schema_counts_them(api, session, shop):
    customer, product = shop
    # 2.0 is the integer 2 (and 5.0 customer 5): accepted, stored as integers.
    body = order_body(f"{customer.id}.0", str(product.id), "2.0")
    response = post_raw(api, body)
    assert response.status_code == 201, response.json
    line = session.scalar(select(OrderLine).where(OrderLine.product_id == product.id))
    assert line.quantity == 2


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("-0", "must be between 1"),  # -0 is the integer 0
        ("-0.0", "must be between 1"),
        ("1.5", "must be a whole number"),
        ("1e400", "must be between 1"),  # infinite: out of any range
        ("9" * 400, "must be between 1"),
        ("9" * 5000, "must be between 1"),  # beyond what Python converts
    ],
)
def test_json_numbers_out_of_range_or_not_whole_are_422(api, session, shop, quantity, message):
    customer, product = shop
    body = order_body(str(customer.id), str(product.id), quantity)
    response = post_raw(api, body)
    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["field"] == "lines[0].quantity" and error["message"].startswith(message)
    session.refresh(product)
    assert product.stock == 10


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_without_numbers_json_allows_is_400(api, shop, literal):
    customer, product = shop
    body = order_body(str(customer.id), str(product.id), literal)
    assert post_raw(api, body).status_code == 400


def test_patch_takes_whole_floats_and_minus_zero(api, session):
    product = add_product(session, stock=1)
    etag = api.get(f"/api/products/{product.id}").headers["ETag"]
    response = api.patch(
        f"/api/products/{product.id}",
        data=json.dumps({"price_cents": 207.0, "stock": -0}),
        headers={"If-Match": etag, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert (response.json["price_cents"], response.json["stock"]) == (207, 0)


@pytest.mark.parametrize("value", ["\u0663", "+7", "1_000", "9" * 400, "9" * 5000])
def test_admin_list_filters_refuse_bad_numbers_with_a_message(admin_client, session, value):
    add_product(session)
    page = admin_client.get("/admin/product/", query_string={"flt0_0": value})
    assert page.status_code == 200
    assert "Invalid Filter Value" in page.text


@pytest.mark.parametrize("key", ["page", "page_size", "sort"])
@pytest.mark.parametrize("value", ["\u0663", "+1", " 1"])
def test_admin_list_numbers_refuse_other_spellings_with_a_message(admin_client, key, value):
    page = admin_client.get("/admin/product/", query_string={key: value})
    assert page.status_code == 200
    assert "not a whole number" in page.text


@pytest.mark.parametrize(
    ("stock", "message"), [("9" * 400, "out of range"), ("+7", "digits only"), ("\u0663", "digits")]
)
def test_admin_forms_refuse_bad_numbers(admin_client, session, stock, message):
    page = admin_client.get("/admin/product/new/")
    response = admin_client.post(
        "/admin/product/new/",
        data={
            "csrf_token": csrf_token(page.text),
            "sku": "NUM-1",
            "name": "Numbers",
            "description": "",
            "price_cents": "100",
            "stock": stock,
        },
    )
    assert response.status_code == 200
    assert message in response.text
    assert session.scalar(select(Product).where(Product.sku == "NUM-1")) is None
