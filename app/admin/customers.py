"""Customers in the admin."""

from __future__ import annotations

from flask_admin.contrib.sqla.filters import FilterEqual, FilterNotEqual
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from app.admin.base_views import SecureModelView, email_field_args
from app.admin.formatting import DETAIL_TYPE_FORMATTERS, LIST_TYPE_FORMATTERS
from app.customers.models import EMAIL_MAX, EMAIL_MIN, REGIONS, Customer

REGION_OPTIONS = [(region, region) for region in REGIONS]


class _KnownRegion:
    """A region filter that offers the regions as a choice list and takes only them
    (anything else is flashed as an invalid filter value and ignored)."""

    def validate(self, value) -> bool:
        return value in REGIONS


class RegionEquals(_KnownRegion, FilterEqual):
    """Region equals one of the regions."""


class RegionNotEqual(_KnownRegion, FilterNotEqual):
    """Region is not the chosen one."""


class CustomerView(SecureModelView):
    """Customers: search by email or name, filter by region. Not deletable (orders)."""

    can_delete = False
    column_list = ("id", "public_id", "email", "name", "region", "created_at")
    column_searchable_list = ("email", "name")
    column_filters = (
        RegionEquals(Customer.region, "Region", options=REGION_OPTIONS),
        RegionNotEqual(Customer.region, "Region", options=REGION_OPTIONS),
        "created_at",
    )
    # Only sorts an index serves (id order is creation order); name and created_at
    # would sort the whole table on every page.
    column_sortable_list = ("id", "email", "region")
    column_default_sort = ("id", False)
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    form_columns = ("email", "name", "region")
    form_overrides = {"email": StringField, "name": StringField, "region": SelectField}
    form_args = {
        "email": email_field_args(EMAIL_MIN, EMAIL_MAX),
        "name": {"validators": [InputRequired(), Length(1, 200)]},
        "region": {"choices": [SelectChoice(r) for r in REGIONS]},
    }
