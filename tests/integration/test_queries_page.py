"""The queries page on a busy instance: the app's statements first (the console's
own labelled and left out unless asked for), a page of rows per table, savepoints one
shape, and EXPLAIN offered only where it works."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.history.recorder import write_bucket
from app.monitoring.minute_totals import Bucket, EndpointTotals, StatementTotals
from app.monitoring.models import SlowQueryReport
from app.monitoring.statement_text import comparable, fingerprint_of, normalize

APP_SHAPES = 30
POOL_STATE = {
    "size": 5,
    "max_overflow": 10,
    "waits": 0,
    "wait_seconds": 0.0,
    "timeouts": 0,
    "connects": 0,
    "invalidations": 0,
}
# The console's own bookkeeping, costlier than any app statement (as on a busy
# instance, where the reporter's writes led the page).
OWN = {
    "INSERT INTO db_worker_reports (host, pid) VALUES (%(host)s, %(pid)s)": "(monitoring)",
    "SELECT fingerprint, sql FROM db_statements WHERE fingerprint = %(fingerprint)s": (
        "db_queries.statement_view"
    ),
    "SELECT * FROM db_job_runs ORDER BY started_at DESC": "(background)",
    ";": "catalog.show",  # the pool's ping, run at a request's checkout
}
UPDATE = "UPDATE products SET stock = stock + %(delta)s WHERE id = %(id)s"
IN_LIST = "SELECT id, name FROM products WHERE id IN (%(id_1_1)s, %(id_1_2)s, %(id_1_3)s)"


def app_statement(i: int) -> str:
    return f"SELECT id, name FROM products WHERE price_cents > %(floor)s AND stock > {i}"


def record(session, app, statements: dict[str, tuple[str, float]]) -> None:
    """Write one closed history minute: each statement run by its endpoint, taking
    the seconds given (all in one call), as the reporter would."""
    bucket = Bucket(time.time() // 60 * 60 - 120)
    for statement, (endpoint, seconds) in statements.items():
        fingerprint, normalised = fingerprint_of(statement)
        totals = bucket.statements.setdefault(fingerprint, StatementTotals())
        totals.calls += 1
        totals.counts[10] += 1
        totals.total_seconds += seconds
        totals.max_seconds = max(totals.max_seconds, seconds)
        bucket.texts[fingerprint] = normalised
        bucket.sources.add((fingerprint, endpoint, f"app/somewhere.py:{len(statement)} f"))
        bucket.endpoints.setdefault(endpoint, EndpointTotals()).requests += 1
    write_bucket(session, app, bucket, dict(POOL_STATE))
    session.flush()


@pytest.fixture
def busy(app, admin_client, session):
    """History of a busy minute: 30 app statement shapes, savepoints, an UPDATE, an
    IN-list, and the console's own statements, the costliest of all."""
    statements = {app_statement(i): ("catalog.list", 0.001 * (i + 1)) for i in range(APP_SHAPES)}
    statements[UPDATE] = ("catalog.restock", 0.002)
    statements[IN_LIST] = ("catalog.list", 0.0015)
    for n in (1, 2, 3):
        statements[f"SAVEPOINT sa_savepoint_{n}"] = ("orders.create", 0.0001)
        statements[f"RELEASE SAVEPOINT sa_savepoint_{n}"] = ("orders.create", 0.0001)
    statements.update({sql: (endpoint, 5.0) for sql, endpoint in OWN.items()})
    record(session, app, statements)
    return admin_client


def statement_rows(page: str) -> list[tuple[str, str]]:
    """(origin, preview) of each row of the statements table, in order."""
    table = re.search(r'<table[^>]*id="statements".*?</table>', page, re.S).group(0)
    return re.findall(r'data-origin="(\w+)">.*?<code>(.*?)</code>', table, re.S)


def test_savepoints_fold_into_one_shape_and_match_the_server(connection):
    assert normalize("SAVEPOINT sa_savepoint_12") == "SAVEPOINT sa_savepoint_?"
    assert normalize("RELEASE SAVEPOINT sa_savepoint_3") == "RELEASE SAVEPOINT sa_savepoint_?"
    assert normalize("ROLLBACK TO SAVEPOINT sa_savepoint_7") == (
        "ROLLBACK TO SAVEPOINT sa_savepoint_?"
    )
    assert fingerprint_of("SAVEPOINT sa_savepoint_1") == fingerprint_of("SAVEPOINT sa_savepoint_2")
    # A table that merely ends in digits is still itself.
    assert normalize("SELECT x FROM savepoint_1") == "SELECT x FROM savepoint_1"
    # Nothing but comments and semicolons: the one empty shape.
    assert normalize("/* ping */ ;") == normalize(";") == ";"

    if not connection.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    ).first():
        pytest.skip("pg_stat_statements is not installed on the test server")
    nested = connection.begin_nested()  # SQLAlchemy's own savepoint, sa_savepoint_N
    nested.rollback()
    server = (
        connection.execute(
            text("SELECT query FROM pg_stat_statements WHERE query LIKE 'ROLLBACK TO SAVEPOINT%'")
        )
        .scalars()
        .all()
    )
    assert server, "the server did not record the savepoint"
    assert comparable("ROLLBACK TO SAVEPOINT sa_savepoint_5") in {comparable(q) for q in server}


