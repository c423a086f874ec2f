"""Filter forms for the reports (GET forms: no state changes, so no CSRF token).

Every value is validated here before it reaches SQL, as a bound parameter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from app.customers.models import REGIONS
from app.inputs import StrictIntegerField

MAX_RANGE_DAYS = 3 * 366
EARLIEST = date(2000, 1, 1)


def today() -> date:
    """Today in UTC, the reports' time zone."""
    return datetime.now(UTC).date()


class ReportForm(FlaskForm):
    """Base: read from the query string, without CSRF (a GET changes nothing)."""

    class Meta:
        csrf = False

    def params(self) -> dict:
        """Bound parameters for the report's SQL."""
        raise NotImplementedError


class DateRangeForm(ReportForm):
    """An inclusive date range, 90 days up to today by default."""

    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    default_days = 90

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then the range as a whole (either end may be left empty)."""
        if not super().validate(extra_validators):
            return False
        start, end = self.date_range()
        problem = None
        if start < EARLIEST or end > today() + timedelta(days=366):
            problem = "Dates must be between 2000 and next year."
        elif end < start:
            problem = "'To' must not be before 'From'."
        elif (end - start).days > MAX_RANGE_DAYS:
            problem = f"At most {MAX_RANGE_DAYS} days at a time."
        if problem:
            self.date_to.errors = [*self.date_to.errors, problem]
            return False
        return True

    def date_range(self) -> tuple[date, date]:
        """(first day, last day), both included."""
        end = self.date_to.data or today()
        start = self.date_from.data or end - timedelta(days=self.default_days - 1)
        return start, end

    def params(self) -> dict:
        start, end = self.date_range()
        # The SQL takes a half-open range: [first day, day after the last).
        return {"date_from": start, "date_to": end + timedelta(days=1)}


class TopCustomersForm(DateRangeForm):
    """Region (or all), dates, and how many customers per region."""

    region = SelectField(
        "Region",
        choices=[SelectChoice("", "All regions"), *(SelectChoice(r) for r in REGIONS)],
        default="",
    )
    top_n = StrictIntegerField(
        "Top per region", default=10, validators=[Optional(), NumberRange(1, 100)]
    )

    def params(self) -> dict:
        return super().params() | {
            "region": self.region.data or None,
            "top_n": self.top_n.data or 10,
        }


class ProductRankingForm(DateRangeForm):
    """Dates and how many products to list."""

    row_limit = StrictIntegerField(
        "Products", default=100, validators=[Optional(), NumberRange(1, 1000)]
    )

    def params(self) -> dict:
        return super().params() | {"row_limit": self.row_limit.data or 100}


class StockCoverForm(ReportForm):
    """How far back to measure sales, when to reorder, how many products."""

    days = StrictIntegerField(
        "Sales over the last N days", default=30, validators=[Optional(), NumberRange(1, 365)]
    )
    reorder_days = StrictIntegerField(
        "Reorder below N days of cover", default=14, validators=[Optional(), NumberRange(1, 365)]
    )
    row_limit = StrictIntegerField(
        "Products", default=100, validators=[Optional(), NumberRange(1, 1000)]
    )

    def params(self) -> dict:
        days = self.days.data or 30
        return {
            "since": today() - timedelta(days=days - 1),
            "days": days,
            "reorder_days": self.reorder_days.data or 14,
            "row_limit": self.row_limit.data or 100,
        }


class CohortForm(ReportForm):
    """Cohorts from a month on, followed for up to N months."""

    date_from = DateField("Cohorts from", validators=[Optional()])
    max_months = StrictIntegerField(
        "Months followed", default=12, validators=[Optional(), NumberRange(1, 36)]
    )

    def validate_date_from(self, field) -> None:
        if field.data and not EARLIEST <= field.data <= today():
            raise ValidationError("Pick a month between 2000 and today.")

    def params(self) -> dict:
        first_of_month = today().replace(day=1)
        default_start = (first_of_month - timedelta(days=330)).replace(day=1)
        return {
            "date_from": self.date_from.data or default_start,
            "date_to": today() + timedelta(days=1),
            "max_months": self.max_months.data or 12,
        }
