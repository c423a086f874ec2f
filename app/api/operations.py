"""The API's route table: each view declares, once, its input models, the headers
it reads, what it answers and which errors it can raise. The decorator validates
the input before the view runs (the view gets models, not raw JSON); the OpenAPI
document (:mod:`app.api.openapi`) is generated from the same declarations.

    @bp.patch("/products/<id:product_id>")
    @operation(
        "Change a product; If-Match with the ETag is required",
        body=ProductChanges,
        headers=[IF_MATCH],
        ok=Answer(200, ProductDetail, "The changed product.", headers=[ETAG]),
        errors=[ProductNotFound, StaleVersion],
    )
    def products_update(product_id, body, if_match): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request
from pydantic import BaseModel

from app.api.validation import body_as, query_as
from app.errors import ProblemError


@dataclass(frozen=True)
class Header:
    """A response header the OpenAPI document states."""

    name: str
    description: str
    schema: dict = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class HeaderParameter:
    """A request header a view reads: ``parse`` turns the raw value (None when
    absent) into the view's ``argument``, or raises an HTTP error (listed in
    ``statuses`` for the document)."""

    name: str
    argument: str
    schema: dict
    description: str
    parse: Callable[[str | None], Any]
    required: bool = False
    statuses: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A successful response: status, body model and headers."""

    status: int
    model: type[BaseModel]
    description: str
    headers: tuple[Header, ...] = ()
    links: dict = field(default_factory=dict)


# Answers every route can give, and what every route with a JSON body adds.
COMMON_STATUSES = {
    401: "Missing, unknown or revoked API token.",
    503: "Database unavailable, or no connection free in time; retry after Retry-After.",
}
BODY_STATUSES = {
    400: "The body is not valid JSON (or nests too deeply).",
    413: "The body is larger than 1 MiB.",
    415: "The body is not sent as application/json.",
}
VALIDATION_STATUS = 422


@dataclass(frozen=True)
class Operation:
    """One route's declaration (see the module docstring)."""

    summary: str
    ok: Answer
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: tuple[HeaderParameter, ...] = ()
    errors: tuple[type[ProblemError], ...] = ()
    path_parameters: dict[str, dict] = field(default_factory=dict)
    public: bool = False

    def error_statuses(self) -> dict[int, list[str]]:
        """Every status this operation can answer besides ``ok``, with why."""
        statuses: dict[int, list[str]] = {}

        def add(status: int, why: str) -> None:
            statuses.setdefault(status, []).append(why)

        if not self.public:
            add(401, COMMON_STATUSES[401])
        if self.body is not None:
            for status, why in BODY_STATUSES.items():
                add(status, why)
        if self.body is not None or self.query is not None:
            add(VALIDATION_STATUS, "Invalid fields: `errors` lists every one.")
        for header in self.headers:
            for status, why in header.statuses.items():
                add(status, why)
        for error in self.errors:
            assert error.__doc__ is not None, f"{error.__name__} needs a docstring"
            add(error.status, f"`{error.problem_type}`: {error.__doc__.strip()}")
        if not self.public:
            add(503, COMMON_STATUSES[503])
        return statuses


def operation(
    summary: str,
    *,
    ok: Answer,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: list[HeaderParameter] | tuple = (),
    errors: list[type[ProblemError]] | tuple = (),
    path_parameters: dict[str, dict] | None = None,
    public: bool = False,
):
    """Declare a view's contract; the view receives ``body=``, ``query=`` and one
    argument per header, already validated."""
    declared = Operation(
        summary=summary,
        ok=ok,
        body=body,
        query=query,
        headers=tuple(headers),
        errors=tuple(errors),
        path_parameters=path_parameters or {},
        public=public,
    )

    def decorate(view):
        @functools.wraps(view)
        def run(**kwargs):
            # Headers first (a missing If-Match is 428 whatever the body), then the
            # query and the body.
            for header in declared.headers:
                kwargs[header.argument] = header.parse(request.headers.get(header.name))
            if declared.query is not None:
                kwargs["query"] = query_as(declared.query)
            if declared.body is not None:
                kwargs["body"] = body_as(declared.body)
            return view(**kwargs)

        # A function attribute (functools.wraps copies it onto outer decorators; the
        # OpenAPI builder reads it with getattr): mypy has no notion of them.
        run.__dict__["operation"] = declared
        return run

    return decorate


def render(model: type[BaseModel], value: Any) -> dict:
    """``value`` (an ORM row, a dataclass, a dict) as ``model``'s JSON."""
    return model.model_validate(value, from_attributes=True).model_dump(mode="json")
