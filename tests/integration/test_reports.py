"""The report pages against figures computed independently, in plain Python, over a
small hand-made data set (committed: reports run on their own connections)."""

from __future__ import annotations

import csv
import html
import io
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from browser_forms import add_admin, log_in
from sqlalchemy import text

from app.catalog.models import Product
from app.customers.models import Customer
from app.orders.models import Order, OrderLine
from app.reports.definitions import REPORTS
from app.reports.runner import _in_read_only_transaction

TODAY = datetime.now(UTC).date()


@dataclass
class HandOrder:
    customer: str
    days_ago: int
    hour: int
    lines: list[tuple[str, int]]
    status: str = "placed"

    @property
    def placed_at(self) -> datetime:
        return datetime.combine(TODAY - timedelta(days=self.days_ago), time(self.hour), UTC)


CUSTOMERS = {
    "ana": "europe",
    "ben": "europe",
    "chen": "asia-pacific",
    "dara": "asia-pacific",
    "eve": "europe",
}
PRODUCTS = {"hammer": (1000, 10), "nails": (5, 500), "saw": (2500, 0), "glue": (300, 4)}
ORDERS = [
    HandOrder("ana", 1, 10, [("hammer", 2), ("nails", 100)]),
    HandOrder("ana", 3, 23, [("nails", 40)]),
    HandOrder("ben", 3, 1, [("hammer", 1)]),
    HandOrder("chen", 5, 12, [("saw", 2), ("glue", 1)]),
    HandOrder("chen", 40, 9, [("hammer", 1)]),
    HandOrder("ben", 10, 15, [("saw", 1)], status="cancelled"),
    HandOrder("ana", 70, 8, [("glue", 3)]),
    HandOrder("dara", 95, 18, [("nails", 10)]),
    HandOrder("dara", 2, 18, [("glue", 2)]),
    HandOrder("eve", 130, 11, [("hammer", 3)]),
    HandOrder("eve", 60, 11, [("nails", 1)]),
]


def total(order: HandOrder) -> int:
    return sum(PRODUCTS[name][0] * quantity for name, quantity in order.lines)


@pytest.fixture
def shop(committed):
    """The hand-made data, committed; returns ids by name."""
    with committed.sessions() as session:
        add_admin(session)
        customers = {
            name: Customer(email=f"{name}@example.com", name=name.title(), region=region)
            for name, region in CUSTOMERS.items()
        }
        products = {
            name: Product(sku=name.upper(), name=name.title(), price_cents=price, stock=stock)
            for name, (price, stock) in PRODUCTS.items()
        }
        session.add_all([*customers.values(), *products.values()])
        session.flush()
        for hand in ORDERS:
            order = Order(
                customer_id=customers[hand.customer].id,
                status=hand.status,
                total_cents=total(hand),
                item_count=sum(quantity for _, quantity in hand.lines),
                placed_at=hand.placed_at,
            )
            session.add(order)
            session.flush()
            session.add_all(
                OrderLine(
                    order_id=order.id,
                    product_id=products[name].id,
                    quantity=quantity,
                    unit_price_cents=PRODUCTS[name][0],
                )
                for name, quantity in hand.lines
            )
        session.commit()
        return (
            {name: c.id for name, c in customers.items()},
            {name: p.id for name, p in products.items()},
        )


@pytest.fixture
def reports_client(base_app, shop):
    client = base_app.test_client()
    assert log_in(client).status_code == 302
    return client


def report_csv(client, slug: str, **filters) -> list[dict]:
    response = client.get(f"/reports/{slug}", query_string={**filters, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.text)))


def in_range(order: HandOrder, first: date, last: date) -> bool:
    return first <= order.placed_at.date() <= last


def test_top_customers(reports_client):
    first, last = TODAY - timedelta(days=89), TODAY
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in ORDERS:
        if o.status == "placed" and in_range(o, first, last):
            totals[o.customer][0] += 1
            totals[o.customer][1] += total(o)
    expected = []
    for region in sorted(set(CUSTOMERS.values())):
        members = sorted(
            ((name, t) for name, t in totals.items() if CUSTOMERS[name] == region),
            key=lambda item: -item[1][1],
        )
        region_total = sum(t[1] for _, t in members)
        expected += [
            (region, str(rank), name.title(), str(t[0]), str(t[1]), t[1] / region_total)
            for rank, (name, t) in enumerate(members[:2], 1)
        ]

    rows = report_csv(
        reports_client,
        "top-customers",
        top_n=2,
        date_from=first.isoformat(),
        date_to=last.isoformat(),
    )
    got = [
        (
            r["region"],
            r["rank"],
            r["name"],
            r["orders"],
            r["revenue_cents"],
            float(r["region_share"]),
        )
        for r in rows
    ]
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    assert [g[5] for g in got] == pytest.approx([e[5] for e in expected], abs=1e-6)

    europe = report_csv(reports_client, "top-customers", region="europe", top_n=10)
    assert {r["region"] for r in europe} == {"europe"}


