"""The reports' rollups: every report that has them answers the same from them as from the
raw orders, through folds, cancellations after the day closed, edits of totals, price
changes and today's orders not folded yet; the fold and the backfill can be stopped at
any point and run again; orders placed while they run are neither lost nor deadlocked.

(No path in Stockroom changes an order's customer or time; the sums would follow such
an edit, the cohorts' activity would not until ``flask rollup rebuild``.)"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from browser_forms import add_admin, log_in
from builders import bearer
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.customers.models import Customer
from app.db.sql import query
from app.db.transactions import run_in_transaction
from app.jobs.scheduler import JobRunner, registered
from app.orders.models import Order, OrderLine
from app.reports.definitions import REPORTS
from app.reports.forms import EARLIEST
from app.reports.rollups import upkeep
from app.reports.runner import _in_read_only_transaction

TODAY = datetime.now(UTC).date()
REGIONS = ("europe", "asia-pacific", "north-america")


def cases() -> list[tuple[str, dict]]:
    """Filters that exercise every split of a range: whole months only, partial
    months at either end, a range inside one month, the widest ranges, today alone.
    Worked out when called, as the report forms do per request (a test that runs
    past midnight places orders after the day it started in)."""
    today = datetime.now(UTC).date()
    first_of_month = today.replace(day=1)
    ranges = [
        (today - timedelta(days=89), today + timedelta(days=1)),  # the default
        (today - timedelta(days=1098), today + timedelta(days=1)),  # the widest
        (today, today + timedelta(days=1)),  # today alone
        ((first_of_month - timedelta(days=75)).replace(day=1), first_of_month),  # whole months
        (first_of_month - timedelta(days=50), first_of_month - timedelta(days=40)),  # in one
        (first_of_month - timedelta(days=100), first_of_month - timedelta(days=3)),
    ]
    found = []
    for start, end in ranges:
        span = {"date_from": start, "date_to": end}
        found.append(("daily-revenue", span))
        found.append(("product-ranking", {**span, "row_limit": 100}))
    for days in (1, 30, 365):
        found.append(
            (
                "stock-cover",
                {
                    "since": today - timedelta(days=days - 1),
                    "days": days,
                    "reorder_days": 14,
                    "row_limit": 100,
                },
            )
        )
    for start in (EARLIEST, (today - timedelta(days=200)).replace(day=1), today.replace(day=1)):
        found.append(
            (
                "cohort-retention",
                {"date_from": start, "date_to": today + timedelta(days=1), "max_months": 36},
            )
        )
    return found


def top_customer_cases() -> list[dict]:
    """Top customers' filters: the same ranges (each a different split against every
    window), a few sizes of the top, every region and one."""
    found = []
    for slug, params in cases():
        if slug != "daily-revenue":
            continue
        for top_n, region in ((1, None), (3, None), (10, None), (2, REGIONS[1])):
            found.append({**params, "top_n": top_n, "region": region})
    return found


def top_customers_from_each_window(params: dict) -> dict[int, list[tuple]]:
    """Top customers' rows ranked from each customer sales window where it is now
    (whichever the report's plan would pick), read in one snapshot."""
    statement = query("app.reports", "top_customers.sql")

    def work(conn):
        windows = conn.execute(text("SELECT window_days, starts_on FROM customer_sales_windows"))
        return {
            days: [
                tuple(row)
                for row in conn.execute(
                    statement,
                    {**params, "rollups": True, "window_days": days, "window_starts_on": starts},
                )
            ]
            for days, starts in windows.all()
        }

    return _in_read_only_transaction(work)


def answer(slug: str, params: dict, *, from_rollups: bool) -> list[tuple]:
    """The report's rows, from the rollups (plus the queue) or from the raw orders."""
    statement = query("app.reports", REPORTS[slug].sql)
    if slug == "top-customers":  # its plan's parameters; a window only through the plan
        assert not from_rollups
        params = {**params, "window_days": None, "window_starts_on": None}
    return _in_read_only_transaction(
        lambda conn: [
            tuple(row) for row in conn.execute(statement, {**params, "rollups": from_rollups})
        ]
    )


def assert_rollups_match_raw(app) -> int:
    """Every case answers the same both ways (top customers from every window);
    the number of rows compared."""
    compared = 0
    with app.app_context():
        for slug, params in cases():
            raw = answer(slug, params, from_rollups=False)
            assert answer(slug, params, from_rollups=True) == raw, (slug, params)
            compared += len(raw)
        for params in top_customer_cases():
            raw = answer("top-customers", params, from_rollups=False)
            for days, rows in top_customers_from_each_window(params).items():
                assert rows == raw, (days, params)
            compared += len(raw)
    return compared


def move_windows(committed, today=None, max_days: int = 2000) -> int | None:
    """Move the customer sales windows (all the way, by default) and commit."""
    with Session(committed.engine) as session:
        left = upkeep.move_windows(session, today=today, max_days=max_days)
        session.commit()
        return left


def fold_all(committed) -> int:
    with Session(committed.engine) as session:
        return upkeep.fold_queue(session, max_batches=1000)


def progress(committed) -> upkeep.Progress:
    with Session(committed.engine) as session:
        return upkeep.progress(session)


class RandomOrders:
    """Customers, products and random orders, committed through the ORM (the
    triggers queue them like any order)."""

    def __init__(self, committed, seed: int = 7, customers: int = 12) -> None:
        self.committed = committed
        self.rng = random.Random(seed)
        with committed.sessions() as session:
            people = [
                Customer(email=f"c{i}@example.com", name=f"C{i}", region=REGIONS[i % 3])
                for i in range(customers)
            ]
            products = [
                Product(sku=f"P{i}", name=f"P{i}", price_cents=100 * (i + 1), stock=10**6)
                for i in range(6)
            ]
            session.add_all([*people, *products])
            session.commit()
            self.customers = [c.id for c in people]
            self.products = {p.id: p.price_cents for p in products}

    def add_orders(self, n: int, *, days_back: int = 500, today_only: bool = False) -> list[int]:
        """``n`` random orders over the last ``days_back`` days (or today), in one
        transaction: every order in one flush, then every line in another."""
        drawn = []
        for _ in range(n):
            day = TODAY if today_only else TODAY - timedelta(days=self.rng.randint(0, days_back))
            hour = self.rng.randint(0, datetime.now(UTC).hour) if day == TODAY else 12
            chosen = self.rng.sample(sorted(self.products), self.rng.randint(1, 3))
            lines = [(p, self.rng.randint(1, 4)) for p in chosen]
            order = Order(
                customer_id=self.rng.choice(self.customers),
                total_cents=sum(self.products[p] * q for p, q in lines),
                item_count=sum(q for _, q in lines),
                placed_at=datetime.combine(day, time(hour, self.rng.randint(0, 59)), UTC),
                status="cancelled" if self.rng.random() < 0.05 else "placed",
            )
            drawn.append((order, lines))
        with self.committed.sessions() as session:
            session.add_all(order for order, _lines in drawn)
            session.flush()  # the orders' ids, in the order they were drawn
            session.add_all(
                OrderLine(
                    order_id=order.id,
                    product_id=p,
                    quantity=q,
                    unit_price_cents=self.products[p],
                )
                for order, lines in drawn
                for p, q in lines
            )
            ids = [order.id for order, _lines in drawn]
            session.commit()
        return ids

    def execute(self, statement: str, **params) -> None:
        with self.committed.engine.begin() as conn:
            conn.execute(text(statement), params)


def test_rollups_answer_as_the_raw_orders_through_folds_cancellations_and_edits(
    base_app, committed
):
    sales = RandomOrders(committed)
    ids = sales.add_orders(400)
    assert progress(committed).queued == 400
    # Nothing folded yet: the rollups are empty and the queue carries everything.
    assert assert_rollups_match_raw(base_app) > 100

    assert fold_all(committed) == 400
    assert progress(committed).queued == 0
    assert_rollups_match_raw(base_app)

    # Cancellations of orders whose days and months closed long ago, queued as -1s.
    old = sorted(ids)[:60]
    sales.execute(
        "UPDATE orders SET status = 'cancelled', cancelled_at = now() "
        "WHERE id = ANY(:ids) AND status = 'placed'",
        ids=old,
    )
    assert progress(committed).queued > 0
    assert_rollups_match_raw(base_app)  # folded sums plus queued -1s
    fold_all(committed)
    assert_rollups_match_raw(base_app)

    # A price change touches no past order; a late edit of an order's total (and an
    # order put back to placed) lands in the sums.
    before = answer_all(base_app, "product-ranking")
    sales.execute("UPDATE products SET price_cents = price_cents * 3")
    assert answer_all(base_app, "product-ranking") == before
    sales.execute(
        "UPDATE orders SET total_cents = total_cents + 7 WHERE id = ANY(:ids)",
        ids=sorted(ids)[100:130],
    )
    sales.execute("UPDATE orders SET status = 'placed' WHERE id = ANY(:ids)", ids=old[:5])
    assert_rollups_match_raw(base_app)
    fold_all(committed)
    assert_rollups_match_raw(base_app)

    # Today's orders, not folded yet: counted from the queue.
    sales.add_orders(25, today_only=True)
    assert_rollups_match_raw(base_app)
    fold_all(committed)
    assert_rollups_match_raw(base_app)


def window_rows(committed) -> dict[tuple[int, int], tuple]:
    with committed.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT window_days, customer_id, region, orders FROM customer_window_sales")
        )
        return {(r.window_days, r.customer_id): (r.region, r.orders) for r in rows}


