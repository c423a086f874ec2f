"""Realistic, reproducible demo data, produced as COPY text.

Everything comes from one ``random.Random(seed)`` and a fixed end date, so the same
seed, sizes and ``until`` give the same rows byte for byte. Shapes that make the
reports interesting:

- regions of different sizes; customers whose order frequency follows a heavy
  tail (a few buy often, most rarely, some never);
- products with log-normal prices and stock, popularity skewed like real
  catalogs (a small share sells most: ABC analysis has something to find);
- orders over the last 18 months, growing over time, with a Black-Friday/December
  peak, a January dip, busier weekends and a daily rhythm; 1 to 8 lines each
  (about 3 on average), a few cancelled.
"""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from app.customers.models import REGIONS

REGION_WEIGHTS = (0.30, 0.10, 0.28, 0.05, 0.05, 0.22)
WINDOW_DAYS = 548  # about 18 months
# Relative order volume per calendar month (seasonality).
MONTH_WEIGHTS = (0.80, 0.85, 0.95, 0.95, 1.00, 0.95, 0.90, 0.92, 1.00, 1.05, 1.45, 1.70)
WEEKDAY_WEIGHTS = (0.95, 0.95, 0.97, 1.00, 1.08, 1.15, 1.10)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 10, 10, 9, 9, 9, 10, 11, 12, 12, 10, 6, 3)
LINE_COUNT_WEIGHTS = {1: 20, 2: 25, 3: 20, 4: 15, 5: 10, 6: 5, 7: 3, 8: 2}
MEAN_LINES = sum(k * w for k, w in LINE_COUNT_WEIGHTS.items()) / sum(LINE_COUNT_WEIGHTS.values())
QUANTITY_WEIGHTS = {1: 60, 2: 20, 3: 10, 4: 5, 5: 5}
CANCELLED_SHARE = 0.04
CHUNK_ROWS = 20_000
_EARLIEST_DAY = 365  # customers join up to a year before the window opens

FIRST_NAMES = (
    "Ada Alan Amara Ana Arjun Bea Carlos Chen Dara Elena Emeka Farah Gus Hana Ines Ivan Jae "
    "Jonas Kai Kofi Lena Liam Lucia Maya Mei Nadia Noor Olu Omar Priya Quinn Rosa Sami Sara "
    "Sven Tariq Tomas Uma Vera Wen Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Abe Alvarez Andersen Baker Bianchi Chen Costa Dubois Eze Fischer Garcia Haddad Ivanova "
    "Jensen Kim Kowalski Larsen Lopez Mendes Moreau Nakamura Nguyen Novak Okafor Patel Quispe "
    "Rossi Said Santos Schmidt Silva Singh Tanaka Torres Umar Varga Wang Weber Yilmaz Zhang"
).split()
ADJECTIVES = (
    "Classic Compact Deluxe Eco Ergonomic Heavy-Duty Lightweight Modular Portable Premium "
    "Quiet Rugged Slim Smart Solar Steel Travel Vintage Waterproof Wireless"
).split()
NOUNS = (
    "Backpack Bench Blender Bottle Camera Chair Charger Desk Drill Headphones Kettle Keyboard "
    "Lamp Lantern Monitor Mug Notebook Pan Printer Router Scale Speaker Stand Tent Toolkit "
    "Umbrella Wallet Watch"
).split()
COLORS = "Black White Grey Navy Red Green Sand Teal Orange Plum".split()

# UUID version 4 bits, set on random 128-bit integers (faster than uuid.uuid4()).
_UUID_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_BITS = (0x4 << 76) | (0x2 << 62)


@dataclass(frozen=True)
class SeedSizes:
    """How much data to make."""

    customers: int
    products: int
    orders: int


@dataclass
class TableData:
    """One table's COPY input: its columns, row count, and a generator of text chunks."""

    name: str
    columns: tuple[str, ...]
    rows: int
    chunks: Iterator[tuple[str, int]] = field(repr=False)


def _weighted(rng: random.Random, values, weights, k: int) -> list:
    return rng.choices(values, cum_weights=list(accumulate(weights)), k=k)


