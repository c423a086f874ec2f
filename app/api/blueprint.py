"""The /api blueprint: bearer-token authentication for every route but the spec.

Routes live with their domain (app/catalog/api.py, app/customers/api.py,
app/orders/api.py) and register themselves on ``bp``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BaseConverter

from app.api.openapi import SPEC
from app.api.tokens import authenticate, needs_touch, touch
from app.db.transactions import run_in_transaction
from app.errors import problem
from app.extensions import db
from app.numbers import MAX_BIGINT

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")
PUBLIC_ENDPOINTS = {"api.openapi"}


class IdConverter(BaseConverter):
    """``<id:...>``: up to 19 digits. Werkzeug answers 405 instead of 404 when a
    converter rejects a value on a path other methods share, so nothing is rejected
    here: an id beyond bigint becomes 0, which matches no row (404)."""

    regex = r"[0-9]{1,19}"  # ASCII only: \d would also match other scripts' digits

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_BIGINT else 0

    def to_url(self, value) -> str:
        return str(int(value))


@bp.before_request
def require_token():
    """401 problem+json unless the request carries a live API token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = authenticate(db.session, request.headers.get("Authorization"))
    if token is None:
        return problem(
            401,
            "Unauthorized",
            "Send a valid API token: Authorization: Bearer <token>.",
            type_="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="stockroom"'},
        )
    g.api_token_id = token.id
    g.api_token_touch = needs_touch(token)
    return None


@bp.after_request
def record_token_use(response):
    """Note the token's last use, at most once a minute, after the request's own work."""
    if g.get("api_token_touch"):
        try:
            run_in_transaction(db.session, lambda session: touch(session, g.api_token_id))
        except SQLAlchemyError:
            # Bookkeeping only: never fail a request that already succeeded.
            log.warning("could not record the use of API token %s", g.api_token_id)
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return SPEC
