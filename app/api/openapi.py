"""OpenAPI 3.1 description of /api, served at /api/openapi.json.

Tests validate the real responses of every route against these schemas, so the
document cannot drift from what the API does.
"""

from __future__ import annotations


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _problem(description: str, headers: dict | None = None) -> dict:
    response = {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}
ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'The version, e.g. "3".'}}
COMMON_ERRORS = {
    "401": _problem("Missing, unknown or revoked API token."),
    "503": _problem("Database unavailable or no connection free in time.", RETRY_AFTER),
}
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "The `next` value of the previous page.",
    },
]

SCHEMAS = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
            "product_id": {"type": "integer"},
            "product_ids": {"type": "array", "items": {"type": "integer"}},
            "customer_id": {"type": "integer"},
            "requested": {"type": "integer"},
            "available": {"type": "integer"},
            "shortages": {"type": "array", "items": {"type": "object"}},
            "current_version": {"type": "integer"},
        },
    },
    "Product": {
        "type": "object",
        "required": ["id", "sku", "name", "price_cents", "stock", "version"],
        "properties": {
            "id": ID,
            "sku": {"type": "string"},
            "name": {"type": "string"},
            "price_cents": {"type": "integer", "minimum": 0},
            "stock": {"type": "integer", "minimum": 0},
            "version": {"type": "integer"},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "ProductChanges": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "price_cents": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "stock": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "description": {"type": "string", "maxLength": 10_000},
        },
        "additionalProperties": False,
    },
    "Restock": {
        "type": "object",
        "required": ["quantity"],
        "properties": {"quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000}},
        "additionalProperties": False,
    },
    "StockLevel": {
        "type": "object",
        "required": ["id", "stock", "version"],
        "properties": {"id": ID, "stock": {"type": "integer"}, "version": {"type": "integer"}},
        "additionalProperties": False,
    },
    "Customer": {
        "type": "object",
        "required": ["id", "public_id", "email", "name", "region"],
        "properties": {
            "id": ID,
            "public_id": {"type": "string", "format": "uuid"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "region": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "NewOrder": {
        "type": "object",
        "required": ["customer_id", "lines"],
        "properties": {
            "customer_id": ID,
            "locking": {"enum": ["pessimistic", "optimistic"]},
            "lines": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "required": ["product_id", "quantity"],
                    "properties": {
                        "product_id": ID,
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    },
                    "additionalProperties": False,
                },
                "description": "Each product at most once (repeats are refused, not merged).",
            },
        },
        "additionalProperties": False,
    },
    "Order": {
        "type": "object",
        "required": [
            "public_id",
            "customer_id",
            "status",
            "total_cents",
            "placed_at",
            "cancelled_at",
            "lines",
        ],
        "properties": {
            "public_id": {"type": "string", "format": "uuid"},
            "customer_id": ID,
            "status": {"enum": ["placed", "cancelled"]},
            "total_cents": {"type": "integer", "minimum": 0},
            "placed_at": {"type": "string", "format": "date-time"},
            "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["product_id", "quantity", "unit_price_cents"],
                    "properties": {
                        "product_id": ID,
                        "quantity": {"type": "integer", "minimum": 1},
                        "unit_price_cents": {"type": "integer", "minimum": 0},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
}


def _page_of(name: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


PRODUCT_ID = {"name": "product_id", "in": "path", "required": True, "schema": ID}
PUBLIC_ID = {
    "name": "public_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}

PATHS = {
    "/api/customers": {
        "get": {
            "summary": "List customers (keyset pagination); ?email= finds one",
            "parameters": [
                *PAGE_PARAMETERS,
                {"name": "email", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(_page_of("Customer"), "A page of customers."),
                "422": _problem("Bad limit, cursor or email."),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/products": {
        "get": {
            "summary": "List products (keyset pagination)",
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": _json(_page_of("Product"), "A page of products."),
                "422": _problem("Bad limit or cursor."),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/products/{product_id}": {
        "parameters": [PRODUCT_ID],
        "get": {
            "summary": "One product; its version is the ETag",
            "responses": {
                "200": _json(_ref("Product"), "The product.", ETAG),
                "404": _problem("No such product."),
                **COMMON_ERRORS,
            },
        },
        "patch": {
            "summary": "Change a product; If-Match with the ETag is required",
            "parameters": [
                {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": _body("ProductChanges"),
            "responses": {
                "200": _json(_ref("Product"), "The changed product.", ETAG),
                "400": _problem("Malformed If-Match or JSON."),
                "404": _problem("No such product."),
                "412": _problem("The product changed since that version.", ETAG),
                "415": _problem("The body is not JSON."),
                "422": _problem("Invalid fields."),
                "428": _problem("If-Match is missing."),
                **COMMON_ERRORS,
            },
        },
    },
    "/api/products/{product_id}/restock": {
        "parameters": [PRODUCT_ID],
        "post": {
            "summary": "Add units to stock (atomic increment)",
            "requestBody": _body("Restock"),
            "responses": {
                "200": _json(_ref("StockLevel"), "The new stock level.", ETAG),
                "404": _problem("No such product."),
                "422": _problem("Invalid quantity, or stock would overflow."),
                **COMMON_ERRORS,
            },
        },
    },
    "/api/orders": {
        "post": {
            "summary": "Place an order",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "schema": {"type": "string", "maxLength": 255},
                    "description": "Same key and body: the first response is "
                    "replayed and no second order is created.",
                }
            ],
            "requestBody": _body("NewOrder"),
            "responses": {
                "201": _json(
                    _ref("Order"), "Placed.", {"Location": {"schema": {"type": "string"}}}
                ),
                "400": _problem("Malformed JSON."),
                "404": _problem("Unknown customer or product."),
                "409": _problem(
                    "insufficient-stock (which product, requested, available), "
                    "conflict (retry after Retry-After), or a request with the "
                    "same Idempotency-Key still running.",
                    RETRY_AFTER,
                ),
                "413": _problem("Body too large."),
                "415": _problem("The body is not JSON."),
                "422": _problem(
                    "Invalid fields, or an Idempotency-Key reused for a different body."
                ),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/orders/{public_id}": {
        "parameters": [PUBLIC_ID],
        "get": {
            "summary": "One order with its lines",
            "responses": {
                "200": _json(_ref("Order"), "The order."),
                "404": _problem("No such order."),
                **COMMON_ERRORS,
            },
        },
    },
    "/api/orders/{public_id}/cancel": {
        "parameters": [PUBLIC_ID],
        "post": {
            "summary": "Cancel an order; restores stock exactly once, repeating is harmless",
            "responses": {
                "200": _json(_ref("Order"), "The cancelled order."),
                "404": _problem("No such order."),
                "409": _problem("Conflict; retry after Retry-After.", RETRY_AFTER),
                **COMMON_ERRORS,
            },
        },
    },
}

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "Stockroom API",
        "version": "1.0.0",
        "description": "Errors are RFC 9457 problem+json.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "flask api-token create NAME",
            }
        },
    },
}