class DemoData:
    """Generates customers, products, orders and order lines for one seed."""

    def __init__(self, sizes: SeedSizes, *, seed: int, until: date) -> None:
        if sizes.orders and (sizes.customers < 1 or sizes.products < 1):
            raise ValueError("orders need at least one customer and one product")
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.until = until
        self.first_day = until - timedelta(days=WINDOW_DAYS - 1)
        # Dates as text from a year before the window to its end, indexed by offset.
        self._day_text = [
            (self.first_day + timedelta(days=d)).isoformat()
            for d in range(-_EARLIEST_DAY, WINDOW_DAYS)
        ]
        self._time_text = [
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)
        ]
        self._prices: list[int] = []

    # -- helpers ----------------------------------------------------------------

    def _uuid(self) -> str:
        return format((self.rng.getrandbits(128) & _UUID_MASK) | _UUID_BITS, "032x")

    def _timestamp(self, day: int, second: int) -> str:
        """UTC timestamp text for a day offset from the window's start and a second of day."""
        return f"{self._day_text[day + _EARLIEST_DAY]} {self._time_text[second]}+00"

    def tables(self) -> Iterator[TableData]:
        """The four tables, in load order (parents before children).

        Each table's rows are generated while it is being copied, so Python and
        the server work at the same time.
        """
        yield self._customers()
        yield self._products()
        yield from self._orders_and_lines()

    @property
    def expected_rows(self) -> int:
        """Roughly how many rows :meth:`tables` yields (lines are drawn at random)."""
        sizes = self.sizes
        return sizes.customers + sizes.products + round(sizes.orders * (1 + MEAN_LINES))

    # -- customers ----------------------------------------------------------------

    def _customers(self) -> TableData:
        n = self.sizes.customers
        rng = self.rng
        regions = _weighted(rng, REGIONS, REGION_WEIGHTS, n)
        firsts = rng.choices(FIRST_NAMES, k=n)
        lasts = rng.choices(LAST_NAMES, k=n)
        # Joined up to a year before the window opens, so before any of their orders.
        joined = [rng.randrange(-_EARLIEST_DAY, 0) for _ in range(n)]
        uuids = [self._uuid() for _ in range(n)]

        def chunks():
            for start in range(0, n, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, n)
                rows = []
                for i in range(start, stop):
                    created = self._timestamp(joined[i], 43_200)
                    rows.append(
                        f"{i + 1}\t{uuids[i]}\t{firsts[i].lower()}.{lasts[i].lower()}.{i + 1}"
                        f"@example.com\t{firsts[i]} {lasts[i]}\t{regions[i]}\t{created}\t"
                        f"{created}\n"
                    )
                yield "".join(rows), stop - start

        return TableData(
            "customers",
            ("id", "public_id", "email", "name", "region", "created_at", "updated_at"),
            n,
            chunks(),
        )

    # -- products -------------------------------------------------------------------

    def _products(self) -> TableData:
        n = self.sizes.products
        rng = self.rng
        # Log-normal prices: median about 25.00, most between 3 and 250, a few dearer.
        self._prices = [
            max(99, int(math.exp(rng.gauss(7.8, 1.1)))) // 10 * 10 + 9 for _ in range(n)
        ]
        stocks = [
            0 if rng.random() < 0.03 else int(math.exp(rng.gauss(4.5, 1.2))) for _ in range(n)
        ]
        names = [
            f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(COLORS)}" for _ in range(n)
        ]
        created = self._timestamp(-30, 0)

        def chunks():
            for start in range(0, n, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, n)
                rows = [
                    f"{i + 1}\tSKU-{i + 1:07d}\t{names[i]}\t"
                    f"{names[i]}, model {i + 1}.\t{self._prices[i]}\t{stocks[i]}\t1\t"
                    f"{created}\t{created}\n"
                    for i in range(start, stop)
                ]
                yield "".join(rows), stop - start

        return TableData(
            "products",
            (
                "id",
                "sku",
                "name",
                "description",
                "price_cents",
                "stock",
                "version",
                "created_at",
                "updated_at",
            ),
            n,
            chunks(),
        )

    # -- orders and lines -------------------------------------------------------------

    def _order_days(self, n: int) -> list[int]:
        """Day offset of each order, sorted, following growth and seasonality."""
        weights = []
        for d in range(WINDOW_DAYS):
            day = self.first_day + timedelta(days=d)
            growth = 0.7 + 0.6 * d / WINDOW_DAYS
            weights.append(growth * MONTH_WEIGHTS[day.month - 1] * WEEKDAY_WEIGHTS[day.weekday()])
        days = _weighted(self.rng, range(WINDOW_DAYS), weights, n)
        days.sort()
        return days

    def _orders_and_lines(self) -> tuple[TableData, TableData]:
        rng = self.rng
        n = self.sizes.orders
        n_customers = self.sizes.customers
        n_products = self.sizes.products
        # Heavy-tailed purchase frequency per customer (capped, so no single customer
        # dominates; one in ten never orders), and skewed popularity per product.
        customer_weights = [
            0.0 if rng.random() < 0.1 else min(rng.paretovariate(1.5), 60.0)
            for _ in range(n_customers)
        ]
        customer_weights[0] = max(customer_weights[0], 1.0)  # someone must order
        product_weights = [1.0 / (rank + 1) ** 0.9 for rank in range(n_products)]
        rng.shuffle(product_weights)
        customer_cum = list(accumulate(customer_weights))
        product_cum = list(accumulate(product_weights))
        line_count_cum = list(accumulate(LINE_COUNT_WEIGHTS.values()))
        quantity_cum = list(accumulate(QUANTITY_WEIGHTS.values()))
        hour_cum = list(accumulate(HOUR_WEIGHTS))
        days = self._order_days(n)
        prices = self._prices
        customer_ids = range(1, n_customers + 1)
        product_ids = range(1, n_products + 1)

        # Lines as flat arrays, filled while the orders are written: an order's
        # total needs its lines, and the lines are copied after the orders.
        line_order = array("i")
        line_product = array("i")
        line_quantity = array("i")

        def order_chunks():
            for start in range(0, n, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, n)
                size = stop - start
                customers = rng.choices(customer_ids, cum_weights=customer_cum, k=size)
                counts = rng.choices(list(LINE_COUNT_WEIGHTS), cum_weights=line_count_cum, k=size)
                picks = rng.choices(product_ids, cum_weights=product_cum, k=sum(counts))
                quantities = rng.choices(
                    list(QUANTITY_WEIGHTS), cum_weights=quantity_cum, k=len(picks)
                )
                rows = []
                pos = 0
                for i, count in zip(range(start, stop), counts, strict=True):
                    # One line per product per order: a repeated pick is dropped.
                    seen = set()
                    total = units = 0
                    for j in range(pos, pos + count):
                        product = picks[j]
                        if product in seen:
                            continue
                        seen.add(product)
                        line_order.append(i + 1)
                        line_product.append(product)
                        line_quantity.append(quantities[j])
                        total += quantities[j] * prices[product - 1]
                        units += quantities[j]
                    pos += count
                    second = bisect(hour_cum, rng.random() * hour_cum[-1]) * 3600 + rng.randrange(
                        3600
                    )
                    placed = self._timestamp(days[i], second)
                    if rng.random() < CANCELLED_SHARE:
                        status, version = "cancelled", 2
                        cancelled_at = self._timestamp(days[i], min(second + 3600, 86_399))
                    else:
                        status, version, cancelled_at = "placed", 1, "\\N"
                    rows.append(
                        f"{i + 1}\t{self._uuid()}\t{customers[i - start]}\t{status}\t{total}"
                        f"\t{units}\t{placed}\t{cancelled_at}\t{version}\t{placed}\n"
                    )
                yield "".join(rows), size

        def line_chunks():
            n_lines = len(line_order)
            for start in range(0, n_lines, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, n_lines)
                rows = [
                    f"{k + 1}\t{line_order[k]}\t{line_product[k]}\t{line_quantity[k]}\t"
                    f"{prices[line_product[k] - 1]}\n"
                    for k in range(start, stop)
                ]
                yield "".join(rows), stop - start

        orders = TableData(
            "orders",
            (
                "id",
                "public_id",
                "customer_id",
                "status",
                "total_cents",
                "item_count",
                "placed_at",
                "cancelled_at",
                "version",
                "updated_at",
            ),
            n,
            order_chunks(),
        )
        lines = TableData(
            "order_lines",
            ("id", "order_id", "product_id", "quantity", "unit_price_cents"),
            # Known only once the orders are written; the expected count until then.
            round(n * MEAN_LINES),
            line_chunks(),
        )
        return orders, lines
