"""Orders under real concurrency: committed rows, threads on separate connections."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from builders import add_customer, add_product, bearer
from sqlalchemy import event, func, select, text

from app.catalog.models import Product
from app.extensions import db
from app.orders.models import Order, OrderLine

THREADS = 16


@pytest.fixture
def shop_app(make_app):
    # One connection per thread, and lock waits long enough to queue rather than fail.
    return make_app(GUNICORN_THREADS=THREADS, DB_LOCK_TIMEOUT_MS=10_000)


@pytest.fixture
def shop(committed):
    with committed.sessions() as session:
        customer = add_customer(session)
        headers = bearer(session)
        return {"customer_id": customer.id, "headers": headers}


def parallel(app, calls):
    """Run each call(client) on a pool of threads; the first wave starts together."""
    first_wave = min(THREADS, len(calls))
    start = threading.Barrier(first_wave)

    def run(indexed):
        index, call = indexed
        client = app.test_client()
        if index < first_wave:
            start.wait(timeout=10)
        return call(client)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, enumerate(calls)))


def place(shop, lines, locking, key=None):
    headers = dict(shop["headers"])
    if key:
        headers["Idempotency-Key"] = key

    def call(client):
        return client.post(
            "/api/orders",
            headers=headers,
            json={
                "customer_id": shop["customer_id"],
                "locking": locking,
                "lines": [{"product_id": p, "quantity": q} for p, q in lines],
            },
        )

    return call


def product_state(committed, product_id):
    """(stock left, units sold in placed orders) for a product."""
    with committed.sessions() as session:
        stock = session.scalar(select(Product.stock).where(Product.id == product_id))
        sold = session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .join(Order)
            .where(OrderLine.product_id == product_id, Order.status == "placed")
        )
    return stock, sold


def assert_only_201_or_409(responses):
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.json for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            assert response.json["type"] in ("/problems/insufficient-stock", "/problems/conflict")


@pytest.mark.parametrize(
    "strategies", [["pessimistic"], ["optimistic"], ["pessimistic", "optimistic"]]
)
def test_no_oversell_on_a_hot_product(shop_app, committed, shop, strategies):
    with committed.sessions() as session:
        hot = add_product(session, stock=12).id
    calls = [place(shop, [(hot, 1)], strategies[i % len(strategies)]) for i in range(48)]
    responses = parallel(shop_app, calls)

    assert_only_201_or_409(responses)
    placed = sum(r.status_code == 201 for r in responses)
    stock, sold = product_state(committed, hot)
    assert (stock, sold) == (12 - placed, placed)
    # Optimistic retries may give up (409 conflict) before the stock runs out; the
    # pessimistic strategy queues on the lock and sells exactly what there is.
    if strategies == ["pessimistic"]:
        assert (stock, placed) == (0, 12)
    assert stock >= 0


def deadlocks(committed) -> int:
    """Deadlocks the server has detected in this database so far."""
    with committed.connect() as conn:
        return conn.execute(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()


@pytest.mark.parametrize("locking", ["pessimistic", "optimistic"])
def test_opposite_line_orders_do_not_deadlock(shop_app, committed, shop, locking):
    with committed.sessions() as session:
        a = add_product(session, stock=1000).id
        b = add_product(session, stock=1000).id
    deadlocks_before = deadlocks(committed)
    calls = [
        place(shop, [(a, 1), (b, 1)] if i % 2 else [(b, 1), (a, 1)], locking) for i in range(40)
    ]
    responses = parallel(shop_app, calls)

    # Not one deadlock was even detected (and retried): locks are taken in id order.
    # pg_stat_database is updated asynchronously; force the counters out first.
    with committed.connect() as conn:
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
    assert deadlocks(committed) == deadlocks_before
    assert_only_201_or_409(responses)
    placed = sum(r.status_code == 201 for r in responses)
    if locking == "pessimistic":
        assert placed == 40
    assert product_state(committed, a) == (1000 - placed, placed)
    assert product_state(committed, b) == (1000 - placed, placed)


def test_restocks_orders_and_cancels_lose_no_update(shop_app, committed, shop):
    initial = 20
    with committed.sessions() as session:
        product = add_product(session, stock=initial).id
    rng = random.Random(7)
    restocks = [rng.randint(1, 5) for _ in range(20)]

    def restock(quantity):
        return lambda client: client.post(
            f"/api/products/{product}/restock", headers=shop["headers"], json={"quantity": quantity}
        )

    calls = [restock(q) for q in restocks]
    calls += [
        place(shop, [(product, rng.randint(1, 4))], rng.choice(["pessimistic", "optimistic"]))
        for _ in range(40)
    ]
    rng.shuffle(calls)
    first_wave = parallel(shop_app, calls)
    placed = [r.json["public_id"] for r in first_wave if r.status_code == 201]

    # Cancel half of the placed orders, each twice, concurrently with new orders.
    def cancel(public_id):
        return lambda client: client.post(
            f"/api/orders/{public_id}/cancel", headers=shop["headers"]
        )

    second = [cancel(pid) for pid in placed[::2] for _ in range(2)]
    second += [place(shop, [(product, 1)], "pessimistic") for _ in range(10)]
    rng.shuffle(second)
    second_wave = parallel(shop_app, second)

    assert all(r.status_code == 200 for r in first_wave if r.request.path.endswith("restock"))
    assert all(r.status_code in (200, 201, 409) for r in first_wave + second_wave)
    received = initial + sum(restocks)
    stock, sold = product_state(committed, product)
    assert received == sold + stock
    assert stock >= 0


def test_same_idempotency_key_from_many_threads_creates_one_order(shop_app, committed, shop):
    with committed.sessions() as session:
        product = add_product(session, stock=100).id
    calls = [place(shop, [(product, 2)], "pessimistic", key="once-only") for _ in range(12)]
    responses = parallel(shop_app, calls)

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert created
    assert len({r.json["public_id"] for r in created}) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json["type"] == "/problems/idempotency-in-progress"
    with committed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert product_state(committed, product) == (98, 2)


def test_a_one_statement_order_is_committed_before_the_app_reads_its_answer(
    shop_app, committed, shop
):
    """The order's statement runs on its own: by the time the app sees its result, the
    server has committed it and released the product's row lock (no COMMIT round
    trip while a flash sale queues on that row). The pooled connection goes back to
    transactions afterwards."""
    with committed.sessions() as session:
        product = add_product(session, stock=10).id
        session.commit()
    seen = []

    def after_execute(conn, cursor, statement, *args):
        if "UPDATE products" not in statement:
            return
        with committed.connect() as other:
            other.execute(text("SET lock_timeout = '1ms'"))
            stock = other.execute(
                text("SELECT stock FROM products WHERE id = :id FOR UPDATE NOWAIT"), {"id": product}
            ).scalar_one()
            other.rollback()
        seen.append(stock)

    def checkout(dbapi_connection, record, proxy):
        seen.append(("autocommit at checkout", dbapi_connection.autocommit))

    with shop_app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "checkout", checkout)
    try:
        client = shop_app.test_client()
        responses = [place(shop, [(product, 1)], "pessimistic")(client) for _ in range(2)]
    finally:
        event.remove(engine, "after_cursor_execute", after_execute)
        event.remove(engine, "checkout", checkout)
    assert [r.status_code for r in responses] == [201, 201]
    # Another connection could lock the row and saw the stock already taken.
    assert [s for s in seen if isinstance(s, int)] == [9, 8]
    assert ("autocommit at checkout", True) not in seen
    assert product_state(committed, product) == (8, 2)