def test_top_customers_from_the_customer_windows_answer_as_the_raw_orders(base_app, committed):
    # 45 customers, 15 a region: a region's top 1, 2, 3 or 10 leaves most of them out.
    sales = RandomOrders(committed, customers=45)
    ids = sales.add_orders(700, days_back=1200)
    fold_all(committed)
    # Created empty (starting tomorrow): nothing folded into them, every answer exact.
    assert window_rows(committed) == {}
    assert_rollups_match_raw(base_app)
    assert move_windows(committed) == 0
    windows = window_rows(committed)
    assert {days for days, _ in windows} == {30, 90, 365, 1099}
    assert assert_rollups_match_raw(base_app) > 200

    # Cancellations of long-closed days and a changed total, queued then folded.
    sales.execute(
        "UPDATE orders SET status = 'cancelled' WHERE id = ANY(:ids) AND status = 'placed'",
        ids=sorted(ids)[::9],
    )
    sales.execute("UPDATE orders SET total_cents = total_cents * 5 WHERE id = :id", id=ids[-1])
    assert_rollups_match_raw(base_app)
    fold_all(committed)
    assert_rollups_match_raw(base_app)

    # Customers moving region: their window sums follow them once folded, and the
    # report ranks them in their new region before that.
    movers = sales.customers[:4]
    sales.execute("UPDATE customers SET region = 'africa' WHERE id = ANY(:ids)", ids=movers[:2])
    sales.execute(
        "UPDATE customers SET region = :region WHERE id = :id", region=REGIONS[1], id=movers[2]
    )
    sales.execute("UPDATE customers SET name = 'Renamed' WHERE id = :id", id=movers[3])
    with committed.engine.connect() as conn:
        queued = conn.execute(text("SELECT customer_id FROM customer_region_changes")).scalars()
        assert sorted(queued) == sorted(movers[:3])  # a rename moves nobody
    assert_rollups_match_raw(base_app)
    fold_all(committed)
    moved = window_rows(committed)
    assert {moved[key][0] for key in moved if key[1] in movers[:2]} == {"africa"}
    assert_rollups_match_raw(base_app)

    # A region whose only orders were free: no share (no division by zero).
    with committed.sessions() as session:
        session.add(Customer(email="free@example.com", name="Free", region="middle-east"))
        session.commit()
    sales.execute(
        "INSERT INTO orders (customer_id, total_cents, item_count, placed_at)"
        " SELECT id, 0, 1, now() - interval '3 days' FROM customers"
        " WHERE email = 'free@example.com'"
    )
    with base_app.app_context():
        leaders = answer("top-customers", top_customer_cases()[0], from_rollups=False)
    assert [row[7] for row in leaders if row[0] == "middle-east"] == [None]  # region_share
    assert_rollups_match_raw(base_app)

    # Today's orders not folded yet, then days passing: the windows move forward,
    # dropping the days they leave (partly, as the job does a step at a time), and
    # widen back.
    sales.add_orders(30, today_only=True)
    assert_rollups_match_raw(base_app)
    assert move_windows(committed, today=TODAY + timedelta(days=40), max_days=25) > 0
    assert_rollups_match_raw(base_app)
    assert move_windows(committed, today=TODAY + timedelta(days=40)) == 0
    fold_all(committed)
    assert_rollups_match_raw(base_app)
    assert move_windows(committed) == 0
    assert_rollups_match_raw(base_app)