def test_daily_revenue(reports_client):
    first, last = TODAY - timedelta(days=9), TODAY
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    revenue = {
        d: sum(total(o) for o in ORDERS if o.status == "placed" and o.placed_at.date() == d)
        for d in days
    }
    counts = {
        d: sum(1 for o in ORDERS if o.status == "placed" and o.placed_at.date() == d) for d in days
    }

    rows = report_csv(
        reports_client, "daily-revenue", date_from=first.isoformat(), date_to=last.isoformat()
    )
    assert [r["day"] for r in rows] == [d.isoformat() for d in days]  # gaps filled
    running = 0
    for i, (row, day) in enumerate(zip(rows, days, strict=True)):
        running += revenue[day]
        window = [revenue[d] for d in days[max(0, i - 6) : i + 1]]
        assert (row["orders"], row["revenue_cents"], row["running_total_cents"]) == (
            str(counts[day]),
            str(revenue[day]),
            str(running),
        )
        # Whole cents, rounded half up.
        assert row["moving_avg_7d_cents"] == str(
            (Decimal(sum(window)) / len(window)).quantize(Decimal(1), ROUND_HALF_UP)
        )


def test_product_ranking(reports_client):
    first, last = TODAY - timedelta(days=89), TODAY
    units: dict[str, int] = defaultdict(int)
    revenue: dict[str, int] = defaultdict(int)
    for o in ORDERS:
        if o.status == "placed" and in_range(o, first, last):
            for name, quantity in o.lines:
                units[name] += quantity
                revenue[name] += quantity * PRODUCTS[name][0]
    ranked = sorted(revenue, key=lambda name: -revenue[name])
    grand = sum(revenue.values())
    running, expected = 0, []
    for rank, name in enumerate(ranked, 1):
        running += revenue[name]
        share = running / grand
        abc = "A" if share <= 0.80 else "B" if share <= 0.95 else "C"
        expected.append((str(rank), name.upper(), str(units[name]), str(revenue[name]), abc))

    rows = report_csv(
        reports_client, "product-ranking", date_from=first.isoformat(), date_to=last.isoformat()
    )
    assert [
        (r["revenue_rank"], r["sku"], r["units"], r["revenue_cents"], r["abc_class"]) for r in rows
    ] == expected
    assert float(rows[-1]["cumulative_share"]) == pytest.approx(1.0)


def test_stock_cover(reports_client):
    days, reorder = 30, 14
    since = TODAY - timedelta(days=days - 1)
    sold: dict[str, int] = defaultdict(int)
    for o in ORDERS:
        if o.status == "placed" and o.placed_at.date() >= since:
            for name, quantity in o.lines:
                sold[name] += quantity

    def cover(name):
        daily = sold[name] / days
        return PRODUCTS[name][1] / daily if daily else None

    expected = sorted(PRODUCTS, key=lambda n: (cover(n) is None, cover(n) or 0, -sold[n]))
    rows = report_csv(reports_client, "stock-cover", days=days, reorder_days=reorder)
    assert [r["sku"] for r in rows] == [name.upper() for name in expected]
    for row in rows:
        name = row["sku"].lower()
        assert float(row["daily_units"]) == pytest.approx(sold[name] / days, abs=1e-4)
        if cover(name) is None:
            assert (row["days_of_cover"], row["reorder"]) == ("", "false")
        else:
            assert float(row["days_of_cover"]) == pytest.approx(cover(name), abs=1e-3)
            assert row["reorder"] == str(cover(name) < reorder).lower()


def test_cohort_retention(reports_client):
    def month(d: date) -> date:
        return d.replace(day=1)

    start = month(TODAY - timedelta(days=200))
    first_month = {}
    active: dict[str, set] = defaultdict(set)
    for o in ORDERS:  # every order counts as coming back, cancelled or not
        m = month(o.placed_at.date())
        first_month[o.customer] = min(first_month.get(o.customer, m), m)
        active[o.customer].add(m)
    cohorts: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for customer, cohort in first_month.items():
        if cohort < start:
            continue
        for m in active[customer]:
            offset = (m.year - cohort.year) * 12 + m.month - cohort.month
            cohorts[cohort][offset] += 1
    expected = [
        (cohort.isoformat(), str(offset), str(n), str(cohorts[cohort][0]))
        for cohort in sorted(cohorts)
        for offset, n in sorted(cohorts[cohort].items())
    ]

    rows = report_csv(reports_client, "cohort-retention", date_from=start.isoformat())
    assert [
        (r["cohort"], r["month_offset"], r["active"], r["cohort_size"]) for r in rows
    ] == expected
    for row in rows:
        assert float(row["retention"]) == pytest.approx(
            int(row["active"]) / int(row["cohort_size"])
        )


