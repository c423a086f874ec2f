"""``flask seed``: load reproducible demo data with COPY."""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.db.engine import connection_role, direct_engine
from app.reports.rollups.cli import run_backfill
from app.reports.rollups.upkeep import BACKFILL_BATCH
from app.seed.generate import DemoData, SeedSizes
from app.seed.load import LoadReport, SeedRefused, bulk_load

DEMO_SIZES = SeedSizes(customers=5_000, products=500, orders=50_000)


def run_seed(sizes: SeedSizes, *, random_seed: int, until: date, replace: bool) -> LoadReport:
    """Generate and load demo data in one transaction, with a progress bar on stderr."""
    data = DemoData(sizes, seed=random_seed, until=until)
    # A direct connection (DATABASE_DIRECT_URL when set), named stockroom:seed:...
    with connection_role("seed"), direct_engine().connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None  # an open connection has its driver's
        with click.progressbar(
            length=data.expected_rows, label="seeding", width=30, show_pos=True, file=sys.stderr
        ) as bar:
            report = bulk_load(
                raw,
                data,
                replace=replace,
                on_rows=bar.update,
                on_step=lambda message: setattr(bar, "label", f"{message:<28}"),
            )
            bar.label = f"{'committing':<28}"
            bar.render_progress()
            # COPY ran on the driver connection, outside SQLAlchemy's transaction
            # bookkeeping, so commit there too (the pool rolls back anything else).
            raw.commit()
    # The rollups were emptied with the load; build them from the new orders (reports
    # read the raw tables until this is done, should it be interrupted).
    with connection_role("seed"), Session(direct_engine()) as session:
        run_backfill(session, BACKFILL_BATCH)
    return report


@click.command("seed")
@click.option(
    "--customers",
    type=click.IntRange(1, 10_000_000),
    default=DEMO_SIZES.customers,
    show_default=True,
)
@click.option(
    "--products", type=click.IntRange(1, 1_000_000), default=DEMO_SIZES.products, show_default=True
)
@click.option(
    "--orders", type=click.IntRange(0, 50_000_000), default=DEMO_SIZES.orders, show_default=True
)
@click.option(
    "--random-seed",
    type=int,
    default=1,
    show_default=True,
    help="Same seed, sizes and --until give the same data.",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day of the 18-month order history (default: today, UTC).",
)
@click.option(
    "--replace", is_flag=True, help="Delete existing customers, products and orders first."
)
@with_appcontext
def seed(
    customers: int,
    products: int,
    orders: int,
    random_seed: int,
    until: datetime | None,
    replace: bool,
) -> None:
    """Fill the database with demo customers, products and orders."""
    sizes = SeedSizes(customers=customers, products=products, orders=orders)
    end = until.date() if until else datetime.now(UTC).date()
    started = time.perf_counter()
    try:
        report = run_seed(sizes, random_seed=random_seed, until=end, replace=replace)
    except SeedRefused as error:
        raise click.ClickException(str(error)) from None
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{n:,} {table}" for table, n in report.rows.items())
    click.echo(
        f"seeded {counts} in {elapsed:.1f} s: {report.total_rows / elapsed:,.0f} rows/s "
        f"(COPY {report.copy_seconds:.1f} s, indexes and constraints "
        f"{report.rebuild_seconds:.1f} s)"
    )
