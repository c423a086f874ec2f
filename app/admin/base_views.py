"""What every admin model view shares: login required, CSRF-carrying forms, integer
ids, strict filters, and lists whose cost follows the page on large tables."""

from __future__ import annotations

from flask import current_app, flash, g, request
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.form import BaseForm
from flask_admin.model.filters import BaseIntFilter, BaseIntListFilter
from flask_wtf import FlaskForm
from sqlalchemy.exc import DataError
from wtforms.validators import InputRequired, Length, Regexp

from app.auth.admins import EMAIL_PATTERN
from app.auth.guards import LoginRequired
from app.db.sql import query
from app.extensions import db
from app.inputs import MAX_BIGINT, clean_text, parse_integer


def email_field_args(minimum: int, maximum: int) -> dict:
    """Email form fields: trimmed, lower-cased (as stored), shaped like an address,
    within the column's limits."""
    return {
        "validators": [
            InputRequired(),
            Length(minimum, maximum),
            Regexp(EMAIL_PATTERN, message="Not an email address."),
        ],
        "filters": [lambda value: value.strip().lower() if value else value],
    }


class CsrfForm(BaseForm, FlaskForm):
    """Flask-Admin's form base with Flask-WTF's CSRF token: the global CSRFProtect
    accepts it (Flask-Admin's own SecureForm token would be rejected)."""


MAX_PAGE = 100_000
# Past ADMIN_LARGE_TABLE_ROWS rows (the planner's estimate) a list shows no exact
# total (the count would read the whole table on every page) and offers pages up to
# LARGE_MAX_PAGE only (an OFFSET reads every row it skips).
LARGE_MAX_PAGE = 200


def integer_ids(ids) -> list[int]:
    """Row ids from a form, as integers (psycopg 3 will not compare bigint with text)."""
    result = []
    for value in ids:
        try:
            number = parse_integer(value)
        except ValueError:
            continue
        if 1 <= number <= MAX_BIGINT:
            result.append(number)
    return result


class _StrictIntegers:
    """Flask-Admin's integer filters, taking only ASCII digits (after an optional
    minus): ``int()`` alone would also take ``+7``, ``1_000`` or ``٣``."""

    def validate(self, value) -> bool:
        parts = value.split(",") if isinstance(self, BaseIntListFilter) else [value]
        try:
            numbers = [parse_integer(part.strip() if len(parts) > 1 else part) for part in parts]
        except ValueError:
            return False
        return bool(numbers)


class StrictFilterConverter(FilterConverter):
    """Flask-Admin's filter converter with :class:`_StrictIntegers` integer filters."""

    int_filters = tuple(
        type(f"Strict{flt.__name__}", (_StrictIntegers, flt), {})
        if issubclass(flt, BaseIntFilter | BaseIntListFilter)
        else flt  # "is empty" takes 0 or 1 and checks that itself
        for flt in FilterConverter.int_filters
    )


# List arguments Flask-Admin reads as integers, and what it uses when they are absent.
_INTEGER_LIST_ARGS = {"page": 0, "page_size": 0, "sort": None, "sort_desc": None}
_QUERY_KEYS = {"sort_desc": "desc"}


class SecureModelView(LoginRequired, ModelView):
    """A model view with login, CSRF and integer primary keys; on a large table, a
    list whose cost follows the page (no exact count, pages capped)."""

    form_base_class = CsrfForm
    filter_converter = StrictFilterConverter()
    page_size = 50
    can_set_page_size = True
    can_view_details = True
    list_template = "admin/model/large_list.html"

    @property
    def simple_list_pager(self):
        """Previous/next only, without counting, when this request lists a large
        table (views are shared by threads: the answer lives on ``g``)."""
        return bool(g.get("admin_list_estimate"))

    def _large_table_estimate(self) -> int | None:
        """The table's estimated rows if it is large, else None (one catalog read)."""
        estimate = db.session.execute(
            query("app.admin", "table_estimate.sql"), {"table_name": self.model.__tablename__}
        ).scalar()
        large = estimate is not None and estimate > current_app.config["ADMIN_LARGE_TABLE_ROWS"]
        return estimate if large else None

    def _get_list_extra_args(self):
        """Flask-Admin's list arguments, cleaned of what would reach SQL as an error:
        negative or huge page numbers, NUL bytes, very long searches; on a large
        table, pages past LARGE_MAX_PAGE are not offered."""
        args = super()._get_list_extra_args()
        g.admin_list_estimate = self._large_table_estimate()
        g.admin_list_max_page = LARGE_MAX_PAGE
        if g.admin_list_estimate and (args.page or 0) > LARGE_MAX_PAGE:
            flash(
                f"Pages past {LARGE_MAX_PAGE + 1} are not offered on a table this large: "
                "filter (by date, customer ...) or sort the other way to reach older rows."
            )
            args.page = LARGE_MAX_PAGE
        for name, default in _INTEGER_LIST_ARGS.items():
            raw = request.args.get(_QUERY_KEYS.get(name, name))
            if raw is None:
                continue
            try:
                parse_integer(raw)
            except ValueError:
                flash(f"Ignored {_QUERY_KEYS.get(name, name)}={raw[:40]!r}: not a whole number.")
                setattr(args, name, default)
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        if args.search:
            args.search = clean_text(args.search) or None
        if args.filters:
            args.filters = [(index, name, clean_text(value)) for index, name, value in args.filters]
        return args

    def get_list(self, *args, **kwargs):
        """Flask-Admin's list query; values the database cannot compare (a filter
        number beyond the column's range) give a message and no rows, not a 500."""
        try:
            return super().get_list(*args, **kwargs)
        except DataError:
            db.session.rollback()
            flash("Some filter values are out of range for their column.", "error")
            return 0, []

    def get_one(self, id):
        ids = integer_ids([id])
        return db.session.get(self.model, ids[0]) if ids else None

    @action("delete", "Delete", "Are you sure you want to delete the selected records?")
    def action_delete(self, ids):
        """Flask-Admin's bulk delete, with the ids cast (flask-admin issue 2951)."""
        return super().action_delete(tuple(integer_ids(ids)))
