"""Orders in the admin: read-only list and detail; cancelling goes through the
order service (stock restored exactly once), never by editing rows."""

from __future__ import annotations

from functools import partial

from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.admin.base_views import SecureModelView, integer_ids
from app.admin.formatting import (
    DETAIL_TYPE_FORMATTERS,
    LIST_TYPE_FORMATTERS,
    grouped,
    grouped_column,
    money,
    money_column,
)
from app.catalog.models import Product
from app.db.errors import ConflictPersists, LockWaitTimeout
from app.db.transactions import RetryPolicy, run_in_transaction
from app.extensions import db
from app.orders.models import Order
from app.orders.service import OrderNotFound, cancel_order


def _lines_table(view, context, model, name) -> Markup:
    """The order's lines by product name and SKU (one query for all their products)."""
    ids = [line.product_id for line in model.lines]
    products = {
        row.id: row
        for row in db.session.execute(
            select(Product.id, Product.sku, Product.name, Product.deleted_at).where(
                Product.id.in_(ids)
            )
        )
    }
    rows = Markup("").join(
        Markup(
            "<tr><td>{}{}</td><td><code>{}</code></td><td class='text-right'>{}</td>"
            "<td class='text-right'>{}</td></tr>"
        ).format(
            products[line.product_id].name,
            Markup(" <span class='text-muted'>(deleted)</span>")
            if products[line.product_id].deleted_at
            else "",
            products[line.product_id].sku,
            grouped(line.quantity),
            money(line.unit_price_cents),
        )
        for line in model.lines
    )
    return Markup(
        "<table class='table table-sm order-lines'><tr><th>Product</th><th>SKU</th>"
        "<th class='text-right'>Quantity</th><th class='text-right'>Unit price</th></tr>{}"
        "</table>"
    ).format(rows)


def _cancel(public_id: str) -> tuple[str, str]:
    """Cancel one order through the order service (its own transaction, retried on a
    conflict); the flash message and its category."""
    try:
        _order, now = run_in_transaction(
            db.session,
            partial(cancel_order, public_id=public_id, cancelled_by=current_user.id),
            retry=RetryPolicy(),
        )
    except OrderNotFound:
        return "That order does not exist.", "error"
    except (ConflictPersists, LockWaitTimeout):
        return "The order is busy right now and was not cancelled: try again.", "error"
    if not now:
        return "This order was already cancelled: nothing changed.", "warning"
    return "Order cancelled; its stock is back.", "success"


class OrderView(SecureModelView):
    """Orders with their customer (joined in the list query: no query per row)."""

    can_create = False
    can_edit = False
    can_delete = False
    details_template = "admin/model/order_details.html"
    column_list = (
        "id",
        "public_id",
        "customer",
        "status",
        "item_count",
        "total_cents",
        "placed_at",
    )
    column_details_list = (
        "public_id",
        "customer",
        "status",
        "total_cents",
        "placed_at",
        "cancelled_at",
        "lines",
    )
    # Only filters and sorts an index serves: at ten million orders a filter on the
    # total, or a sort by status or total, reads the whole table (1.3 s to past the
    # 5 s statement timeout).
    column_filters = ("status", "placed_at", "customer_id")
    column_sortable_list = ("id", "placed_at")
    column_default_sort = ("id", True)
    column_labels = {"total_cents": "Total", "item_count": "Items", "customer": "Customer"}
    column_formatters = {
        "customer": lambda v, c, model, n: model.customer.email,
        "total_cents": money_column(),
        "item_count": grouped_column,
    }
    column_formatters_detail = {
        "customer": lambda v, c, model, n: Markup("{} ({})").format(
            escape(model.customer.name), escape(model.customer.email)
        ),
        "total_cents": money_column(),
        "lines": _lines_table,
    }
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS

    def get_query(self):
        return super().get_query().options(joinedload(Order.customer))

    def get_one(self, id):
        ids = integer_ids([id])
        if not ids:
            return None
        return db.session.get(
            Order, ids[0], options=[joinedload(Order.customer), selectinload(Order.lines)]
        )

    @expose("/cancel/", methods=("POST",))
    def cancel_view(self):
        """The Cancel button of an order's page (CSRF checked by the app's CSRFProtect)."""
        ids = integer_ids([request.form.get("id", "")])
        public_id = (
            db.session.scalar(select(Order.public_id).where(Order.id == ids[0])) if ids else None
        )
        if public_id is None:
            flash("That order does not exist.", "error")
            return redirect(self.get_url(".index_view"))
        message, category = _cancel(str(public_id))
        flash(message, category)
        return redirect(self.get_url(".details_view", id=ids[0]))

    @action("cancel", "Cancel", "Cancel the selected orders and return their stock?")
    def action_cancel(self, ids):
        """Cancel through the order service, one transaction per order."""
        cancelled = unchanged = failed = 0
        public_ids = db.session.scalars(
            select(Order.public_id).where(Order.id.in_(integer_ids(ids)))
        ).all()
        for public_id in public_ids:
            try:
                _order, now = run_in_transaction(
                    db.session,
                    partial(cancel_order, public_id=str(public_id), cancelled_by=current_user.id),
                    retry=RetryPolicy(),
                )
            except (OrderNotFound, ConflictPersists, LockWaitTimeout):
                failed += 1
                continue
            if now:
                cancelled += 1
            else:
                unchanged += 1
        flash(
            f"{cancelled} order(s) cancelled, {unchanged} already cancelled"
            + (f", {failed} could not be cancelled now (retry)" if failed else ""),
            "error" if failed else "success",
        )
