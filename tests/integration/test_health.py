"""/healthz and /readyz."""

import os

import flask_migrate

from app.extensions import db

CONTRACT_POOL_KEYS = {
    "workers",
    "threads",
    "pool_size",
    "max_overflow",
    "server_max_connections",
    "reserved",
    "per_worker",
}


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_database_migrations_and_pool(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ready"
    assert body["migrations"]["current"] == body["migrations"]["heads"]
    assert body["pool"].keys() >= CONTRACT_POOL_KEYS
    # Outside gunicorn this process is a single worker against the live server.
    assert body["pool"]["workers"] == 1
    assert body["pool"]["server_max_connections"] >= 20
    assert body["pool"]["worker"]["pid"] == os.getpid()


def test_readyz_is_503_until_migrations_reach_head(make_app, make_database):
    app = make_app(make_database())
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "migrations-pending"
    assert response.json["migrations"]["current"] == []
    assert "Retry-After" in response.headers

    with app.app_context():
        flask_migrate.upgrade()
    assert client.get("/readyz").status_code == 200

    with app.app_context():
        flask_migrate.downgrade(revision="-1")
    assert client.get("/readyz").json["status"] == "migrations-pending"


def test_readyz_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    # A socket directory with no server in it: connection refused at once.
    url = f"postgresql://postgres@/nowhere?host={tmp_path}"
    app = make_app(url, DB_CONNECT_TIMEOUT=1)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"]
    assert response.headers["Retry-After"]


def test_web_connections_carry_timeouts_and_a_name(app):
    with app.app_context(), db.engine.connect() as conn:
        settings = dict(
            conn.exec_driver_sql(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('statement_timeout', 'lock_timeout', 'application_name')"
            ).all()
        )
    assert settings["statement_timeout"] == str(app.config["DB_STATEMENT_TIMEOUT_MS"])
    assert settings["lock_timeout"] == str(app.config["DB_LOCK_TIMEOUT_MS"])
    assert (
        settings["application_name"]
        == f"stockroom:test:{app.config['INSTANCE_NAME']}:{os.getpid()}"
    )
