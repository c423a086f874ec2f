"""Error responses: RFC 9457 problem+json for the API, and database failures mapped
to the statuses the contract promises (409 or 503 with Retry-After, never a 500).

The database layer raises its own errors (app/db/errors.py) and knows nothing of
HTTP; what a client is answered for each of them is decided here."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, json, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from app.db.errors import ConflictPersists, LockWaitTimeout, connection_failure
from app.db.failover import READ_ONLY, is_read_only_error

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2
CONFLICT_DETAIL = "Concurrent requests are changing the same rows; retry shortly."

# SQLSTATEs that mean "try again shortly", with the problem they become.
_RETRYABLE = {
    "55P03": (409, "conflict", "Conflict", "A row this request needs is locked; retry shortly."),
    "40001": (409, "conflict", "Conflict", "A concurrent change conflicted; retry shortly."),
    "40P01": (409, "conflict", "Conflict", "A concurrent change conflicted; retry shortly."),
    "57014": (
        503,
        "statement-timeout",
        "Query timed out",
        "The database did not answer in time; retry shortly.",
    ),
    # A write reached a read-only server: a standby, or a primary being failed over
    # (the pool has been dropped: app/db/failover.py). Never a 500.
    READ_ONLY: (
        503,
        "database-read-only",
        "Database read-only",
        "The database server reached does not take writes right now (a failover?); retry shortly.",
    ),
}
_UNAVAILABLE = (
    503,
    "database-unavailable",
    "Database unavailable",
    "The database cannot be reached right now; retry shortly.",
)


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str | None = None,
    headers: dict | None = None,
    **extra,
) -> Response:
    """A problem+json response; ``type_`` is a slug under /problems/ (about:blank if None)."""
    body = {
        "type": f"/problems/{type_}" if type_ else "about:blank",
        "title": title,
        "status": status,
        **({"detail": detail} if detail else {}),
        **extra,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


class ProblemError(Exception):
    """An error answered as an RFC 9457 problem: the class says the status, type and
    title (the OpenAPI document lists them from there too); the instance adds the
    detail, extension fields and headers."""

    status: int = 500
    problem_type: str = ""
    title: str = "Internal Server Error"
    # Conflicts the client may simply retry: answered with Retry-After.
    retry_after: bool = False

    def problem_detail(self) -> str:
        """The human-readable explanation of this occurrence."""
        return str(self)

    def problem_fields(self) -> dict:
        """Extension members (``product_id``, ``errors`` ...)."""
        return {}

    def problem_headers(self) -> dict:
        """Headers of the response."""
        return {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.retry_after else {}

    def response(self) -> Response:
        """The problem+json response for this error."""
        return problem(
            self.status,
            self.title,
            self.problem_detail(),
            type_=self.problem_type or None,
            headers=self.problem_headers(),
            **self.problem_fields(),
        )


class Conflict(ProblemError):
    """Concurrent requests kept changing the same rows, or a row stayed locked past
    the lock timeout; retry after Retry-After."""

    status, problem_type, title, retry_after = 409, "conflict", "Conflict", True

    def problem_detail(self) -> str:
        return CONFLICT_DETAIL


# The database layer's errors that reach a client, as the problems they answer.
DATABASE_PROBLEMS: dict[type[Exception], type[ProblemError]] = {
    ConflictPersists: Conflict,
    LockWaitTimeout: Conflict,
}


def wants_problem_json() -> bool:
    """API clients get problem+json; browsers get HTML."""
    return request.path.startswith("/api/")


def database_failure(error: sa_exc.SQLAlchemyError) -> tuple[int, str, str, str]:
    """Classify a database error as (status, type, title, detail)."""
    if isinstance(error, sa_exc.TimeoutError):
        return (
            503,
            "pool-timeout",
            "Server busy",
            "No database connection became free in time; retry shortly.",
        )
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    if sqlstate in _RETRYABLE:
        return _RETRYABLE[sqlstate]
    return _UNAVAILABLE


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""

    @app.errorhandler(ProblemError)
    def problem_error(error: ProblemError):
        return error.response()

    @app.errorhandler(ConflictPersists)
    @app.errorhandler(LockWaitTimeout)
    def database_problem(error: Exception):
        return DATABASE_PROBLEMS[type(error)](str(error)).response()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not wants_problem_json():
            return error
        # Keep headers such as Allow (405) but not the HTML content type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return problem(error.code or 500, error.name, error.description, headers=headers)

    @app.errorhandler(sa_exc.InternalError)
    def internal_database_error(error: sa_exc.InternalError):
        # Class 25 (a write on a read-only server: 503) among other internal errors.
        if is_read_only_error(error):
            return database_error(error)
        return unexpected_error(error)

    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    def database_error(error: sa_exc.SQLAlchemyError):
        status, type_, title, detail = database_failure(error)
        log.warning(
            "database error on %s %s: %s",
            request.method,
            request.path,
            connection_failure(error, current_app.config),
        )
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if wants_problem_json():
            return problem(status, title, detail, type_=type_, headers=headers)
        return Response(
            f"{title}. {detail}\n", status=status, headers=headers, mimetype="text/plain"
        )

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_problem_json():
            return problem(500, "Internal Server Error", "An unexpected error occurred.")
        return Response("Internal Server Error\n", status=500, mimetype="text/plain")
