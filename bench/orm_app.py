"""The textbook Flask-SQLAlchemy order endpoint, for the order benchmark: load each
product with ``get(..., with_for_update=True)``, change attributes, add the order
and its lines, ``commit``. Stockroom's own models and schema; nothing else of
Stockroom (no authentication, idempotency or instrumentation).
``gunicorn bench.orm_app:app`` with ``DATABASE_URL``.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request

from app import models  # noqa: F401  (every table, for the foreign keys)
from app.catalog.models import Product
from app.config import sqlalchemy_url
from app.extensions import db
from app.orders.models import Order, OrderLine


def create(url: str, pool_size: int = 8) -> Flask:
    """The Flask app on the database at ``url``."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": pool_size, "max_overflow": 0}
    db.init_app(app)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/api/orders")
    def place_order():
        data = request.get_json()
        order = Order(customer_id=data["customer_id"], total_cents=0, item_count=0)
        db.session.add(order)
        # In product-id order, so two orders never lock in opposite orders.
        for line in sorted(data["lines"], key=lambda line: line["product_id"]):
            product = db.session.get(Product, line["product_id"], with_for_update=True)
            if product is None or product.stock < line["quantity"]:
                db.session.rollback()
                return jsonify(type="/problems/insufficient-stock", status=409), 409
            product.stock -= line["quantity"]
            db.session.add(
                OrderLine(
                    order=order,
                    product_id=product.id,
                    quantity=line["quantity"],
                    unit_price_cents=product.price_cents,
                )
            )
            order.total_cents += product.price_cents * line["quantity"]
            order.item_count += line["quantity"]
        db.session.commit()
        return jsonify(id=order.id), 201

    return app


def __getattr__(name: str):
    # ``app`` is built when gunicorn asks for it, from the environment.
    if name == "app":
        return create(os.environ["DATABASE_URL"], int(os.environ.get("GUNICORN_THREADS", "8")))
    raise AttributeError(name)
