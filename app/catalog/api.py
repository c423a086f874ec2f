"""JSON API for products: /api/products."""

from __future__ import annotations

import re

from flask import request
from werkzeug.exceptions import BadRequest, PreconditionRequired

from app.api.blueprint import bp
from app.api.pagination import page, page_request
from app.api.validation import Errors, json_object
from app.catalog.models import Product
from app.catalog.service import get_product, list_products, restock, update_product
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.numbers import MAX_INT, IntegerOutOfRange, parse_integer

MAX_RESTOCK = 1_000_000
MAX_DESCRIPTION = 10_000

# An ETag as this API sends it: a version in double quotes, ASCII digits.
ETAG = re.compile(r'"([0-9]+)"')


def product_json(product: Product, *, detail: bool = False) -> dict:
    """A product as the API shows it."""
    body = {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "price_cents": product.price_cents,
        "stock": product.stock,
        "version": product.version,
    }
    if detail:
        body["description"] = product.description
    return body


def with_etag(body: dict, version: int, status: int = 200):
    """A response carrying the product version as a strong ETag."""
    return body, status, {"ETag": f'"{version}"'}


@bp.get("/products")
def products_index():
    """Live products by id, one page at a time."""
    after_id, limit = page_request()
    rows = list_products(db.session, after_id=after_id, limit=limit + 1)
    return page(rows, limit, product_json)


@bp.get("/products/<id:product_id>")
def products_show(product_id: int):
    """One product, with its version as ETag."""
    product = get_product(db.session, product_id)
    return with_etag(product_json(product, detail=True), product.version)


def expected_version() -> int:
    """The version named by If-Match (428 without it, 400 if it is not one of ours)."""
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired(
            'Send If-Match with the ETag from GET /api/products/<id>, e.g. If-Match: "3".'
        )
    match = ETAG.fullmatch(header.strip())
    if match is None:
        raise BadRequest('If-Match must be one ETag from GET /api/products/<id>, e.g. "3".')
    # A version beyond the column cannot be current: -1 matches nothing, so the
    # update reports the product's real version (412) instead of a database error.
    try:
        version = parse_integer(match.group(1))
    except IntegerOutOfRange:
        return -1
    return version if version <= MAX_INT else -1


def product_changes(payload: dict) -> dict:
    """The validated fields of a PATCH body."""
    errors = Errors()
    errors.unknown_fields(payload, {"name", "price_cents", "stock", "description"})
    changes = {}
    if "name" in payload:
        changes["name"] = errors.string(payload["name"], "name", min_length=1, max_length=200)
    if "description" in payload:
        changes["description"] = errors.string(
            payload["description"], "description", min_length=0, max_length=MAX_DESCRIPTION
        )
    for field in ("price_cents", "stock"):
        if field in payload:
            changes[field] = errors.integer(payload[field], field, minimum=0, maximum=MAX_INT)
    if not payload:
        errors.add("(body)", "names no field to change")
    errors.raise_if_any()
    return changes


@bp.patch("/products/<id:product_id>")
def products_update(product_id: int):
    """Change a product if it is still at the version the client read."""
    version = expected_version()
    changes = product_changes(json_object())
    body = run_in_transaction(
        db.session,
        lambda session: product_json(
            update_product(session, product_id, expected_version=version, changes=changes),
            detail=True,
        ),
    )
    return with_etag(body, body["version"])


@bp.post("/products/<id:product_id>/restock")
def products_restock(product_id: int):
    """Add units to stock atomically."""
    payload = json_object()
    errors = Errors()
    errors.unknown_fields(payload, {"quantity"})
    if "quantity" not in payload:
        errors.add("quantity", "is required")
    quantity = errors.integer(payload.get("quantity"), "quantity", minimum=1, maximum=MAX_RESTOCK)
    errors.raise_if_any()
    row = run_in_transaction(db.session, lambda session: restock(session, product_id, quantity))
    return with_etag({"id": row.id, "stock": row.stock, "version": row.version}, row.version)