def test_top_customers_ranks_from_the_window_nearest_its_range(base_app, committed):
    sales = RandomOrders(committed, customers=30)
    sales.add_orders(300, days_back=400)
    fold_all(committed)
    with committed.sessions() as session:
        add_admin(session)
    client = base_app.test_client()
    assert log_in(client).status_code == 302

    def footer(query_string: str = "") -> str:
        page = client.get(f"/reports/top-customers{query_string}")
        assert page.status_code == 200
        return page.text

    # Windows not in place yet: the orders themselves, and the footer says so.
    assert 'data-rollups="false"' in footer() and "read from the orders" in footer()
    move_windows(committed)
    assert 'data-rollups="true"' in footer() and "changes not folded yet" in footer()
    widest = f"?date_from={TODAY - timedelta(days=1098)}&date_to={TODAY}"
    assert 'data-rollups="true"' in footer(widest)
    # A week a year ago is nearer no window than its own few orders: read directly.
    old_week = f"?date_from={TODAY - timedelta(days=370)}&date_to={TODAY - timedelta(days=364)}"
    assert 'data-rollups="false"' in footer(old_week)
    with base_app.app_context():
        plan = query("app.reports", "top_customers_plan.sql")
        chosen = _in_read_only_transaction(
            lambda conn: conn.execute(
                plan,
                {
                    "rollups": True,
                    "date_from": TODAY - timedelta(days=29),
                    "date_to": TODAY + timedelta(days=1),
                },
            ).one()
        )
    assert chosen.rollups and chosen.window_days == 30


