"""Every statement names its route (or job) and code line to the server, in a
sqlcommenter-style comment: pg_stat_activity says which endpoint is waiting."""

import re
import threading

from browser_forms import add_admin, log_in
from builders import add_product, bearer
from sqlalchemy import text
from waiting import wait_until

from app.extensions import db
from app.jobs.scheduler import Job, JobRunner
from app.monitoring.statement_tags import comment, current_job, tags_of

OWN_QUERY = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()"


def test_a_comment_names_route_and_file_and_nothing_unsafe_gets_in():
    said = comment("orders.create", "app/orders/service.py:247 place_order")
    assert said == "/*route='orders.create',file='orders/service.py:247'*/ "
    assert tags_of(said + "SELECT 1") == {"route": "orders.create", "file": "orders/service.py:247"}
    # A quote, a comment end or a percent sign (a psycopg placeholder) never reaches it.
    sneaky = comment("x'*/ DROP TABLE orders; --%s", "(library code)")
    assert "'" not in sneaky[len("/*route='") : -len("'*/ ")]
    assert "*/" not in sneaky[:-4] and "%" not in sneaky
    assert tags_of("SELECT 1") == {}


def test_console_monitoring_and_jobs_say_whose_they_are():
    assert tags_of(comment("db_queries.index", "app/dbconsole/queries.py:1 f"))["origin"] == (
        "console"
    )
    assert tags_of(comment("(monitoring)", "(library code)")) == {
        "origin": "monitoring",
        "route": "(monitoring)",
    }
    token = current_job.set("rollups")
    try:
        assert tags_of(comment("(background)", "app/reports/rollups/upkeep.py:9 f")) == {
            "origin": "jobs",
            "job": "rollups",
            "file": "reports/rollups/upkeep.py:9",
        }
    finally:
        current_job.reset(token)


def test_a_waiting_routes_statement_in_pg_stat_activity_carries_its_name(make_app, committed):
    app = make_app(DB_LOCK_TIMEOUT_MS=10_000)
    with committed.sessions() as setup:
        product_id = add_product(setup, stock=3).id
        add_admin(setup)
        setup.commit()
        headers = bearer(setup)
    holder = committed.connect()
    holder.begin()
    holder.execute(text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": product_id})
    answers = []
    restock = threading.Thread(
        target=lambda: answers.append(
            app.test_client().post(
                f"/api/products/{product_id}/restock", headers=headers, json={"quantity": 2}
            )
        )
    )
    restock.start()
    try:
        # From a connection of its own: a transaction sees one snapshot of the activity.
        with committed.connect().execution_options(isolation_level="AUTOCOMMIT") as looker:
            waiting = wait_until(
                lambda: looker.execute(
                    text(
                        "SELECT query FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar(),
                message="the restock never waited on the row lock",
            )
        # The activity page names the route beside the statement.
        console = app.test_client()
        assert log_in(console).status_code == 302
        activity = console.get("/admin/db/activity/").get_data(as_text=True)
    finally:
        holder.rollback()
        holder.close()
        restock.join(timeout=20)
    tags = tags_of(waiting)
    assert "route" in tags, waiting
    assert tags["route"].endswith("restock"), waiting
    assert tags["file"].startswith("catalog/") and ".py:" in tags["file"], waiting
    assert answers and answers[0].status_code == 200
    assert re.search(
        r'class="badge badge-light statement-route"[^>]*>[\w.]*restock</span>', activity
    )


def test_a_jobs_statements_name_the_job(base_app, committed):
    seen = []

    def look(app, session, at):
        seen.append(session.execute(text(OWN_QUERY)).scalar())

    with base_app.app_context():
        JobRunner(base_app, [Job("tag-probe", lambda app: 60, look)]).tick(db.session)
        db.session.remove()
    assert seen, "the job did not run"
    tags = tags_of(seen[0])
    assert (tags["origin"], tags["job"]) == ("jobs", "tag-probe")
    assert "test_statement_tags.py:" in tags["file"]


def test_comments_can_be_turned_off(make_app):
    app = make_app(SQL_COMMENTS=False)
    with app.app_context():
        sent = db.session.execute(text(OWN_QUERY)).scalar()
        db.session.remove()
    assert tags_of(sent) == {}
