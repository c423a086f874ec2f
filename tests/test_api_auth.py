"""Bearer tokens on /api."""

from datetime import UTC, datetime

import pytest
from builders import add_product
from sqlalchemy import select

from app.api.models import ApiToken


def test_openapi_document_is_public(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")
    assert "/api/orders" in response.json["paths"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwYXNz",
        "Bearer sr_deadbeef_wrong-secret",
    ],
)
def test_requests_without_a_valid_token_are_401(client, session, authorization):
    add_product(session)
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/products", headers=headers)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(api, session):
    assert api.get("/api/products").status_code == 200
    token = session.scalar(select(ApiToken))
    token.revoked_at = datetime.now(UTC)
    session.flush()
    assert api.get("/api/products").status_code == 401


def test_a_tampered_secret_with_a_real_prefix_is_refused(api, client):
    real = api.headers["Authorization"]
    tampered = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    assert client.get("/api/products", headers={"Authorization": tampered}).status_code == 401


def test_last_use_is_recorded(api, session):
    api.get("/api/products")
    token = session.scalar(select(ApiToken))
    session.refresh(token)
    assert token.last_used_at is not None
