"""How the admin's model lists and detail pages show values: money with its currency,
big counts with digit grouping, times to the second in UTC.

One place for all views, so a price reads the same on every page. Everything here
returns :class:`~markupsafe.Markup` with data escaped: Flask-Admin inserts a
formatter's result into the page as it is.

Only display changes: sorting, filtering and the edit forms still work on the stored
values (integer cents, raw counts, timestamps).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from flask_admin.model import typefmt
from markupsafe import Markup, escape

DEFAULT_CURRENCY = "USD"
# Symbols written before the amount; any other code is written after it ("8.49 CHF").
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}

# What Flask-Admin calls with (view, context, model, column name).
ColumnFormatter = Callable[[Any, Any, Any, str], Markup]


def currency() -> str:
    """The shop's currency code: the app's ``CURRENCY`` setting, else US dollars (also
    outside an app, e.g. in a script)."""
    setting = current_app.config.get("CURRENCY") if has_app_context() else None
    return str(setting or DEFAULT_CURRENCY).strip().upper()


def money(cents: int | None, code: str | None = None) -> Markup:
    """``849`` cents as ``$8.49`` (``-$8.49``, ``1,234.00 CHF``); empty for no amount.

    Integer arithmetic, not ``cents / 100``: a float loses cents on big totals.
    ``code`` defaults to :func:`currency`.
    """
    if cents is None:
        return Markup("")
    code = code or currency()
    units, rest = divmod(abs(int(cents)), 100)
    amount = f"{units:,}.{rest:02d}"
    sign = "-" if cents < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    text = f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {code}"
    return Markup(escape(text))


def grouped(number: int | None) -> Markup:
    """``100425051`` as ``100,425,051``; empty for no number."""
    if number is None:
        return Markup("")
    return Markup(escape(f"{int(number):,}"))


def _utc(value: datetime) -> datetime:
    """``value`` in UTC, microseconds dropped (truncated, as the stored time has passed).

    The columns are ``timestamptz``, so values are aware; a naive one is taken as UTC
    (the database session's zone), not as the server's local time."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


def time_text(value: datetime | None) -> str:
    """A time as ``2026-11-27 11:59:14 UTC``; empty for no time."""
    if value is None:
        return ""
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_iso(value: datetime) -> str:
    """A time as ISO 8601 in UTC to the second: ``2026-11-27T11:59:14Z``."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_time(value: datetime | None) -> Markup:
    """A ``<time>`` element reading ``2026-11-27 11:59:14 UTC``, its ISO form in the
    ``datetime`` attribute and on hover; empty for no time."""
    if value is None:
        return Markup("")
    iso = time_iso(value)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, iso, time_text(value))


def ago_text(seconds: float) -> str:
    """``42`` as ``42 s ago``, then minutes, hours and days (whole units)."""
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def relative_time(value: datetime | None, now: datetime | None = None) -> Markup:
    """A ``<time>`` element reading ``5 min ago`` (for live pages), the full UTC time
    on hover; empty for no time."""
    if value is None:
        return Markup("")
    now = now or datetime.now(UTC)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        time_iso(value), time_text(value), ago_text((now - _utc(value)).total_seconds())
    )


def register_filters(app: Any) -> None:
    """The template filters ``money``, ``grouped``, ``utc_time`` and ``relative_time``."""
    app.jinja_env.filters.update(
        money=money, grouped=grouped, utc_time=utc_time, relative_time=relative_time
    )


def money_column(currency_code: str | None = None) -> ColumnFormatter:
    """A ``column_formatters`` entry showing the column's integer cents as money."""

    def format_money(view: Any, context: Any, model: Any, name: str) -> Markup:
        return money(getattr(model, name), currency_code)

    return format_money


def grouped_column(view: Any, context: Any, model: Any, name: str) -> Markup:
    """A ``column_formatters`` entry showing the column's integer with digit grouping."""
    return grouped(getattr(model, name))


def _time_type_formatter(view: Any, value: datetime, name: str) -> Markup:
    return utc_time(value)


# ``column_type_formatters`` / ``column_type_formatters_detail`` for every model view:
# Flask-Admin's defaults (empty for NULL, icons for booleans...) plus times. Type
# formatters reach every datetime column, so no list can forget one.
LIST_TYPE_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _time_type_formatter}
DETAIL_TYPE_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, datetime: _time_type_formatter}
