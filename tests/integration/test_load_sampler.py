"""The database load sampler: average active sessions by wait class, route and
statement, one sampler per minute across processes, charted on the console."""

from __future__ import annotations

import threading
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta

import pytest
from browser_forms import add_admin, log_in
from builders import add_customer
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from waiting import wait_until

from app.extensions import db
from app.history import windows
from app.history.load import JOB, LoadSampler, counted, route_of
from app.monitoring.statement_tags import comment

LOAD_BY_CLASS = "SELECT wait_class, sum(sessions) AS n FROM db_history_load GROUP BY 1"


@pytest.fixture
def sampling_app(make_app):
    return make_app(LOAD_SAMPLE_MS=100, LOAD_WRITE_MS=300)


def test_a_sample_is_counted_by_wait_route_and_shape():
    class Row:
        def __init__(self, wait_class, query, application_name="stockroom:web:i:1"):
            self.wait_class, self.wait_event = wait_class, wait_class
            self.query, self.application_name = query, application_name

    tagged = (
        comment("orders.create", "app/orders/service.py:10 place") + "SELECT 1 FROM x WHERE id = $1"
    )
    counts = counted(
        [
            Row("CPU", tagged),
            Row("CPU", tagged.replace("$1", "42")),
            Row("Lock", "UPDATE y SET a = 1", "psql"),
        ]
    )
    # The same shape (constants and placeholders alike) from the same route is one key.
    assert sorted((k[0], k[2], n) for k, n in counts.items()) == [
        ("CPU", "orders.create", 2),
        ("Lock", "psql", 1),
    ]
    assert route_of("SELECT 1", "stockroom:jobs:host:8000:42") == "stockroom:jobs"
    assert route_of("SELECT 1", None) == "(other)"


def test_one_sampler_samples_each_minute_across_processes(sampling_app, committed):
    minute = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    first, second = LoadSampler(sampling_app), LoadSampler(sampling_app)
    with sampling_app.app_context():
        for sampler in (first, second):
            sampler.step(db.session, minute + timedelta(seconds=1))
        assert (first.mine, second.mine) == (True, False)
        assert (first.samples, second.samples) == (1, 0)
        first.step(db.session, minute + timedelta(seconds=2))
        # The next minute: the first writes the finished one, then claims again.
        first.step(db.session, minute + timedelta(minutes=1))
        written = db.session.execute(
            text("SELECT samples FROM db_history_load_samples WHERE bucket = :b"), {"b": minute}
        ).scalar()
        outcome = db.session.execute(
            text("SELECT outcome FROM db_job_runs WHERE job = :j AND period_start = :b"),
            {"j": JOB, "b": minute},
        ).scalar()
        db.session.remove()
    assert written == 2
    assert outcome == "success"


def _chain_and_busy_loop(committed, customer_id, stack: ExitStack) -> None:
    """A holder with a row lock and two sessions queued behind it, and one session
    busy on a CPU; all undone when ``stack`` closes."""
    holder = stack.enter_context(committed.connect())
    holder.begin()
    holder.execute(text("SELECT 1 FROM customers WHERE id = :id FOR UPDATE"), {"id": customer_id})
    stack.callback(holder.rollback)
    threads = []

    def wait_in_line():
        with committed.connect() as conn:
            conn.execute(text("SET lock_timeout = '20s'"))
            with suppress(OperationalError):
                conn.execute(
                    text("UPDATE customers SET name = name WHERE id = :id"), {"id": customer_id}
                )
            conn.rollback()

    def busy():
        with committed.connect() as conn:
            conn.execute(text("SET statement_timeout = '8s'"))
            # Cancelled at the timeout: the loop only has to run meanwhile.
            with suppress(OperationalError):
                conn.execute(text("SELECT count(*) FROM generate_series(1, 400000000)"))
            conn.rollback()

    for target in (wait_in_line, wait_in_line, busy):
        thread = threading.Thread(target=target)
        thread.start()
        threads.append(thread)
    stack.callback(lambda: [t.join(timeout=30) for t in threads])


def test_a_lock_chain_and_a_busy_loop_show_as_lock_and_cpu_load(sampling_app, committed):
    # Not the admin_client fixture: its sessions join the test's rolled-back
    # transaction, and the sampler must commit from a thread of its own.
    with committed.sessions() as setup:
        customer_id = add_customer(setup).id
        add_admin(setup)
        setup.commit()
    sampler = LoadSampler(sampling_app)
    sampler.start()
    try:
        with ExitStack() as stack, committed.connect() as looker:
            _chain_and_busy_loop(committed, customer_id, stack)

            def both_seen():
                looker.rollback()
                seen = dict(looker.execute(text(LOAD_BY_CLASS)).all())
                return seen if seen.get("Lock", 0) >= 2 and seen.get("CPU", 0) >= 1 else None

            seen = wait_until(both_seen, timeout=15, message="no Lock and CPU load sampled")
    finally:
        sampler.stop()
    assert seen["Lock"] >= 2 and seen["CPU"] >= 1
    # The console charts it, and says where it went.
    with sampling_app.app_context():
        shown = windows.window(db.session, "1h")
        series = windows.load_series(db.session, shown)
        db.session.remove()
    assert max(v or 0 for v in series["Lock"]) > 0
    assert max(v or 0 for v in series["CPU"]) > 0
    console = sampling_app.test_client()
    assert log_in(console).status_code == 302
    page = console.get("/admin/db/queries/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="load-chart"' in html
    assert 'data-series="Lock"' in html and 'data-series="CPU"' in html
    assert "UPDATE customers SET name = name" in html
