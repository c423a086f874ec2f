"""A pooled connection is pinged before use only after idling (DB_PING_IDLE_MS):
one that died while idle is replaced unnoticed; one that died right after its last
use costs one 503, after which the pool replaces every older connection."""

from __future__ import annotations

import time

import pytest
from builders import add_product, bearer
from sqlalchemy import text
from waiting import wait_until

from app.extensions import db


@pytest.fixture
def shop(committed):
    with committed.sessions() as session:
        add_product(session)
        return bearer(session)


def pooled_backend(app) -> int:
    """The server pid of the connection the app's pool will hand out next."""
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.commit()
        db.session.remove()
    return pid


def terminate(committed, pid: int) -> None:
    with committed.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()

    def gone() -> bool:
        # A transaction of its own each time: pg_stat_activity is read once per transaction.
        with committed.connect() as conn:
            return not conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()

    # Until the backend is gone, so the pooled socket is really dead.
    wait_until(gone, interval=0.02, message=f"backend {pid} outlived pg_terminate_backend")


def test_a_connection_that_died_while_idle_is_replaced_before_use(make_app, committed, shop):
    app = make_app(DB_PING_IDLE_MS=50, GUNICORN_THREADS=1)
    client = app.test_client()
    assert client.get("/api/products", headers=shop).status_code == 200
    first = pooled_backend(app)
    terminate(committed, first)
    time.sleep(0.2)  # the point: idle past the 50 ms threshold, so pinged, found dead, replaced
    assert client.get("/api/products", headers=shop).status_code == 200
    assert pooled_backend(app) != first


def test_a_connection_that_died_just_after_use_costs_one_503(make_app, committed, shop):
    app = make_app(DB_PING_IDLE_MS=60_000, GUNICORN_THREADS=1)
    client = app.test_client()
    assert client.get("/api/products", headers=shop).status_code == 200
    terminate(committed, pooled_backend(app))
    failed = client.get("/api/products", headers=shop)
    assert failed.status_code == 503
    assert failed.json["type"] == "/problems/database-unavailable"
    assert client.get("/api/products", headers=shop).status_code == 200