def test_the_console_own_statements_are_hidden_until_asked_for(busy):
    page = busy.get("/admin/db/queries/")
    assert page.status_code == 200
    rows = statement_rows(page.text)
    assert len(rows) == 20  # a page of them
    assert {origin for origin, _ in rows} == {"app"}
    assert "db_worker_reports" not in rows[0][1]
    assert "db_worker_reports" not in page.text.split('id="endpoints-heading"')[0]
    # One row for all the savepoints of one kind, however many were numbered.
    everything = busy.get("/admin/db/queries/?show=all&sort=calls").text
    savepoints = [p for _, p in statement_rows(everything) if "SAVEPOINT" in p]
    assert sorted(savepoints) == ["RELEASE SAVEPOINT sa_savepoint_?", "SAVEPOINT sa_savepoint_?"]
    assert "sa_savepoint_1" not in everything
    assert 'id="own-toggle"' in page.text and "show=all" in page.text

    shown = statement_rows(busy.get("/admin/db/queries/?show=all").text)
    origins = dict((preview, origin) for origin, preview in shown)
    # The console's own now lead (they cost the most), each labelled.
    assert shown[0][0] != "app"
    assert origins[normalize(next(iter(OWN)))] == "monitoring"
    assert any(o == "console" and "db_statements" in p for p, o in origins.items())
    assert any(o == "jobs" and "db_job_runs" in p for p, o in origins.items())
    assert any(o == "ping" and p.startswith("; (empty statement") for p, o in origins.items())
    assert (
        '<span class="badge badge-secondary origin"' in busy.get("/admin/db/queries/?show=all").text
    )


def test_each_table_pages_and_bad_page_numbers_are_refused(busy):
    first = busy.get("/admin/db/queries/?sort=calls")
    second = busy.get("/admin/db/queries/?sort=calls&page=2")
    one, two = statement_rows(first.text), statement_rows(second.text)
    app_rows = APP_SHAPES + 1 + 1 + 2  # the UPDATE, the IN-list, two savepoints
    assert (len(one), len(two)) == (20, app_rows - 20)
    assert not {p for _, p in one} & {p for _, p in two}
    assert "page=2" in first.text and 'rel="next"' in first.text
    # Past the last page: the last page.
    assert statement_rows(busy.get("/admin/db/queries/?sort=calls&page=999").text) == two
    for bad in ("0", "-1", "abc", "1.5", "99999999999999999999", "%00"):
        for name in ("page", "endpoint_page", "captured_page", "server_page"):
            response = busy.get(f"/admin/db/queries/?{name}={bad}")
            assert response.status_code == 400, (name, bad)
            assert response.mimetype == "application/problem+json"
            assert response.json["parameter"] == name


def statement_page(client, statement: str):
    fingerprint = fingerprint_of(statement)[0]
    return fingerprint, client.get(f"/admin/db/queries/{fingerprint}").text


def test_statement_pages_are_titled_by_their_statement(busy):
    fingerprint, page = statement_page(busy, app_statement(3))
    title = re.search(r'<h2[^>]*id="statement-title".*?</h2>', page, re.S).group(0)
    assert (
        "SELECT id, name FROM products WHERE price_cents &gt; %(floor)s AND stock &gt; 3" in title
    )
    assert fingerprint not in title
    assert f'id="statement-fingerprint">{fingerprint}<' in page
    assert 'id="statement-route">catalog.list<' in page


def test_explain_is_offered_where_it_works_and_analyze_only_where_allowed(busy, session):
    # An UPDATE: its generic plan (nothing runs), never ANALYZE.
    fingerprint, page = statement_page(busy, UPDATE)
    assert 'id="explain-link"' in page and 'id="analyze-link"' not in page
    plan = busy.get(f"/admin/db/queries/explain/{fingerprint}")
    assert plan.status_code == 200 and 'id="plan"' in plan.text
    assert "Update on products" in plan.text and "actual time" not in plan.text
    assert 'id="analyze-link"' not in plan.text
    refused = busy.get(f"/admin/db/queries/explain/{fingerprint}?analyze=1").text
    assert "Only SELECT statements can be explained" in refused and 'id="plan"' not in refused

    # A SELECT with an IN-list of any length: its generic plan works too.
    fingerprint, page = statement_page(busy, IN_LIST)
    assert 'id="explain-link"' in page and 'id="analyze-link"' not in page
    plan = busy.get(f"/admin/db/queries/explain/{fingerprint}").text
    assert 'id="plan"' in plan and "products" in plan and 'id="explain-error"' not in plan

    # A savepoint has no plan: nothing is offered.
    fingerprint, page = statement_page(busy, "SAVEPOINT sa_savepoint_1")
    assert 'id="explain-link"' not in page and 'id="analyze-link"' not in page
    assert "EXPLAIN plans SELECT, INSERT, UPDATE and DELETE" in page

    # A slow SELECT captured with its values: ANALYZE offered, and it runs.
    slow = "SELECT count(*) FROM products WHERE price_cents > %(floor)s"
    fingerprint, normalised = fingerprint_of(slow)
    session.add(
        SlowQueryReport(
            host="test",
            pid=1,
            fingerprint=fingerprint,
            sql=normalised,
            count=1,
            total_ms=120.0,
            max_ms=120.0,
            samples=[120.0],
            last_seen=datetime.now(UTC),
            endpoint="catalog.list",
            location="app/catalog/views.py:1 f",
            params={"floor": 5},
        )
    )
    session.flush()
    _, page = statement_page(busy, slow)
    assert 'id="analyze-link"' in page
    analyzed = busy.get(f"/admin/db/queries/explain/{fingerprint}?analyze=1").text
    assert "actual time" in analyzed and 'id="explain-error"' not in analyzed
