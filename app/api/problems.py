"""The problem+json body (RFC 9457) every API error answers with, as a model: the
OpenAPI document's schema for it. The responses themselves are made by
:class:`app.errors.ProblemError` and the app's error handlers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where: `lines[0].quantity`, `limit`, `Idempotency-Key`.")
    message: str


class Shortage(BaseModel):
    """One line asking for more than is in stock."""

    product_id: int
    requested: int
    available: int


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`/problems/<slug>` (or `about:blank` for plain HTTP errors).")
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="422: every invalid field.")
    product_id: int | None = None
    product_ids: list[int] | None = None
    customer_id: int | None = None
    requested: int | None = None
    available: int | None = None
    shortages: list[Shortage] | None = None
    current_version: int | None = None