@pytest.mark.parametrize(
    "slug", ["top-customers", "daily-revenue", "product-ranking", "stock-cover", "cohort-retention"]
)
def test_page_shows_table_chart_footer_and_explain(reports_client, slug):
    page = reports_client.get(f"/reports/{slug}")
    assert page.status_code == 200
    assert '<table class="table table-sm table-hover data" id="report-rows">' in page.text
    chart = page.text.split('<figure class="chart">')[1].split("</figure>")[0]
    assert "<svg" in chart and "<script" not in chart  # drawn on the server
    footer = page.text.split('id="report-footer"')[1]
    assert "row" in footer and "ms" in footer and "UTC" in footer
    assert page.text.count('class="num"') > 0  # numbers right-aligned
    explain = reports_client.get(f"/reports/{slug}/explain")
    assert explain.status_code == 200
    assert "Execution time:" in explain.text and "actual time" in explain.text


def table_rows(page: str) -> list[list[str]]:
    """The report page's table, cell texts by row."""
    body = page.split('id="report-rows">')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [
        [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.parametrize("slug", sorted(REPORTS))
def test_every_cents_column_in_the_csv_holds_whole_cents(reports_client, slug):
    """A spreadsheet user summing ``revenue_cents`` gets cents, the very amounts the
    page shows in currency units (12,345.67 on the page is 1234567 in the CSV)."""
    filters = {"date_from": (TODAY - timedelta(days=89)).isoformat()}
    if slug == "stock-cover":
        filters = {}
    rows = report_csv(reports_client, slug, **filters)
    page = reports_client.get(f"/reports/{slug}", query_string=filters)
    assert page.status_code == 200
    shown = table_rows(page.text)
    assert len(shown) == len(rows) > 0
    keys = [column.key for column in REPORTS[slug].columns]
    cents_columns = [key for key in rows[0] if key.endswith("_cents")]
    for row, cells in zip(rows, shown, strict=True):
        for key in cents_columns:
            assert re.fullmatch(r"-?\d+", row[key]), f"{key}={row[key]!r} is not whole cents"
            assert cells[keys.index(key)] == f"{int(row[key]) / 100:,.2f}", key
    if slug in ("top-customers", "daily-revenue", "product-ranking"):
        assert cents_columns  # money in these reports, in cents
        assert any(int(row[key]) > 0 for row in rows for key in cents_columns)


@pytest.mark.parametrize(
    ("slug", "query"),
    [
        ("daily-revenue", {"date_from": "2026-13-01"}),
        ("daily-revenue", {"date_from": "2026-05-01", "date_to": "2026-04-01"}),
        ("daily-revenue", {"date_from": "1990-01-01"}),
        ("daily-revenue", {"date_from": "2019-01-01", "date_to": "2026-01-01"}),
        ("top-customers", {"region": "mars"}),
        ("top-customers", {"top_n": "0"}),
        ("top-customers", {"top_n": "'; DROP TABLE orders; --"}),
        ("product-ranking", {"row_limit": "100000"}),
        ("stock-cover", {"days": "-3"}),
        ("cohort-retention", {"max_months": "abc"}),
    ],
)
def test_bad_filters_are_form_errors(reports_client, slug, query):
    page = reports_client.get(f"/reports/{slug}", query_string=query)
    assert page.status_code == 400
    assert 'id="form-errors"' in page.text
    assert "report-rows" not in page.text
    as_csv = reports_client.get(f"/reports/{slug}", query_string={**query, "format": "csv"})
    assert as_csv.status_code == 400


def test_unknown_report_is_404(reports_client):
    assert reports_client.get("/reports/everything").status_code == 404


def test_reports_require_login(base_app):
    response = base_app.test_client().get("/reports/daily-revenue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/reports/daily-revenue")


def test_a_slow_report_gives_a_message_not_a_500(make_app, shop, committed):
    app = make_app(REPORT_STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    assert log_in(client).status_code == 302
    locker = committed.connect()
    locker.begin()
    locker.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
    try:
        page = client.get("/reports/daily-revenue")
    finally:
        locker.rollback()
        locker.close()
    assert page.status_code == 503
    assert "took longer than 0.3 s" in page.text


def test_report_transactions_cannot_write(base_app, shop):
    with base_app.app_context(), pytest.raises(Exception, match="read-only transaction"):
        _in_read_only_transaction(lambda conn: conn.execute(text("DELETE FROM orders")))


def test_reports_run_while_orders_are_written(reports_client, committed):
    """A report reads a snapshot; concurrent writers neither block it nor are blocked."""
    done = threading.Event()
    with committed.connect() as writer:
        writer.begin()
        writer.execute(text("UPDATE products SET stock = stock + 1"))
        thread = threading.Thread(
            target=lambda: (reports_client.get("/reports/stock-cover"), done.set())
        )
        thread.start()
        thread.join(10)
        writer.rollback()
    assert done.is_set()
