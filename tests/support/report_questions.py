"""Report questions asked both ways, from the rollups and from the raw orders, by
the tests of the rollups and of the jobs process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.reports.rollups.audit import Difference, compare

REGIONS = ("europe", "asia-pacific", "north-america")


def questions() -> list[tuple[str, dict]]:
    """The report questions checked after every step (worked out when asked: a test
    running past midnight moves its days)."""
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    asked: list[tuple[str, dict]] = []
    for days in (1, 30, 90, 365):
        span = {"date_from": today - timedelta(days=days - 1), "date_to": tomorrow}
        asked.append(("daily-revenue", span))
        asked.append(("product-ranking", {**span, "row_limit": 100}))
        asked.append(("top-customers", {**span, "top_n": 3, "region": None}))
        asked.append(("top-customers", {**span, "top_n": 2, "region": REGIONS[1]}))
    asked.append(
        (
            "stock-cover",
            {"since": today - timedelta(days=29), "days": 30, "reorder_days": 14, "row_limit": 50},
        )
    )
    year_ago = (today.replace(day=1) - timedelta(days=360)).replace(day=1)
    asked.append(
        ("cohort-retention", {"date_from": year_ago, "date_to": tomorrow, "max_months": 13})
    )
    return asked


def differences(engine: Engine) -> list[Difference]:
    """The questions whose two answers differ, read in one snapshot."""
    options = {"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as conn:
        try:
            return compare(conn, questions())
        finally:
            conn.rollback()
