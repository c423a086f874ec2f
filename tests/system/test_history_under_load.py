"""The console's history, written by real gunicorn workers under load: rows per
bucket for every worker and endpoint, statement shapes counted exactly, one writer
per bucket for the server-wide samples, deploys and migrations recorded, pruning in
batches, and the pool's hold-time histogram and leak log."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from browser_forms import add_admin, log_in
from processes import get_json
from shop import Shop, post_order, start_gunicorn, start_jobs
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from waiting import wait_until

from app.db.sql import query
from app.extensions import db
from app.monitoring import latency_buckets
from app.monitoring.statement_text import fingerprint_of

INTERVAL = 2  # seconds per history bucket in these tests
WORKERS = 2


@pytest.fixture(scope="module")
def loaded():
    """A shop served by 2 gunicorn workers with 2-second history buckets, after 8
    seconds of orders and reads; what the clients sent."""
    root = Path(tempfile.mkdtemp(prefix="stockroom-history-", dir="/tmp"))
    shop = Shop(root, database="stockroom_history", stocks=(1_000_000,) * 4)
    server = start_gunicorn(
        shop,
        root,
        WEB_CONCURRENCY=WORKERS,
        GUNICORN_THREADS=4,
        DB_REPORT_INTERVAL=1,
        DB_HISTORY_INTERVAL_SECONDS=INTERVAL,
        STOCKROOM_VERSION="history-test-1",
    )
    # Two jobs processes: the server samples still have one writer per bucket.
    jobs = [
        start_jobs(shop, root, DB_REPORT_INTERVAL=1, DB_HISTORY_INTERVAL_SECONDS=INTERVAL)
        for _ in range(2)
    ]
    sent: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        while not stop.is_set():
            status, *_ = post_order(server, shop, [shop.product_ids[number % 4]])
            get_status, _body = get_json(f"{server.url}/healthz")
            with lock:
                sent[("order", status)] += 1
                sent[("healthz", get_status)] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    started = time.time()
    for thread in threads:
        thread.start()
    time.sleep(4 * INTERVAL)  # the load itself: orders over several buckets
    stop.set()
    for thread in threads:
        thread.join()
    ended = time.time()
    # Every worker writes the bucket that was open when the load stopped once it
    # closes, and the server-sample job samples after it: wait until both have
    # happened for the bucket after that one, so the load's buckets are complete.
    last = int(ended) - int(ended) % INTERVAL  # the bucket open when the load stopped

    def written_past_the_load() -> bool:
        workers = shop.sql(
            "SELECT count(DISTINCT pid) FROM db_history_pool WHERE extract(epoch FROM bucket) > %s"
            " AND pid <> ALL(%s)",
            [last, [job.process.pid for job in jobs]],
        )[0][0]
        sampled = shop.sql(
            "SELECT count(*) FROM db_job_runs WHERE job = 'history-server-sample' "
            "AND extract(epoch FROM period_start) > %s",
            [last],
        )[0][0]
        return workers == WORKERS and sampled > 0

    wait_until(
        written_past_the_load,
        timeout=30,
        interval=0.2,
        message="the workers did not write the buckets after the load",
    )
    try:
        yield shop, server, sent, started, ended
    finally:
        for job in jobs:
            job.stop()
        server.stop()
        shop.server.stop()


def test_every_request_is_counted_once_in_the_endpoint_history(loaded):
    shop, _server, sent, _started, _ended = loaded
    rows = shop.sql(
        "SELECT endpoint, sum(requests), sum(errors_4xx), sum(errors_5xx) "
        "FROM db_history_endpoints GROUP BY endpoint"
    )
    totals = {endpoint: (requests, e4, e5) for endpoint, requests, e4, e5 in rows}
    orders = sum(n for (kind, _s), n in sent.items() if kind == "order")
    healthz = sum(n for (kind, _s), n in sent.items() if kind == "healthz")
    assert sent[("order", 201)] == orders > 50
    assert totals["api.orders.orders_create"] == (orders, 0, 0)
    assert totals["health.healthz"][0] == healthz
    # "*" adds up every endpoint of the instance.
    assert totals["*"][0] == sum(r for e, (r, *_x) in totals.items() if e != "*")


def test_each_bucket_of_the_load_has_its_rows(loaded):
    shop, _server, _sent, started, ended = loaded
    buckets = shop.sql(
        "SELECT extract(epoch FROM bucket)::bigint, requests, latency_counts "
        "FROM db_history_endpoints WHERE endpoint = 'api.orders.orders_create' ORDER BY 1"
    )
    seen = [bucket for bucket, _r, _c in buckets]
    first = int(started) - int(started) % INTERVAL + INTERVAL
    last = int(ended) - int(ended) % INTERVAL - INTERVAL
    # Every bucket wholly inside the load has orders; buckets are INTERVAL apart.
    assert set(range(first, last + 1, INTERVAL)) <= set(seen)
    for _bucket, requests, counts in buckets:
        assert sum(counts) == requests  # the latency histogram counts every request
    pool = shop.sql(
        "SELECT extract(epoch FROM bucket)::bigint, count(DISTINCT pid), max(capacity), "
        "max(checked_out_max) FROM db_history_pool"
        # The jobs processes write their own pool rows beside the web workers'.
        " WHERE pid IN (SELECT pid FROM db_worker_reports WHERE role = 'web')"
        " GROUP BY 1 ORDER BY 1"
    )
    by_bucket = {bucket: (workers, capacity, peak) for bucket, workers, capacity, peak in pool}
    for bucket in range(first, last + 1, INTERVAL):
        workers, capacity, peak = by_bucket[bucket]
        assert workers == WORKERS  # one pool row per web worker per bucket
        assert 1 <= peak <= capacity


def test_statement_shapes_count_every_execution(loaded):
    shop, _server, sent, _started, _ended = loaded
    # The one statement of a one-line order (app/orders/place_one.sql), by its fingerprint.
    statement = query("app.orders", "place_one.sql").compile(dialect=psycopg_dialect())
    fingerprint, _text = fingerprint_of(str(statement))
    rows = shop.sql(
        "SELECT calls, latency_counts FROM db_history_statements WHERE fingerprint = %s",
        [fingerprint],
    )
    calls = sum(calls for calls, _counts in rows)
    assert calls == sent[("order", 201)]  # one per placed order
    merged = latency_buckets.merged(counts for _calls, counts in rows)
    assert sum(merged) == calls
    assert 0 < latency_buckets.percentile(merged, 0.95) < 5
    sources = shop.sql(
        "SELECT endpoint, location FROM db_statement_sources WHERE fingerprint = %s",
        [fingerprint],
    )
    assert [endpoint for endpoint, _location in sources] == ["api.orders.orders_create"]
    assert sources[0][1].startswith("app/orders/")


def test_server_samples_have_one_writer_per_bucket(loaded):
    shop, _server, _sent, _started, _ended = loaded
    claims = shop.sql(
        "SELECT period_start, count(*) FROM db_job_runs "
        "WHERE job = 'history-server-sample' GROUP BY 1"
    )
    assert claims and all(count == 1 for _period, count in claims)
    per_bucket = shop.sql(
        "SELECT bucket, count(*), count(DISTINCT state) FROM db_history_connections GROUP BY 1"
    )
    assert len(per_bucket) >= 3
    assert all(rows == states for _bucket, rows, states in per_bucket)
    server = shop.sql(
        "SELECT sum(calls) FROM db_history_server_statements h "
        "WHERE h.queryid IN (SELECT queryid FROM pg_stat_statements "
        "WHERE query LIKE '%%INSERT INTO orders%%')"
    )
    assert server[0][0] and server[0][0] > 0


def test_a_deploy_and_the_migrations_are_recorded(loaded):
    shop, *_rest = loaded
    events = shop.sql("SELECT kind, label FROM db_history_events ORDER BY at, id")
    assert ("deploy", "history-test-1") in events
    assert events.count(("deploy", "history-test-1")) == 1  # once, though two workers
    migrations = [label for kind, label in events if kind == "migration"]
    assert (
        migrations and migrations[-1] == shop.sql("SELECT version_num FROM alembic_version")[0][0]
    )


def test_the_statement_page_shows_the_servers_row_for_the_same_statement(loaded, make_app):
    shop, _server, sent, _started, _ended = loaded
    app = make_app(shop.url)
    with app.app_context():
        add_admin(db.session)
        db.session.remove()
    client = app.test_client()
    assert log_in(client).status_code == 302
    statement = query("app.orders", "place_one.sql").compile(dialect=psycopg_dialect())
    fingerprint, _text = fingerprint_of(str(statement))

    page = client.get(f"/admin/db/queries/{fingerprint}?window=1h").text
    app_view = page.split('id="app-view"')[1].split("</table>")[0]
    assert re.search(r'data-calls="(\d+)"', app_view).group(1) == str(sent[("order", 201)])
    server_view = page.split('id="server-view"')[1].split("</table>")[0]
    shown = {
        int(q): int(c)
        for q, c in re.findall(r'data-queryid="(-?\d+)" data-calls="(\d+)"', server_view)
    }
    # The server's own rows for the order's write (its text starts as the file's
    # statement does, after the comments), in this database.
    expected = dict(
        shop.sql(
            "SELECT queryid, calls FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid AND d.datname = current_database() "
            "WHERE s.query LIKE 'WITH verdict AS%%' AND s.query LIKE '%%INSERT INTO orders%%'"
        )
    )
    assert shown == expected
    # Both sides counted the same executions: one per placed order.
    assert sum(shown.values()) == sent[("order", 201)]
    # The server-sample job matched them once and keeps them with the shape.
    cached = shop.sql("SELECT queryids FROM db_statements WHERE fingerprint = %s", [fingerprint])
    assert sorted(cached[0][0]) == sorted(expected)
