"""JSON API for products: /api/products."""

from __future__ import annotations

import re
from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, model_validator
from werkzeug.exceptions import BadRequest, PreconditionRequired

from app.api.fields import Integer, Text
from app.api.operations import Answer, Header, HeaderParameter, operation, render
from app.api.pagination import PageQuery, page
from app.catalog.models import DESCRIPTION_MAX, NAME_MAX
from app.catalog.service import (
    ProductNotFound,
    StaleVersion,
    StockLimitExceeded,
    get_product,
    list_products,
    restock,
    update_product,
)
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.inputs import MAX_INT, IntegerOutOfRange, parse_integer

bp = Blueprint("catalog", __name__)

MAX_RESTOCK = 1_000_000
# An ETag as this API sends it: a version in double quotes, ASCII digits.
ETAG_PATTERN = r'^"[0-9]+"$'
ETAG = Header(
    "ETag", 'The product\'s version, e.g. "3".', {"type": "string", "pattern": ETAG_PATTERN}
)


# ProductChanges' fields: None when not sent (JSON null is refused).
NameChange = Annotated[str | None, Text(1, NAME_MAX)]
PriceChange = Annotated[int | None, Integer(0, MAX_INT)]
StockChange = Annotated[int | None, Integer(0, MAX_INT)]
DescriptionChange = Annotated[str | None, Text(0, DESCRIPTION_MAX)]
RestockQuantity = Annotated[int, Integer(1, MAX_RESTOCK)]


class ProductSummary(BaseModel):
    """A product in a list."""

    id: int
    sku: str
    name: str
    price_cents: int
    stock: int
    version: int


class ProductDetail(ProductSummary):
    """One product, with its description."""

    description: str


class ProductPage(BaseModel):
    """A page of products; `next` is the cursor of the next page (null on the last)."""

    items: list[ProductSummary]
    next: str | None


class ProductChanges(BaseModel):
    """The fields to change (at least one)."""

    model_config = ConfigDict(
        extra="forbid",
        regex_engine="python-re",
        json_schema_extra={"minProperties": 1, "examples": [{"price_cents": 1299, "stock": 40}]},
    )

    name: NameChange = None
    price_cents: PriceChange = None
    stock: StockChange = None
    description: DescriptionChange = None

    @model_validator(mode="after")
    def _names_a_field(self):
        if not self.model_fields_set:
            raise ValueError("names no field to change")
        return self


class Restock(BaseModel):
    """Units to add to stock."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": 25}]})

    quantity: RestockQuantity


class StockLevel(BaseModel):
    """A product's stock after a restock."""

    id: int
    stock: int
    version: int


def expected_version(header: str | None) -> int:
    """The version named by If-Match (428 without it, 400 if it is not one of ours)."""
    if header is None:
        raise PreconditionRequired(
            'Send If-Match with the ETag from GET /api/products/<id>, e.g. If-Match: "3".'
        )
    if not re.fullmatch(ETAG_PATTERN, header.strip()):
        raise BadRequest('If-Match must be one ETag from GET /api/products/<id>, e.g. "3".')
    # A version beyond the column cannot be current: -1 matches nothing, so the
    # update reports the product's real version (412) instead of a database error.
    try:
        version = parse_integer(header.strip()[1:-1])
    except IntegerOutOfRange:
        return -1
    return version if version <= MAX_INT else -1


IF_MATCH = HeaderParameter(
    "If-Match",
    "version",
    {"type": "string", "pattern": ETAG_PATTERN, "examples": ['"1"']},
    "The ETag of GET /api/products/{product_id}: the change applies only to that version.",
    expected_version,
    required=True,
    statuses={
        400: "If-Match is not one ETag of this API.",
        428: "If-Match is missing: read the product first and send its ETag.",
    },
)


def with_etag(body: dict, version: int, status: int = 200):
    """A response carrying the product version as a strong ETag."""
    return body, status, {"ETag": f'"{version}"'}


@bp.get("/products")
@operation(
    "List products (keyset pagination)",
    query=PageQuery,
    ok=Answer(200, ProductPage, "A page of products."),
)
def products_index(query: PageQuery):
    """Live products by id, one page at a time."""
    rows = list_products(db.session, after_id=query.cursor or 0, limit=query.limit + 1)
    return page(rows, query.limit, lambda row: render(ProductSummary, row))


@bp.get("/products/<id:product_id>")
@operation(
    "One product; its version is the ETag",
    ok=Answer(200, ProductDetail, "The product.", headers=(ETAG,)),
    errors=[ProductNotFound],
)
def products_show(product_id: int):
    """One product, with its version as ETag."""
    product = get_product(db.session, product_id)
    return with_etag(render(ProductDetail, product), product.version)


@bp.patch("/products/<id:product_id>")
@operation(
    "Change a product; If-Match with the ETag is required",
    body=ProductChanges,
    headers=[IF_MATCH],
    ok=Answer(200, ProductDetail, "The changed product.", headers=(ETAG,)),
    errors=[ProductNotFound, StaleVersion],
)
def products_update(product_id: int, body: ProductChanges, version: int):
    """Change a product if it is still at the version the client read."""
    changes = body.model_dump(exclude_unset=True)
    result = run_in_transaction(
        db.session,
        lambda session: render(
            ProductDetail,
            update_product(session, product_id, expected_version=version, changes=changes),
        ),
    )
    return with_etag(result, result["version"])


@bp.post("/products/<id:product_id>/restock")
@operation(
    "Add units to stock (atomic increment)",
    body=Restock,
    ok=Answer(200, StockLevel, "The new stock level.", headers=(ETAG,)),
    errors=[ProductNotFound, StockLimitExceeded],
)
def products_restock(product_id: int, body: Restock):
    """Add units to stock atomically."""
    row = run_in_transaction(
        db.session, lambda session: restock(session, product_id, body.quantity)
    )
    return with_etag(render(StockLevel, row), row.version)
