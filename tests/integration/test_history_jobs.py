"""The history's periodic jobs and the pool telemetry, in one process: one claim
per period, hourly folds, pruning in batches, the hold-time histogram and the
leak log."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from app.db.sql import query
from app.extensions import db
from app.history.recorder import HISTORY_JOBS, Sampler, fold_hour, prune
from app.jobs.scheduler import Job, JobRunner, claim, record_outcome
from app.monitoring import latency_buckets
from app.monitoring.minute_totals import minute_totals
from app.monitoring.reporter import Reporter

HOUR = datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_one_claim_wins_each_period_across_threads(committed):
    period = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
    barrier = threading.Barrier(6)
    won: list[bool] = []

    def try_claim():
        with committed.sessions() as session:
            barrier.wait()
            won.append(claim(session, "test-job", period))
            session.commit()

    threads = [threading.Thread(target=try_claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]


def test_a_jobs_old_claims_go_as_it_runs(committed):
    now = datetime.now(UTC)
    with committed.sessions() as session:
        for days in (45, 31, 29):
            assert claim(session, "test-job", now - timedelta(days=days))
        assert claim(session, "other-job", now - timedelta(days=45))
        record_outcome(session, "test-job", now, 0.1, None)
        session.commit()
        kept = session.execute(
            text("SELECT job, now() - period_start > interval '30 days' FROM db_job_runs")
        ).all()
    # Its own claims past 30 days are gone; another job's wait for that job's runs.
    assert sorted(tuple(row) for row in kept) == [
        ("other-job", True),
        ("test-job", False),
        ("test-job", False),
    ]


def test_a_runner_runs_each_closed_period_once_and_a_failed_atomic_job_again(base_app, committed):
    runs: list[datetime] = []
    failures = iter([True, False])

    def job(app, session, start):
        runs.append(start)
        if next(failures, False):
            raise RuntimeError("first attempt fails")

    runners = [JobRunner(base_app, [Job("test-every-10s", lambda app: 10, job)]) for _ in range(2)]
    with committed.sessions() as session:
        now = 1_700_000_025.0  # the period 10..20 of this minute has just closed
        assert runners[0].tick(session, now) == []  # failed: its claim rolled back
        assert runners[1].tick(session, now) == ["test-every-10s"]  # the other one retries
        assert runners[0].tick(session, now + 1) == []  # same period: not again
        assert runners[1].tick(session, now + 10) == ["test-every-10s"]  # the next one
    closed = datetime.fromtimestamp(1_700_000_010, UTC)
    assert runs == [closed, closed, closed + timedelta(seconds=10)]


def _minute_row(session, minute: int, instance: str, counts: list[int], requests: int) -> None:
    session.execute(
        text(
            "INSERT INTO db_history_endpoints VALUES (:bucket, :instance, 'e', :requests, 1, 0, "
            ":counts, :maximum, 0.5, 3)"
        ),
        {
            "bucket": HOUR + timedelta(minutes=minute),
            "instance": instance,
            "requests": requests,
            "counts": counts,
            "maximum": minute / 100,
        },
    )


def test_a_closed_hour_folds_into_one_row_per_instance_and_endpoint(base_app, committed):
    minutes = [
        (0, "a", [1, 2], 3),
        (30, "a", [0, 0, 0, 4], 4),
        (59, "a", [5], 5),
        (15, "b", [2], 2),
        (60, "a", [100], 100),  # the next hour: not folded
    ]
    with committed.sessions() as session:
        for row in minutes:
            _minute_row(session, *row)
        fold_hour(base_app, session, HOUR)
        fold_hour(base_app, session, HOUR)  # again: the same sums, not doubled
        session.commit()
        rows = session.execute(
            text(
                "SELECT instance, requests, errors_4xx, latency_counts, latency_max, queries "
                "FROM db_history_endpoints_hourly ORDER BY instance"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("a", 12, 3, latency_buckets.merged([[1, 2], [0, 0, 0, 4], [5]]), 0.59, 9),
        ("b", 2, 1, [2], 0.15, 3),
    ]


def test_pruning_deletes_old_rows_in_batches_and_keeps_the_rest(make_app, committed):
    app = make_app(DB_HISTORY_DAYS=7, DB_HISTORY_PRUNE_BATCH=5)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with committed.sessions() as session:
        for minute in range(12):
            _minute_row(session, 0, f"old-{minute}", [1], 1)
        session.execute(
            text("UPDATE db_history_endpoints SET bucket = :old"),
            {"old": now - timedelta(days=8)},
        )
        for minute in range(3):
            session.execute(
                text(
                    "INSERT INTO db_history_endpoints "
                    "VALUES (:bucket, 'new', 'e', 1, 0, 0, '{1}', 0, 0, 0)"
                ),
                {"bucket": now - timedelta(minutes=minute)},
            )
        session.commit()
    batches = []
    with app.app_context():

        def count(conn, cursor, statement, parameters, context, executemany):
            if "One batch of history pruning" in statement:
                batches.append(parameters["batch"])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert prune(app, db.session) == 12
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
            db.session.remove()
    assert batches == [5, 5, 5]  # 5 + 5 + 2 rows: three short transactions
    with committed.sessions() as session:
        left = session.execute(
            text("SELECT instance, count(*) FROM db_history_endpoints GROUP BY 1")
        )
        assert dict(left.all()) == {"new": 3}


def test_the_prune_job_is_hourly_and_not_atomic():
    jobs = {job.name: job for job in HISTORY_JOBS}
    assert jobs["history-prune"].atomic is False
    assert jobs["history-fold-hour"].delay > 60


@pytest.fixture
def leak_app(make_app):
    app = make_app(DB_LEAK_SECONDS=1, DB_HISTORY_INTERVAL_SECONDS=60)
    minute_totals.configure(app)
    return app


def test_a_held_connection_lands_in_the_hold_histogram(leak_app, committed):
    reporter = Reporter(leak_app, tick=Sampler(leak_app).tick)
    start = time.time()
    reporter.report(now=start)  # opens a fresh bucket from here on
    with leak_app.app_context(), db.engine.connect():
        time.sleep(1.0)  # the point: a hold of about 1 s, for the 1 s histogram bucket
    reporter.report(now=start + 120)  # the bucket closed: written
    with committed.sessions() as session:
        counts = session.execute(
            text(
                "SELECT hold_counts FROM db_history_pool WHERE pid = :pid "
                "ORDER BY bucket DESC LIMIT 1"
            ),
            {"pid": os.getpid()},
        ).scalar_one()
    held = latency_buckets.slot(1.0)
    # Counted in the bucket of about 1 s (the reporter's own checkouts are far
    # shorter, even on a loaded CI machine, where one once took 0.2-0.4 s).
    assert sum(counts[held - 1 : held + 2]) == 1
    assert sum(counts[held + 2 :]) == 0


def test_a_leak_logs_its_stack_once(leak_app, caplog):
    from app.monitoring.pool_tracking import pool_snapshot

    release = threading.Event()
    holding = threading.Event()

    def forgetful_job():
        with leak_app.app_context(), db.engine.connect():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=forgetful_job, name="forgetful")
    thread.start()
    try:
        holding.wait(5)
        time.sleep(1.2)  # the point: held past DB_LEAK_SECONDS (1 s)
        with (
            caplog.at_level(logging.WARNING, logger="app.monitoring.pool_tracking"),
            leak_app.app_context(),
        ):
            first = pool_snapshot(db.engine.pool, 1)
            second = pool_snapshot(db.engine.pool, 1)
    finally:
        release.set()
        thread.join()
    assert len(first["held_too_long"]) == len(second["held_too_long"]) == 1
    leaks = [r.getMessage() for r in caplog.records if "stack of the checkout" in r.getMessage()]
    assert len(leaks) == 1
    assert "forgetful" in leaks[0]  # the thread
    assert "tests/integration/test_history_jobs.py" in leaks[0] and "in forgetful_job" in leaks[0]


def test_a_minute_written_after_its_hour_was_folded_is_folded_by_the_next_run(base_app, committed):
    def write(session, minute: int, requests: int) -> None:
        _minute_row(session, minute, "a", [requests], requests)
        # As write_bucket does with every bucket it writes.
        session.execute(
            query("app.history", "history_hour_written.sql"),
            {"bucket": HOUR + timedelta(minutes=minute)},
        )

    def hourly(session) -> list[tuple]:
        return [
            tuple(row)
            for row in session.execute(
                text("SELECT bucket, requests FROM db_history_endpoints_hourly ORDER BY 1")
            )
        ]

    with committed.sessions() as session:
        write(session, 10, 3)
        fold_hour(base_app, session, HOUR)
        assert hourly(session) == [(HOUR, 3)]
        write(session, 50, 4)  # late: a worker that could not reach the database
        fold_hour(base_app, session, HOUR + timedelta(hours=1))  # the next hour's run
        assert hourly(session) == [(HOUR, 7)]
        fold_hour(base_app, session, HOUR + timedelta(hours=2))  # nothing new: unchanged
        assert hourly(session) == [(HOUR, 7)]
        session.commit()
