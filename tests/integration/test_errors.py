"""Error responses: problem+json for the API, 503 + Retry-After for database trouble."""

import pytest
from sqlalchemy import exc as sa_exc

from app.errors import database_failure
from app.extensions import db


def test_unknown_api_route_is_problem_json(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 404
    assert response.json["title"] == "Not Found"
    assert response.json["type"] == "about:blank"


def test_wrong_method_keeps_allow_header(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_pages_outside_the_api_get_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")


def test_unreachable_database_is_503_unavailable(make_app, tmp_path):
    app = make_app(f"postgresql://postgres@/nowhere?host={tmp_path}")
    with app.app_context(), pytest.raises(sa_exc.OperationalError) as caught:
        db.engine.connect()
    assert database_failure(caught.value)[:2] == (503, "database-unavailable")


def test_exhausted_pool_is_503_pool_timeout(make_app):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 1})
    with app.app_context(), db.engine.connect(), pytest.raises(sa_exc.TimeoutError) as caught:
        db.engine.connect()
    assert database_failure(caught.value)[:2] == (503, "pool-timeout")
