"""Products and customers over /api: pagination, ETags, If-Match, restock."""

import pytest
from builders import add_customer, add_product
from sqlalchemy import func

from app.catalog.models import Product


def test_products_are_paged_by_keyset(api, session):
    ids = [add_product(session).id for _ in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        response = api.get(
            "/api/products", query_string={"limit": 2, "cursor": cursor} if cursor else {"limit": 2}
        )
        assert response.status_code == 200
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        cursor = response.json["next"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3


def test_deleted_products_are_hidden(api, session):
    gone = add_product(session, deleted_at=func.now())
    kept = add_product(session)
    items = api.get("/api/products").json["items"]
    assert [item["id"] for item in items] == [kept.id]
    assert api.get(f"/api/products/{gone.id}").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "aWQ6LTE"},
        {"limit": "9" * 5000},
    ],
)
def test_bad_paging_parameters_are_422(api, query):
    response = api.get("/api/products", query_string=query)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] in query


def test_one_product_carries_its_version_as_etag(api, session):
    product = add_product(session, stock=7)
    response = api.get(f"/api/products/{product.id}")
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{product.version}"'
    assert response.json["stock"] == 7


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/999999",
        "/api/products/0",
        "/api/products/99999999999999999999",
        "/api/products/abc",
    ],
)
def test_unknown_products_are_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_patch_requires_if_match(api, session):
    product = add_product(session)
    response = api.patch(f"/api/products/{product.id}", json={"name": "New"})
    assert response.status_code == 428
    assert "If-Match" in response.json["detail"]


def test_patch_with_current_version_updates_and_bumps_the_etag(api, session):
    product = add_product(session, price_cents=500)
    etag = api.get(f"/api/products/{product.id}").headers["ETag"]
    response = api.patch(
        f"/api/products/{product.id}",
        headers={"If-Match": etag},
        json={"name": "Renamed", "price_cents": 650, "description": "New."},
    )
    assert response.status_code == 200
    assert response.json["name"] == "Renamed"
    assert response.json["price_cents"] == 650
    assert response.headers["ETag"] != etag


def test_patch_with_stale_version_is_412_and_changes_nothing(api, session):
    product = add_product(session, price_cents=500)
    etag = api.get(f"/api/products/{product.id}").headers["ETag"]
    first = api.patch(
        f"/api/products/{product.id}", headers={"If-Match": etag}, json={"price_cents": 600}
    )
    assert first.status_code == 200
    second = api.patch(
        f"/api/products/{product.id}", headers={"If-Match": etag}, json={"price_cents": 700}
    )
    assert second.status_code == 412
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.json["current_version"] == first.json["version"]
    assert api.get(f"/api/products/{product.id}").json["price_cents"] == 600


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": "12"}, "price_cents"),
        ({"stock": True}, "stock"),
        ({"stock": 2**31}, "stock"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"sku": "NEW"}, "sku"),
        ({}, "(body)"),
    ],
)
def test_patch_rejects_bad_fields(api, session, body, field):
    product = add_product(session)
    response = api.patch(f"/api/products/{product.id}", headers={"If-Match": '"1"'}, json=body)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json["errors"]}


@pytest.mark.parametrize(
    ("if_match", "status"), [("1", 400), ('W/"1"', 400), ("*", 400), ('"1", "2"', 400)]
)
def test_patch_rejects_malformed_if_match(api, session, if_match, status):
    product = add_product(session)
    response = api.patch(
        f"/api/products/{product.id}", headers={"If-Match": if_match}, json={"name": "x"}
    )
    assert response.status_code == status


def test_patch_needs_a_json_body(api, session):
    product = add_product(session)
    url = f"/api/products/{product.id}"
    assert api.patch(url, headers={"If-Match": '"1"'}, data="name=x").status_code == 415
    malformed = api.patch(
        url, headers={"If-Match": '"1"', "Content-Type": "application/json"}, data="{not json"
    )
    assert malformed.status_code == 400
    assert malformed.content_type == "application/problem+json"
    listed = api.patch(url, headers={"If-Match": '"1"'}, json=["name"])
    assert listed.status_code == 422


def test_restock_adds_units_and_bumps_the_version(api, session):
    product = add_product(session, stock=3)
    version_before = product.version
    response = api.post(f"/api/products/{product.id}/restock", json={"quantity": 5})
    assert response.status_code == 200
    assert response.json["stock"] == 8
    assert response.json["version"] == version_before + 1
    assert response.headers["ETag"] == f'"{version_before + 1}"'


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": 0},
        {"quantity": -5},
        {"quantity": 1.5},
        {"quantity": 1_000_001},
        {"quantity": 1, "note": "x"},
    ],
)
def test_restock_rejects_bad_quantities(api, session, body):
    product = add_product(session, stock=3)
    response = api.post(f"/api/products/{product.id}/restock", json=body)
    assert response.status_code == 422
    session.refresh(product)
    assert product.stock == 3


def test_restock_beyond_the_column_is_a_409_conflict_not_500(api, session):
    # The same quantity is fine for a product with room for it: a conflict with this
    # product's stock, not an invalid request.
    product = add_product(session, stock=2**31 - 10)
    response = api.post(f"/api/products/{product.id}/restock", json={"quantity": 100})
    assert response.status_code == 409
    assert response.json["type"] == "/problems/stock-limit"
    assert response.json["product_id"] == product.id
    assert "exceed" in response.json["detail"]
    assert api.post(f"/api/products/{product.id}/restock", json={"quantity": 9}).status_code == 200


def test_restock_of_unknown_product_is_404(api):
    assert api.post("/api/products/424242/restock", json={"quantity": 1}).status_code == 404


def test_customers_are_paged_and_found_by_email(api, session):
    customers = [add_customer(session) for _ in range(3)]
    page = api.get("/api/customers", query_string={"limit": 2}).json
    assert [c["id"] for c in page["items"]] == [c.id for c in customers[:2]]
    assert page["next"]
    found = api.get("/api/customers", query_string={"email": customers[1].email.upper()}).json
    assert [c["id"] for c in found["items"]] == [customers[1].id]
    assert found["next"] is None
    assert api.get("/api/customers", query_string={"email": "x"}).status_code == 422


def test_product_version_increments_on_every_change(session):
    product = add_product(session)
    first = product.version
    product.name = "Changed"
    session.flush()
    assert session.get(Product, product.id).version == first + 1


def test_an_impossible_version_is_stale_not_an_error(api, session):
    product = add_product(session)
    response = api.patch(
        f"/api/products/{product.id}", headers={"If-Match": '"2147483648"'}, json={"price_cents": 1}
    )
    assert response.status_code == 412
