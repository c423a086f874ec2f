"""``flask bench-orders``."""

from __future__ import annotations

import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext

from app.bench.load import run_load
from app.bench.orders import (
    BENCH_DATABASE,
    Outcome,
    Run,
    bench_server,
    create_bench_database,
    pgbench_script,
    request_factory,
    reset_stock,
    run_pgbench,
)
from app.config import default_threads, default_workers, libpq_url
from app.db.local_pgbouncer import LocalPgBouncer, PgBouncerError
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.gunicorn_process import free_port
from app.orders.service import LOCKING_STRATEGIES
from app.seed.generate import SeedSizes

BENCH_SIZES = SeedSizes(customers=2_000, products=3_000, orders=20_000)
HEADER = (
    f"{'workload':<12} {'locking':<12} {'conc':>4} {'orders/s':>9} {'p50 ms':>7} "
    f"{'p95 ms':>7} {'p99 ms':>7} {'placed':>7} {'insuff':>6} {'confl':>6} "
    f"{'retries':>7} {'pgbench/s':>9} {'ratio':>6}"
)


def _integers(value: str) -> list[int]:
    try:
        numbers = [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter("give numbers separated by commas, e.g. 1,4,16") from None
    if not numbers or min(numbers) < 1 or max(numbers) > 256:
        raise click.BadParameter("each concurrency must be between 1 and 256")
    return numbers


def _prepare_database(url: str) -> str:
    """Migrate and seed the bench database; return a plain API token for it."""
    from app import create_app
    from app.api.tokens import issue_token
    from app.config import sqlalchemy_url
    from app.seed.cli import run_seed

    bench_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            "SECRET_KEY": current_app.config["SECRET_KEY"],
        }
    )
    with bench_app.app_context():
        flask_migrate.upgrade()
        run_seed(BENCH_SIZES, random_seed=1, until=datetime.now(UTC).date(), replace=False)
        _token, plain = run_in_transaction(
            db.session, lambda session: issue_token(session, "benchmark")
        )
        db.engine.dispose()
    return plain


