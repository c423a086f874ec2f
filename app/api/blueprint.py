"""The /api blueprint: bearer-token authentication for every route but the
document and its docs page, and the domains' API blueprints nested under it.

Routes live with their domain (app/catalog/api.py, app/customers/api.py,
app/orders/api.py), each on a blueprint of its own; :func:`create_api_blueprint`
nests them (create_app names them explicitly).
"""

from __future__ import annotations

import functools
import logging
from importlib.resources import files

from flask import (
    Blueprint,
    current_app,
    g,
    render_template,
    request,
    send_from_directory,
)
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from app.api.openapi import spec
from app.api.tokens import (
    Credentials,
    RecentTouches,
    TokenRejected,
    authenticate,
    credentials,
    needs_touch,
    touch,
    touch_presented,
)
from app.db.errors import ConflictPersists, LockWaitTimeout
from app.db.transactions import run_in_transaction
from app.errors import ProblemError, problem
from app.extensions import db
from app.inputs import MAX_BIGINT

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


def checks_token_itself(view):
    """Mark an API view whose database work checks the bearer token inside its own
    statement (saving the lookup's round trip on the hottest path). The view passes
    :func:`presented_token` to that statement and calls :func:`token_accepted` when
    it found the token live, or calls :func:`token_id` first.

    Outermost decorator (above ``@operation``): any refusal, a 422 included, is
    answered only after the token was checked (a bad token is 401 whatever the body),
    and a view that returns without having checked it is a bug, not a pass."""

    @functools.wraps(view)
    def run(**kwargs):
        try:
            response = view(**kwargs)
        except (ProblemError, HTTPException, ConflictPersists, LockWaitTimeout) as error:
            if not isinstance(error, TokenRejected) and not _token_checked():
                token_id()
            raise
        if not _token_checked():
            raise RuntimeError(f"{request.endpoint} answered without checking the API token")
        return response

    # A function attribute (require_token reads it with getattr): mypy has no notion
    # of them.
    run.__dict__["checks_token_itself"] = True
    return run


def _token_checked() -> bool:
    return "api_token_id" in g or g.get("api_token_verified", False)


def require_token():
    """401 problem+json unless the request carries a live API token.

    For views marked :func:`checks_token_itself` only the header's form is checked
    here; whether the token is live is decided by the view's own statement."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    presented = credentials(request.headers.get("Authorization"))
    if presented is None:
        return TokenRejected().response()
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "checks_token_itself", False):
        g.api_credentials = presented
        return None
    token = authenticate(db.session, presented)
    if token is None:
        return TokenRejected().response()
    g.api_token_id = token.id
    g.api_token_touch = needs_touch(token)
    touches.note(presented.prefix)
    return None


def presented_token() -> Credentials:
    """The credentials a :func:`checks_token_itself` view hands to its statement.
    Once the statement has accepted them, call :func:`token_accepted`."""
    return g.api_credentials


def token_accepted() -> None:
    """The view's own statement found the presented token live."""
    g.api_token_verified = True
    g.api_token_touch_presented = touches.due(g.api_credentials.prefix)


def token_id() -> int:
    """The request's live token id, looked up now if the view deferred the check
    (raises :class:`TokenRejected` if it is not live)."""
    if "api_token_id" not in g:
        token = authenticate(db.session, g.api_credentials)
        if token is None:
            raise TokenRejected()
        g.api_token_id = token.id
        g.api_token_touch = needs_touch(token)
        touches.note(g.api_credentials.prefix)
    return g.api_token_id


def record_token_use(response):
    """Note the token's last use, at most once a minute, after the request's own work."""
    try:
        if g.get("api_token_touch"):
            run_in_transaction(db.session, lambda session: touch(session, g.api_token_id))
        elif g.get("api_token_touch_presented"):
            run_in_transaction(
                db.session, lambda session: touch_presented(session, g.api_credentials)
            )
    except SQLAlchemyError:
        # Bookkeeping only: never fail a request that already succeeded.
        log.warning("could not record the use of an API token")
    return response


touches = RecentTouches()


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
