"""The admin console's model views, through the HTML forms (CSRF included)."""

import pytest
from browser_forms import add_admin, csrf_token
from builders import add_customer, add_product, bearer
from sqlalchemy import select
from statements import counting_statements

from app.api.models import ApiToken
from app.api.tokens import hash_token
from app.auth.models import AdminUser
from app.catalog.models import Product
from app.orders.models import Order


def place_orders(api, session, count, stock=100):
    customer = add_customer(session)
    product = add_product(session, stock=stock)
    for _ in range(count):
        assert (
            api.post(
                "/api/orders",
                json={
                    "customer_id": customer.id,
                    "lines": [{"product_id": product.id, "quantity": 1}],
                },
            ).status_code
            == 201
        )
    return product


@pytest.mark.parametrize(
    "page",
    [
        "/admin/product/",
        "/admin/customer/",
        "/admin/order/",
        "/admin/apitoken/",
        "/admin/adminuser/",
    ],
)
def test_list_pages_run_a_fixed_number_of_queries(admin_client, api, session, engine, page):
    def queries_for_page():
        with counting_statements(engine) as seen:
            assert admin_client.get(page).status_code == 200
        return len(seen)

    place_orders(api, session, 2)
    few = queries_for_page()
    for _ in range(3):
        place_orders(api, session, 8)
        add_admin(session, email=f"more{_}@example.com")
        bearer(session, f"extra {_}")
    assert queries_for_page() == few


def test_create_product_through_the_form(admin_client, session):
    page = admin_client.get("/admin/product/new/")
    response = admin_client.post(
        "/admin/product/new/",
        data={
            "csrf_token": csrf_token(page.text),
            "sku": "NEW-1",
            "name": "New thing",
            "description": "",
            "price_cents": "1999",
            "stock": "5",
        },
    )
    assert response.status_code == 302
    product = session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert (product.price_cents, product.stock) == (1999, 5)


def test_form_errors_instead_of_500(admin_client, session):
    page = admin_client.get("/admin/product/new/")
    response = admin_client.post(
        "/admin/product/new/",
        data={
            "csrf_token": csrf_token(page.text),
            "sku": "",
            "name": "x" * 300,
            "price_cents": "-5",
            "stock": "lots",
        },
    )
    assert response.status_code == 200
    assert session.scalar(select(Product)) is None


def test_edit_with_the_version_seen_saves(admin_client, session):
    product = add_product(session, price_cents=100)
    form = admin_client.get(f"/admin/product/edit/?id={product.id}")
    response = admin_client.post(
        f"/admin/product/edit/?id={product.id}",
        data={
            "csrf_token": csrf_token(form.text),
            "version": str(product.version),
            "name": "Renamed",
            "description": "",
            "price_cents": "250",
            "stock": "7",
        },
    )
    assert response.status_code == 302
    session.refresh(product)
    assert (product.name, product.price_cents, product.stock) == ("Renamed", 250, 7)


def test_edit_after_someone_else_saved_is_refused(admin_client, api, session):
    product = add_product(session, price_cents=100)
    form = admin_client.get(f"/admin/product/edit/?id={product.id}")
    # Meanwhile a client changes the price through the API.
    etag = api.get(f"/api/products/{product.id}").headers["ETag"]
    assert (
        api.patch(
            f"/api/products/{product.id}", headers={"If-Match": etag}, json={"price_cents": 999}
        ).status_code
        == 200
    )
    response = admin_client.post(
        f"/admin/product/edit/?id={product.id}",
        data={
            "csrf_token": csrf_token(form.text),
            "version": str(product.version),
            "name": "My edit",
            "description": "",
            "price_cents": "250",
            "stock": "7",
        },
    )
    assert response.status_code == 200
    assert "Someone else saved this product" in response.text
    assert "999" in response.text  # the newer value is shown
    session.refresh(product)
    assert (product.name, product.price_cents) != ("My edit", 250)
    assert product.price_cents == 999


def test_delete_is_soft(admin_client, session):
    product = add_product(session)
    page = admin_client.get("/admin/product/")
    response = admin_client.post(
        "/admin/product/delete/", data={"csrf_token": csrf_token(page.text), "id": str(product.id)}
    )
    assert response.status_code == 302
    session.refresh(product)
    assert product.deleted_at is not None
    assert product.sku not in admin_client.get("/admin/product/").text