def answer_all(app, slug: str) -> list:
    with app.app_context():
        return [answer(s, p, from_rollups=True) for s, p in cases() if s == slug]


def test_a_fold_killed_midway_leaves_everything_as_it_was_and_a_second_fold_adds_nothing(
    base_app, committed
):
    sales = RandomOrders(committed)
    sales.add_orders(150)
    # Killed inside its transaction: the rollback undoes the consumed queue too.
    with Session(committed.engine) as session:
        result = upkeep.fold_batch(session)
        assert result is not None and result.queued == 150
        session.rollback()
    assert progress(committed).queued == 150
    with committed.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sales_days")).scalar() == 0

    assert fold_all(committed) == 150
    assert fold_all(committed) == 0
    assert_rollups_match_raw(base_app)


def test_the_backfill_reads_older_orders_and_resumes_where_it_stopped(base_app, committed):
    sales = RandomOrders(committed)
    ids = sales.add_orders(300)
    fold_all(committed)
    # As after a migration onto existing orders (or a seed): every order is the
    # backfill's, and until it is through the reports read the raw orders.
    with Session(committed.engine) as session:
        upkeep.start_over(session)
        session.commit()
    state = progress(committed)
    assert not state.ready and state.historic_through_id == max(ids)

    # Orders keep coming and older ones get cancelled while it is stopped.
    new = sales.add_orders(20, today_only=True)
    sales.execute(
        "UPDATE orders SET status = 'cancelled' WHERE id = ANY(:ids)", ids=sorted(ids)[:10]
    )

    class Stop(Exception):
        pass

    def stop_after_three(result: upkeep.FoldResult) -> None:
        if result.backfilled_through_id >= min(ids) + 120:
            raise Stop

    with Session(committed.engine) as session, pytest.raises(Stop):
        upkeep.backfill(session, batch=40, on_batch=stop_after_three)
    stopped = progress(committed)
    assert 0 < stopped.backfilled_through_id < stopped.historic_through_id
    assert 0 < stopped.percent < 100

    # More cancellations, on both sides of where it stopped, then the rest.
    sales.execute(
        "UPDATE orders SET status = 'cancelled' WHERE id = ANY(:ids)",
        ids=[*sorted(ids)[20:30], *sorted(ids)[-10:], *new[:3]],
    )
    with Session(committed.engine) as session:
        last = upkeep.backfill(session, batch=40)
    assert last is not None and last.backfill_done
    finished = progress(committed)
    assert finished.ready and finished.backfilled_at is not None
    fold_all(committed)
    assert_rollups_match_raw(base_app)


