"""Property-based fuzzing: whatever arrives, the answer is a documented 4xx (or a
success), never a 500, and never a partial write.

FUZZ_EXAMPLES sets the number of cases per property (default 150; .ci/run uses
more). Each test prints how many cases it tried.
"""

from __future__ import annotations

import os

import pytest
from browser_forms import add_admin, log_in
from builders import add_customer, add_product
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.catalog.models import Product
from app.orders.models import Order, OrderLine
from app.reports.definitions import REPORTS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
API_STATUSES = {200, 201, 400, 404, 409, 412, 413, 415, 422, 428}

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "'; DROP TABLE orders; --",
        "1 OR 1=1",
        "${7*7}",
        "{{7*7}}",
        "../../etc",
        "😀" * 50,
        "é" * 300,
        "-1",
        "0",
        "1e309",
        "NaN",
        "9" * 40,
        "\u202e",
        "%00",
        "%s%s%s",
        "<script>alert(1)</script>",
        "null",
        "true",
        "[]",
        "{}",
    ]
)
# Numbers far beyond any column, and spellings int() takes but we refuse.
HUGE_INTEGERS = st.one_of(
    st.integers(min_value=10**18, max_value=10**1000),
    st.integers(min_value=-(10**1000), max_value=-(10**18)),
)
NUMBER_SPELLINGS = st.sampled_from(
    [
        "+7",
        " 5 ",
        "5 ",
        "1_000",
        "\u0663",
        "\u00b2",
        "\uff11",
        "inf",
        "-inf",
        "nan",
        "1e3",
        "0x10",
        "1.0",
        "-0",
        "007",
        "9" * 400,
        "-" + "9" * 400,
        "9" * 5000,
    ]
)
NUMBER_TEXT = st.one_of(st.integers().map(str), HUGE_INTEGERS.map(str), NUMBER_SPELLINGS)
TEXT = st.one_of(NASTY_TEXT, NUMBER_SPELLINGS, st.text(max_size=60))
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    HUGE_INTEGERS,
    st.integers(min_value=-1000, max_value=1000).map(float),  # 207.0 is an integer
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
JSON = st.recursive(
    st.one_of(st.none(), NUMBERS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=20,
)
ID = st.one_of(st.integers(min_value=-5, max_value=30), NUMBERS, TEXT, st.none())
LINE = st.one_of(
    st.fixed_dictionaries({"product_id": ID, "quantity": ID}),
    st.fixed_dictionaries({"product_id": ID, "quantity": ID}, optional={"price": JSON, "": JSON}),
    JSON,
)
ORDER = st.one_of(
    st.fixed_dictionaries(
        {"customer_id": ID, "lines": st.one_of(st.lists(LINE, max_size=6), JSON)},
        optional={
            "locking": st.one_of(st.sampled_from(["pessimistic", "optimistic"]), TEXT),
            "coupon": JSON,
        },
    ),
    JSON,
)


class Tally:
    """Counts the cases a property tried, to print at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        print(f"\n{self.name}: {self.cases} cases")


def assert_problem(response):
    assert response.status_code in API_STATUSES, (response.status_code, response.data[:300])
    if response.status_code >= 400:
        assert response.content_type == "application/problem+json", response.data[:200]


@pytest.fixture
def stocked(api, session):
    customer = add_customer(session)
    products = [add_product(session, stock=50) for _ in range(3)]
    return customer, products


def stock_and_orders(session):
    session.expire_all()
    return (
        session.scalar(select(func.sum(Product.stock))),
        session.scalar(select(func.count()).select_from(Order)),
        session.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0))),
    )


def test_order_bodies(api, session, stocked):
    with Tally("POST /api/orders JSON bodies") as tally:

        @FUZZ
        @given(body=ORDER)
        def check(body):
            tally.cases += 1
            before_stock, before_orders, before_units = stock_and_orders(session)
            response = api.post("/api/orders", json=body)
            assert_problem(response)
            stock, orders, units = stock_and_orders(session)
            if response.status_code == 201:
                assert orders == before_orders + 1
            else:  # nothing half-written
                assert (stock, orders, units) == (before_stock, before_orders, before_units)
            # Units never appear or vanish: what left stock is in order lines.
            assert stock + units == before_stock + before_units

        check()


def test_raw_bodies(api, stocked):
    with Tally("POST /api/orders raw bytes") as tally:

        @FUZZ
        @given(
            body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
            content_type=st.sampled_from(
                ["application/json", "text/plain", "", "application/json; charset=latin-1"]
            ),
        )
        def check(body, content_type):
            tally.cases += 1
            assert_problem(
                api.post("/api/orders", data=body, headers={"Content-Type": content_type})
            )

        check()


def test_product_patches(api, session, stocked):
    _, products = stocked
    with Tally("PATCH /api/products/<id>") as tally:

        @FUZZ
        @given(
            body=st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "name": TEXT,
                        "price_cents": ID,
                        "stock": ID,
                        "description": TEXT,
                        "sku": TEXT,
                    },
                ),
                JSON,
            ),
            if_match=st.one_of(
                TEXT,
                st.integers().map(lambda v: f'"{v}"'),
                NUMBER_TEXT.map(lambda v: f'"{v}"'),
            ),
            product=st.sampled_from([str(p.id) for p in products] + ["0", "x", "9" * 30]),
        )
        def check(body, if_match, product):
            tally.cases += 1
            # Only what an HTTP client can send: printable Latin-1 header values.
            sendable = all(" " <= ch <= "\xff" and ch != "\x7f" for ch in if_match)
            headers = {"If-Match": if_match} if sendable else {}
            assert_problem(api.patch(f"/api/products/{product}", json=body, headers=headers))

        check()


def test_list_query_strings(api, stocked):
    with Tally("GET /api/products, /api/customers query strings") as tally:

        @FUZZ
        @given(
            path=st.sampled_from(["/api/products", "/api/customers"]),
            query=st.dictionaries(
                st.sampled_from(["limit", "cursor", "email", "x"]),
                st.one_of(TEXT, NUMBER_TEXT),
                max_size=3,
            ),
        )
        def check(path, query):
            tally.cases += 1
            assert_problem(api.get(path, query_string=query))

        check()


@pytest.fixture
def reports_client(base_app, committed):
    with committed.sessions() as session:
        add_admin(session)
        add_product(session)
    client = base_app.test_client()
    assert log_in(client).status_code == 302
    return client


FIELD_VALUES = st.one_of(
    TEXT,
    st.dates().map(str),
    NUMBER_TEXT,
    st.sampled_from(["europe", "2026-02-30", "2026-01-01", "0", "1000"]),
)


def test_report_filters(reports_client, committed):
    with committed.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM products").scalar()
    with Tally("report filter forms") as tally:

        @FUZZ
        @given(
            slug=st.sampled_from(sorted(REPORTS)),
            query=st.dictionaries(
                st.sampled_from(
                    [
                        "date_from",
                        "date_to",
                        "region",
                        "top_n",
                        "row_limit",
                        "days",
                        "reorder_days",
                        "max_months",
                        "format",
                        "zzz",
                    ]
                ),
                FIELD_VALUES,
                max_size=5,
            ),
        )
        def check(slug, query):
            tally.cases += 1
            response = reports_client.get(f"/reports/{slug}", query_string=query)
            assert response.status_code in (200, 400), (slug, query, response.status_code)

        check()
    with committed.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM products").scalar() == before


def test_admin_list_query_strings(admin_client):
    with Tally("admin list query strings") as tally:

        @FUZZ
        @given(
            view=st.sampled_from(["product", "customer", "order", "apitoken", "adminuser"]),
            query=st.dictionaries(
                st.sampled_from(
                    [
                        "page",
                        "sort",
                        "desc",
                        "search",
                        "page_size",
                        "flt0_0",
                        "flt1_price_cents_equals",
                        "flt2_3",
                    ]
                ),
                st.one_of(TEXT, NUMBER_TEXT),
                max_size=4,
            ),
        )
        def check(view, query):
            tally.cases += 1
            response = admin_client.get(f"/admin/{view}/", query_string=query)
            assert response.status_code in (200, 302), (view, query)

        check()