@click.command("bench-orders")
@click.option(
    "--duration",
    type=click.IntRange(2, 600),
    default=10,
    show_default=True,
    help="Seconds per measured run (app and pgbench each).",
)
@click.option(
    "--concurrency",
    "concurrencies",
    default="1,4,16",
    show_default=True,
    callback=lambda ctx, param, value: _integers(value),
    help="Concurrent clients, comma-separated.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="gunicorn workers (default: WEB_CONCURRENCY or 2 x CPUs + 1).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads per worker (default: GUNICORN_THREADS or 4).",
)
@click.option(
    "--workload",
    type=click.Choice(["uncontended", "contended", "both"]),
    default="both",
    show_default=True,
)
@click.option(
    "--locking", type=click.Choice([*LOCKING_STRATEGIES, "both"]), default="both", show_default=True
)
@click.option(
    "--pooler",
    type=click.Choice(["none", "pgbouncer", "compare"]),
    default="none",
    show_default=True,
    help="pgbouncer: the app through a local PgBouncer (transaction mode); compare: the "
    "app direct, direct with per-transaction limits, and through PgBouncer, alternating.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="With --pooler compare: alternating rounds (medians are printed).",
)
@with_appcontext
def bench_orders(
    duration, concurrencies, workers, threads, workload, locking, pooler, rounds
) -> None:
    """Orders/s, latency and outcomes of POST /api/orders vs pgbench running the same SQL."""
    server = current_app.extensions.get("stockroom.embedded")
    if pooler != "none" and server is None:
        raise click.ClickException(
            "--pooler runs a local PgBouncer in front of the embedded server: unset "
            "DATABASE_URL (or point DATABASE_URL at your own bouncer and set DB_POOLER)"
        )
    started = server.start() if server else False
    bouncer = None
    try:
        url = create_bench_database(libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"]))
        click.echo(f"bench database: {url}", err=True)
        token = _prepare_database(url)
        workers = workers or default_workers()
        threads = threads or default_threads()
        if pooler != "none":
            bouncer = bench_bouncer(server)
            click.echo(f"PgBouncer: {bouncer.status()}", err=True)
        runs = [
            Run(w, lock, c)
            for w in (["uncontended", "contended"] if workload == "both" else [workload])
            for lock in (LOCKING_STRATEGIES if locking == "both" else [locking])
            for c in concurrencies
        ]
        if pooler == "compare":
            compare_poolers(runs, url, bouncer, workers, threads, token, duration, rounds)
            return
        extra = None
        app_url = url
        if bouncer is not None:
            app_url = bouncer.url(BENCH_DATABASE)
            extra = {"DB_POOLER": "pgbouncer", "DATABASE_DIRECT_URL": url}
        gunicorn = bench_server(app_url, workers, threads, extra)
        try:
            gunicorn.wait_ready()
            click.echo(
                f"gunicorn: {workers} workers x {threads} threads; {duration} s per run", err=True
            )
            click.echo(HEADER)
            for run in runs:
                click.echo(_format(_measure(run, url, gunicorn.port, token, duration)))
        finally:
            gunicorn.stop()
    finally:
        if bouncer is not None:
            bouncer.stop()
        if started and server is not None:
            server.stop()


def bench_bouncer(server) -> LocalPgBouncer:
    """A PgBouncer in transaction mode in front of the embedded server, for the bench."""
    bouncer = LocalPgBouncer(
        Path(tempfile.mkdtemp(prefix="stockroom-bench-pgbouncer-", dir="/tmp")),
        server_socket_dir=server.socket_dir,
        os_user=server.os_user,
        port=free_port(),
    )
    try:
        bouncer.start()
    except PgBouncerError as error:
        raise click.ClickException(str(error)) from None
    return bouncer


# The three ways the app can reach the database, compared in one run.
SETUPS = {
    "direct": lambda url, bouncer: (url, {}),
    # The per-transaction limits without the bouncer's hop: their own cost.
    "limits/txn": lambda url, bouncer: (url, {"DB_POOLER": "pgbouncer"}),
    "pgbouncer": lambda url, bouncer: (
        bouncer.url(BENCH_DATABASE),
        {"DB_POOLER": "pgbouncer", "DATABASE_DIRECT_URL": url},
    ),
}


def compare_poolers(runs, url, bouncer, workers, threads, token, duration, rounds) -> None:
    """Orders/s of each setup in alternating rounds; medians and ratios to direct."""
    servers = {}
    try:
        for name, setup in SETUPS.items():
            app_url, extra = setup(url, bouncer)
            servers[name] = bench_server(app_url, workers, threads, extra)
        for server in servers.values():
            server.wait_ready()
        click.echo(
            f"gunicorn: {workers} workers x {threads} threads each; {duration} s per run, "
            f"{rounds} alternating rounds, medians",
            err=True,
        )
        click.echo(
            f"{'workload':<12} {'locking':<12} {'conc':>4} "
            + " ".join(f"{name + '/s':>13}" for name in servers)
            + f" {'limits cost':>11} {'bouncer/direct':>14} {'p99 direct':>10} {'p99 bouncer':>11}"
        )
        for run in runs:
            rates: dict[str, list[float]] = {name: [] for name in servers}
            p99: dict[str, list[float]] = {name: [] for name in servers}
            requests = request_factory(
                run, customers=BENCH_SIZES.customers, products=BENCH_SIZES.products, token=token
            )
            for _ in range(rounds):
                for name, server in servers.items():
                    reset_stock(url)
                    run_load(
                        "127.0.0.1", server.port, requests, concurrency=run.concurrency, duration=1
                    )
                    result = run_load(
                        "127.0.0.1",
                        server.port,
                        requests,
                        concurrency=run.concurrency,
                        duration=duration,
                    )
                    rates[name].append(result.rate)
                    p99[name].append(result.percentile(99))
            median = {name: statistics.median(values) for name, values in rates.items()}
            click.echo(
                f"{run.workload:<12} {run.locking:<12} {run.concurrency:>4} "
                + " ".join(f"{median[name]:>13.0f}" for name in servers)
                + f" {1 - median['limits/txn'] / median['direct']:>10.1%}"
                + f" {median['pgbouncer'] / median['direct']:>14.2f}"
                + f" {statistics.median(p99['direct']):>10.1f}"
                + f" {statistics.median(p99['pgbouncer']):>11.1f}"
            )
    finally:
        for server in servers.values():
            server.stop()


def _measure(run: Run, url: str, port: int, token: str, duration: int) -> Outcome:
    sizes = BENCH_SIZES
    requests = request_factory(run, customers=sizes.customers, products=sizes.products, token=token)
    reset_stock(url)
    # Warm up: pools filled, statements prepared on every connection.
    run_load("127.0.0.1", port, requests, concurrency=run.concurrency, duration=1)
    result = run_load("127.0.0.1", port, requests, concurrency=run.concurrency, duration=duration)
    reset_stock(url)
    pgbench_rate = run_pgbench(
        url,
        pgbench_script(run, products=sizes.products),
        concurrency=run.concurrency,
        duration=duration,
        defines={"customers": str(sizes.customers), "prefix": token.split("_")[1]},
    )
    return Outcome(run, result, pgbench_rate)


def _format(outcome: Outcome) -> str:
    run, app = outcome.run, outcome.app
    other = sum(
        n for kind, n in app.outcomes.items() if kind not in ("placed", "insufficient", "conflict")
    )
    line = (
        f"{run.workload:<12} {run.locking:<12} {run.concurrency:>4} {app.rate:>9.0f} "
        f"{app.percentile(50):>7.1f} {app.percentile(95):>7.1f} {app.percentile(99):>7.1f} "
        f"{app.outcomes['placed']:>7} {app.outcomes['insufficient']:>6} "
        f"{app.outcomes['conflict']:>6} {app.retries:>7} {outcome.pgbench_rate:>9.0f} "
        f"{outcome.ratio:>6.2f}"
    )
    return line + (f"  ({other} other: {dict(app.outcomes)})" if other else "")


@click.command("bench-reports")
@with_appcontext
def bench_reports() -> None:
    """Report pages vs their SQL execution time, at 100k and 1M orders."""
    from app import create_app
    from app.bench.orders import create_bench_database
    from app.bench.reports import SIZES, prepare, time_reports

    server = current_app.extensions.get("stockroom.embedded")
    started = server.start() if server else False
    try:
        url = create_bench_database(
            libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"]), "stockroom_bench_reports"
        )
        results = {}
        for sizes in SIZES:
            click.echo(f"seeding {sizes.orders:,} orders ...", err=True)
            app = prepare(create_app, url, sizes, datetime.now(UTC).date())
            results[sizes.orders] = time_reports(app)
            with app.app_context():
                db.engine.dispose()
            click.echo(f"\n{sizes.orders:,} orders")
            click.echo(f"{'report':<18} {'rows':>5} {'page ms':>8} {'SQL ms':>8} {'ratio':>6}")
            for t in results[sizes.orders]:
                click.echo(
                    f"{t.slug:<18} {t.rows:>5} {t.page_ms:>8.1f} {t.execution_ms:>8.1f} "
                    f"{t.ratio:>6.2f}"
                )
        small, large = (results[s.orders] for s in SIZES)
        click.echo(
            f"\ngrowth from {SIZES[0].orders:,} to {SIZES[1].orders:,} orders "
            f"(x{SIZES[1].orders // SIZES[0].orders} data)"
        )
        for a, b in zip(small, large, strict=True):
            click.echo(
                f"{a.slug:<18} page x{b.page_ms / a.page_ms:.1f}, "
                f"SQL x{b.execution_ms / a.execution_ms:.1f}"
            )
    finally:
        if started and server is not None:
            server.stop()


@click.command("bench-console")
@click.option(
    "--orders",
    type=click.IntRange(1_000, 50_000_000),
    default=1_000_000,
    show_default=True,
    help="Orders in the scratch database.",
)
@with_appcontext
def bench_console(orders: int) -> None:
    """The database console's overview, schema and activity pages on a big database."""
    from app import create_app
    from app.bench.console import PAGE_RUNS, time_console
    from app.bench.orders import create_bench_database
    from app.bench.reports import prepare
    from app.seed.generate import SeedSizes

    server = current_app.extensions.get("stockroom.embedded")
    started = server.start() if server else False
    try:
        url = create_bench_database(
            libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"]), "stockroom_bench_console"
        )
        sizes = SeedSizes(customers=max(orders // 10, 10), products=5_000, orders=orders)
        click.echo(f"seeding {orders:,} orders ...", err=True)
        app = prepare(create_app, url, sizes, datetime.now(UTC).date())
        timings = time_console(app)
        with app.app_context():
            db.engine.dispose()
        click.echo(f"\n{orders:,} orders; median and max of {PAGE_RUNS} requests")
        click.echo(f"{'page':<22} {'median ms':>10} {'max ms':>8}")
        for path, (median, worst) in timings.items():
            click.echo(f"{path:<22} {median:>10.1f} {worst:>8.1f}")
    finally:
        if started and server is not None:
            server.stop()
