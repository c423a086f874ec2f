"""Products in the admin: search, filters, sort, create, edit with optimistic
locking, soft delete."""

from __future__ import annotations

from flask import flash
from markupsafe import Markup, escape
from sqlalchemy import func, select
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from app.admin.base_views import SecureModelView
from app.admin.formatting import (
    DETAIL_TYPE_FORMATTERS,
    LIST_TYPE_FORMATTERS,
    grouped,
    grouped_column,
    money,
    money_column,
)
from app.catalog.models import Product
from app.catalog.service import StaleVersion, update_product
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.inputs import MAX_INT, StrictIntegerField, parse_integer


class ProductView(SecureModelView):
    """Live products; deleting one only marks it deleted (orders still refer to it)."""

    column_list = ("id", "sku", "name", "price_cents", "stock", "version", "updated_at")
    column_searchable_list = ("sku", "name")
    column_filters = ("price_cents", "stock", "created_at", "updated_at")
    column_sortable_list = ("id", "sku", "name", "price_cents", "stock", "updated_at")
    column_default_sort = ("id", False)
    # The list shows money ("$8.49"); forms and filters still take whole cents, and
    # their labels say so (see form_args and scaffold_filters).
    column_labels = {"price_cents": "Price"}
    column_formatters = {"price_cents": money_column(), "stock": grouped_column}
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    form_columns = ("sku", "name", "description", "price_cents", "stock")
    form_overrides = {
        "name": StringField,
        "price_cents": StrictIntegerField,
        "stock": StrictIntegerField,
    }
    form_args = {
        "name": {"validators": [InputRequired(), Length(1, 200)]},
        "sku": {"validators": [InputRequired(), Length(1, 64)]},
        "price_cents": {
            "label": "Price (cents)",
            "description": "Whole cents: 849 for 8.49.",
            "validators": [InputRequired(), NumberRange(0, MAX_INT)],
        },
        "stock": {"validators": [InputRequired(), NumberRange(0, MAX_INT)]},
    }

    def scaffold_filters(self, name):
        filters = super().scaffold_filters(name)
        if name == "price_cents":
            # The filter compares stored cents; "Price" alone would invite "8.49".
            for flt in filters or ():
                flt.name = "Price (cents)"
        return filters

    def get_query(self):
        return super().get_query().filter(Product.deleted_at.is_(None))

    def get_count_query(self):
        return db.session.query(func.count(Product.id)).filter(Product.deleted_at.is_(None))

    def scaffold_form(self):
        form_class = super().scaffold_form()
        # The version the admin saw travels with the edit form (optimistic locking).
        form_class.version = HiddenField()
        return form_class

    def create_form(self, obj=None):
        form = super().create_form(obj)
        del form.version  # a new product has no version yet
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.sku  # the SKU identifies the product; it is not edited
        return form

    def on_form_prefill(self, form, id):
        form.version.data = str(self.get_one(id).version)

    def update_model(self, form, model):
        """Save only if nobody saved the product since this form was opened."""
        try:
            seen = parse_integer(form.version.data)
        except (TypeError, ValueError):
            flash("The form lost its version; reload the product and try again.", "error")
            return False
        changes = {
            "name": form.name.data.strip(),
            "description": form.description.data or "",
            "price_cents": form.price_cents.data,
            "stock": form.stock.data,
        }
        try:
            run_in_transaction(
                db.session,
                lambda session: update_product(
                    session, model.id, expected_version=seen, changes=changes
                ),
            )
        except StaleVersion:
            # Products are only ever soft-deleted: the row is still there.
            current = db.session.scalars(select(Product).where(Product.id == model.id)).one()
            flash(
                Markup(
                    "Someone else saved this product after you opened it; nothing was "
                    "overwritten. It now reads: name <b>{}</b>, price {} ({} cents), stock {} "
                    "(version {}). Reload to edit the new version."
                ).format(
                    escape(current.name),
                    money(current.price_cents),
                    current.price_cents,  # what the form's "Price (cents)" field takes
                    grouped(current.stock),
                    current.version,
                ),
                "error",
            )
            return False
        return True

    def delete_model(self, model):
        """Soft delete: the product disappears from lists; order history keeps it."""
        run_in_transaction(db.session, lambda session: setattr(model, "deleted_at", func.now()))
        return True
