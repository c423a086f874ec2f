"""The /api blueprint: bearer-token authentication for every route but the
document and its docs page, and the domains' API blueprints nested under it.

Routes live with their domain (app/catalog/api.py, app/customers/api.py,
app/orders/api.py), each on a blueprint of its own; :func:`create_api_blueprint`
nests them (create_app names them explicitly).
"""

from __future__ import annotations

import logging
from importlib.resources import files

from flask import Blueprint, current_app, g, render_template, request, send_from_directory
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BaseConverter

from app.api.openapi import spec
from app.api.tokens import authenticate, needs_touch, touch
from app.db.transactions import run_in_transaction
from app.errors import problem
from app.extensions import db
from app.numbers import MAX_BIGINT

log = logging.getLogger(__name__)
PUBLIC_ENDPOINTS = {"api.openapi", "api.docs", "api.docs_asset"}
# Swagger UI's files, from the swagger-ui-py package: served here, no CDN.
SWAGGER_UI = files("swagger_ui") / "static"
SWAGGER_UI_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}


class IdConverter(BaseConverter):
    """``<id:...>``: up to 19 digits. Werkzeug answers 405 instead of 404 when a
    converter rejects a value on a path other methods share, so nothing is rejected
    here: an id beyond bigint becomes 0, which matches no row (404)."""

    regex = r"[0-9]{1,19}"  # ASCII only: \\d would also match other scripts' digits

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_BIGINT else 0

    def to_url(self, value) -> str:
        return str(int(value))


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


def record_token_use(response):
    """Note the token's last use, at most once a minute, after the request's own work."""
    if g.get("api_token_touch"):
        try:
            run_in_transaction(db.session, lambda session: touch(session, g.api_token_id))
        except SQLAlchemyError:
            # Bookkeeping only: never fail a request that already succeeded.
            log.warning("could not record the use of API token %s", g.api_token_id)
    return response


def openapi():
    """The OpenAPI 3.1 description of this API."""
    return spec(current_app)


def docs():
    """Interactive documentation of /api/openapi.json (Swagger UI, served locally)."""
    return render_template("api/docs.html")


def docs_asset(name: str):
    """Swagger UI's stylesheet and scripts."""
    if name not in SWAGGER_UI_FILES:
        return problem(404, "Not Found", type_="not-found")
    return send_from_directory(str(SWAGGER_UI), name, max_age=3600)


def create_api_blueprint(*domains: Blueprint) -> Blueprint:
    """A fresh /api blueprint with ``domains`` nested in it (fresh per app: Flask
    refuses to nest one blueprint object into the same parent twice)."""
    api = Blueprint("api", __name__, url_prefix="/api")
    api.before_request(require_token)
    api.after_request(record_token_use)
    api.add_url_rule("/openapi.json", "openapi", openapi)
    api.add_url_rule("/docs", "docs", docs)
    api.add_url_rule("/docs/assets/<name>", "docs_asset", docs_asset)
    for domain in domains:
        api.register_blueprint(domain)
    return api