def test_bulk_delete_works_on_psycopg3(admin_client, session):
    products = [add_product(session) for _ in range(3)]
    page = admin_client.get("/admin/product/")
    response = admin_client.post(
        "/admin/product/action/",
        data={
            "csrf_token": csrf_token(page.text),
            "action": "delete",
            "rowid": [str(p.id) for p in products[:2]],
        },
    )
    assert response.status_code == 302
    for product in products:
        session.refresh(product)
    assert [p.deleted_at is not None for p in products] == [True, True, False]


def test_cancel_action_goes_through_the_order_service(admin_client, api, session):
    product = place_orders(api, session, 2, stock=10)
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    page = admin_client.get("/admin/order/")
    response = admin_client.post(
        "/admin/order/action/",
        data={
            "csrf_token": csrf_token(page.text),
            "action": "cancel",
            "rowid": [str(orders[0].id), str(orders[0].id)],
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert [o.status for o in session.scalars(select(Order).order_by(Order.id))] == [
        "cancelled",
        "placed",
    ]
    assert session.get(Product, product.id).stock == 9  # one unit back, once
    me = session.scalar(select(AdminUser))
    assert session.get(Order, orders[0].id).cancelled_by_id == me.id


def test_order_detail_shows_customer_and_lines(admin_client, api, session):
    place_orders(api, session, 1)
    order = session.scalar(select(Order))
    page = admin_client.get(f"/admin/order/details/?id={order.id}")
    assert page.status_code == 200
    assert "@example.com" in page.text
    assert "Unit price" in page.text


def test_token_is_shown_once_and_revocation_is_immediate(admin_client, client, session):
    page = admin_client.get("/admin/apitoken/new/")
    created = admin_client.post(
        "/admin/apitoken/new/", data={"csrf_token": csrf_token(page.text), "name": "warehouse"}
    )
    assert created.status_code == 200
    plain = created.text.split('id="new-token">')[1].split("<")[0]
    token = session.scalar(select(ApiToken).where(ApiToken.name == "warehouse"))
    assert token.token_hash == hash_token(plain)
    assert plain not in admin_client.get("/admin/apitoken/").text
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/products", headers=headers).status_code == 200

    listing = admin_client.get("/admin/apitoken/")
    admin_client.post(
        "/admin/apitoken/action/",
        data={"csrf_token": csrf_token(listing.text), "action": "revoke", "rowid": [str(token.id)]},
    )
    assert client.get("/api/products", headers=headers).status_code == 401


def test_admin_users_are_created_with_a_hashed_password(admin_client, session):
    page = admin_client.get("/admin/adminuser/new/")
    response = admin_client.post(
        "/admin/adminuser/new/",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "Second@Example.com",
            "password": "another long password",
        },
    )
    assert response.status_code == 302
    user = session.scalar(select(AdminUser).where(AdminUser.email == "second@example.com"))
    assert user.check_password("another long password")


def test_you_cannot_delete_yourself(admin_client, session):
    me = session.scalar(select(AdminUser))
    page = admin_client.get("/admin/adminuser/")
    admin_client.post(
        "/admin/adminuser/delete/", data={"csrf_token": csrf_token(page.text), "id": str(me.id)}
    )
    assert session.get(AdminUser, me.id) is not None


def test_admin_forms_reject_posts_without_csrf(admin_client, session):
    product = add_product(session)
    response = admin_client.post("/admin/product/delete/", data={"id": str(product.id)})
    assert response.status_code == 400
    session.refresh(product)
    assert product.deleted_at is None


@pytest.mark.parametrize(
    "query",
    [
        "page=-1",
        "page=99999999999999999999",
        "search=%00",
        "flt0_0=%00",
        "search=" + "x" * 5000,
        "sort=abc",
        "page_size=100000",
        "flt1_price_cents_equals=abc",
        "flt0_0=2147483648",
    ],
)
def test_list_pages_survive_odd_query_strings(admin_client, session, query):
    add_product(session)
    response = admin_client.get(f"/admin/product/?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("id_", ["-5", "abc", "99999999999999999999", "%00"])
def test_odd_ids_redirect_with_a_message(admin_client, id_):
    response = admin_client.get(f"/admin/order/details/?id={id_}")
    assert response.status_code == 302