def test_orders_placed_and_cancelled_while_the_rollups_fold_and_backfill(make_app, committed):
    app = make_app(GUNICORN_THREADS=6, DB_LOCK_TIMEOUT_MS=10_000)
    sales = RandomOrders(committed)
    sales.add_orders(300)
    with committed.sessions() as session:
        headers = bearer(session)
    with Session(committed.engine) as session:
        upkeep.start_over(session)
        session.commit()

    errors: list[BaseException] = []
    placed: list[str] = []
    stop = threading.Event()

    def buyer(seed: int) -> None:
        rng = random.Random(seed)
        client = app.test_client()
        try:
            for _ in range(25):
                lines = rng.sample(sorted(sales.products), rng.randint(1, 3))
                response = client.post(
                    "/api/orders",
                    headers=headers,
                    json={
                        "customer_id": rng.choice(sales.customers),
                        "lines": [{"product_id": p, "quantity": 1} for p in lines],
                    },
                )
                assert response.status_code == 201, response.text
                placed.append(response.json["public_id"])
                if rng.random() < 0.3:
                    victim = rng.choice(placed)
                    cancelled = client.post(f"/api/orders/{victim}/cancel", headers=headers)
                    assert cancelled.status_code == 200, cancelled.text
        except BaseException as error:  # reported below
            errors.append(error)

    def folder() -> None:
        try:
            with Session(committed.engine) as session:
                upkeep.backfill(session, batch=25)
                upkeep.widen_windows(session, max_days=100)
                while not stop.is_set():
                    upkeep.fold_queue(session)
                    # The windows a day ahead and back: days leave and come in.
                    for today in (TODAY + timedelta(days=1), TODAY):
                        run_in_transaction(
                            session,
                            lambda s, t=today: upkeep.move_windows(s, today=t, max_days=400),
                        )
        except BaseException as error:
            errors.append(error)

    buyers = [threading.Thread(target=buyer, args=(n,)) for n in range(4)]
    folding = threading.Thread(target=folder)
    folding.start()
    for thread in buyers:
        thread.start()
    for thread in buyers:
        thread.join(120)
    stop.set()
    folding.join(120)
    assert not errors, errors
    assert len(placed) == 100
    fold_all(committed)
    assert progress(committed).ready
    assert_rollups_match_raw(app)


def test_the_report_footer_says_what_the_answer_is_as_of(base_app, committed):
    sales = RandomOrders(committed)
    sales.add_orders(60)
    with committed.sessions() as session:
        add_admin(session)
    client = base_app.test_client()
    assert log_in(client).status_code == 302

    page = client.get("/reports/daily-revenue")
    assert 'data-rollups="true"' in page.text
    assert "60 changes not folded yet" in page.text
    fold_all(committed)
    page = client.get("/reports/daily-revenue")
    assert "plus 0 changes not folded yet" in page.text
    assert "exact as of" in page.text

    with Session(committed.engine) as session:
        upkeep.start_over(session)
        session.commit()
    for slug in REPORTS:
        page = client.get(f"/reports/{slug}")
        assert page.status_code == 200
        assert 'data-rollups="false"' in page.text
        assert "read from the orders: the rollups&#39; backfill is 0 % through" in page.text


def test_rollup_commands_show_progress_and_resume(base_app, committed):
    sales = RandomOrders(committed)
    sales.add_orders(120)
    runner = base_app.test_cli_runner()
    rebuilt = runner.invoke(args=["rollup", "rebuild", "--yes", "--batch", "100"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "backfilled 120 older orders" in rebuilt.output
    assert "ready: reports read the rollups" in rebuilt.output
    assert "moved the customer windows" in rebuilt.output
    assert "customer windows: in place" in rebuilt.output
    sales.add_orders(5, today_only=True)
    status = runner.invoke(args=["rollup", "status"])
    assert "queued changes: 5" in status.output
    folded = runner.invoke(args=["rollup", "fold"])
    assert "folded 5 changes" in folded.output
    again = runner.invoke(args=["rollup", "backfill"])
    assert again.exit_code == 0 and "backfilled 0 older orders" in again.output
    assert runner.invoke(args=["rollup", "rebuild", "--batch", "5"]).exit_code == 2
    assert_rollups_match_raw(base_app)


def test_the_jobs_runner_folds_the_queue_once_a_minute(base_app, committed):
    sales = RandomOrders(committed)
    sales.add_orders(30)
    with Session(committed.engine) as session:
        assert "rollups" in JobRunner(base_app, registered(base_app)).tick(session)
        assert "rollups" not in JobRunner(base_app, registered(base_app)).tick(session)
    state = progress(committed)
    assert state.queued == 0 and state.folded_at is not None
    assert_rollups_match_raw(base_app)


def test_rollup_commands_on_a_database_not_migrated_yet_say_so(make_app, make_database):
    app = make_app(make_database())
    result = app.test_cli_runner().invoke(args=["rollup", "status"])
    assert result.exit_code == 1
    assert "run flask db upgrade first" in result.output
    assert "Traceback" not in result.output
