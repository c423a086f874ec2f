"""The rollups against random histories (Hypothesis, stateful): orders placed on
random days, cancelled, their totals edited, customers moving between regions,
folds of random sizes, the customer windows moved and widened, the rollups rebuilt
and backfilled, and the refused changes tried (deleting an order, moving it to
another customer or day, editing a line). After every step, every report asked a
set of questions answers the same from the rollups (plus the queue, or a customer
window) as from the raw orders.

A mutation, the trigger that queues order updates dropped, makes the same machine
fail: the check is not vacuous.

ROLLUP_STATEFUL_EXAMPLES sets the random histories tried (CI tries more). Both tests
take tens of seconds: they are ``slow`` (out of the quick loop).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from report_questions import REGIONS, differences
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.customers.models import Customer
from app.orders.models import Order, OrderLine
from app.reports.rollups import upkeep

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("ROLLUP_STATEFUL_EXAMPLES", "8"))
PRICES = (100, 250, 999, 1500)
MACHINE = settings(
    max_examples=EXAMPLES,
    stateful_step_count=14,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
UPDATES_TRIGGER = (
    "CREATE TRIGGER orders_capture_updates AFTER UPDATE ON orders"
    " REFERENCING OLD TABLE AS before NEW TABLE AS after"
    " FOR EACH STATEMENT EXECUTE FUNCTION capture_order_updates()"
)


def machine_for(committed):
    """The state machine, on the ``committed`` fixture's database."""

    class Rollups(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.engine = committed.engine
            self.customers: list[int] = []
            self.products: list[int] = []
            self.orders: list[int] = []

        def session(self) -> Session:
            return Session(self.engine)

        @initialize()
        def shop(self) -> None:
            committed.truncate()
            with self.session() as session:
                people = [
                    Customer(email=f"s{i}@example.com", name=f"S{i}", region=REGIONS[i % 3])
                    for i in range(6)
                ]
                goods = [
                    Product(sku=f"S{i}", name=f"S{i}", price_cents=price, stock=10**6)
                    for i, price in enumerate(PRICES)
                ]
                session.add_all([*people, *goods])
                session.commit()
                self.customers = [c.id for c in people]
                self.products = [p.id for p in goods]
            self.orders = []

        @rule(
            customer=st.integers(0, 5),
            lines=st.lists(
                st.tuples(st.integers(0, 3), st.integers(1, 5)),
                min_size=1,
                max_size=3,
                unique_by=lambda line: line[0],
            ),
            days_ago=st.sampled_from([0, 0, 1, 2, 29, 30, 31, 89, 90, 91, 200, 364, 365, 366]),
            cancelled=st.booleans(),
        )
        def place(self, customer, lines, days_ago, cancelled) -> None:
            day = datetime.now(UTC).date() - timedelta(days=days_ago)
            at = datetime.combine(day, time(0, 30), UTC) if days_ago else datetime.now(UTC)
            with self.session() as session:
                order = Order(
                    customer_id=self.customers[customer],
                    total_cents=sum(PRICES[p] * q for p, q in lines),
                    item_count=sum(q for _, q in lines),
                    placed_at=at,
                    status="cancelled" if cancelled and days_ago else "placed",
                )
                session.add(order)
                session.flush()
                session.add_all(
                    OrderLine(
                        order_id=order.id,
                        product_id=self.products[p],
                        quantity=q,
                        unit_price_cents=PRICES[p],
                    )
                    for p, q in lines
                )
                session.commit()
                self.orders.append(order.id)

        def _execute(self, statement: str, **params) -> None:
            with self.engine.begin() as conn:
                conn.execute(text(statement), params)

        @precondition(lambda self: self.orders)
        @rule(which=st.integers(0, 10**6), status=st.sampled_from(["cancelled", "placed"]))
        def set_status(self, which, status) -> None:
            self._execute(
                "UPDATE orders SET status = :status WHERE id = :id",
                status=status,
                id=self.orders[which % len(self.orders)],
            )

        @precondition(lambda self: self.orders)
        @rule(which=st.integers(0, 10**6), delta=st.integers(-50, 500))
        def edit_total(self, which, delta) -> None:
            self._execute(
                "UPDATE orders SET total_cents = greatest(total_cents + :delta, 0) WHERE id = :id",
                delta=delta,
                id=self.orders[which % len(self.orders)],
            )

        @rule(customer=st.integers(0, 5), region=st.sampled_from([*REGIONS, "africa"]))
        def move_customer(self, customer, region) -> None:
            self._execute(
                "UPDATE customers SET region = :region WHERE id = :id",
                region=region,
                id=self.customers[customer],
            )

        @rule(batch=st.integers(1, 4), batches=st.integers(1, 3))
        def fold(self, batch, batches) -> None:
            with self.session() as session:
                upkeep.fold_queue(session, batch=batch, max_batches=batches)

        @rule(days=st.integers(1, 400))
        def move_windows(self, days) -> None:
            with self.session() as session:
                upkeep.move_windows(session, max_days=days)
                session.commit()

        @rule()
        def widen_windows(self) -> None:
            with self.session() as session:
                upkeep.widen_windows(session)

        @rule(batch=st.integers(1, 5))
        def rebuild(self, batch) -> None:
            with self.session() as session:
                upkeep.start_over(session)
                session.commit()
                upkeep.backfill(session, batch=batch)

        @precondition(lambda self: self.orders)
        @rule(
            which=st.integers(0, 10**6),
            statement=st.sampled_from(
                [
                    "DELETE FROM orders WHERE id = :id",
                    "UPDATE orders SET placed_at = placed_at - interval '40 days' WHERE id = :id",
                    "UPDATE orders SET customer_id = customer_id + 1 WHERE id = :id",
                    "UPDATE order_lines SET quantity = quantity + 1 WHERE order_id = :id",
                    "DELETE FROM order_lines WHERE order_id = :id",
                ]
            ),
        )
        def refused(self, which, statement) -> None:
            with pytest.raises(IntegrityError) as raised:
                self._execute(statement, id=self.orders[which % len(self.orders)])
            assert raised.value.orig.sqlstate == "23001"

        @invariant()
        def every_report_answers_as_the_orders(self) -> None:
            assert differences(self.engine) == []

    return Rollups


def test_every_report_answers_as_the_orders_through_random_histories(base_app, committed):
    with base_app.app_context():
        run_state_machine_as_test(machine_for(committed), settings=MACHINE)


def test_a_dropped_trigger_fails_the_machine(base_app, committed):
    with committed.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER orders_capture_updates ON orders"))
    try:
        with base_app.app_context(), pytest.raises(AssertionError):
            # The first failing history is enough: no shrinking. Derandomized, so the
            # same histories are tried on every run (no luck either way).
            run_state_machine_as_test(
                machine_for(committed),
                settings=settings(
                    MACHINE, max_examples=50, phases=[Phase.generate], derandomize=True
                ),
            )
    finally:
        with committed.engine.begin() as conn:
            conn.execute(text(UPDATES_TRIGGER))
