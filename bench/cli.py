"""The benchmark commands (`python -m bench orders|reports|console|history`)."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import flask_migrate
import psycopg
from flask import current_app
from flask.cli import with_appcontext

from app.config import default_threads, default_workers, libpq_url
from app.db.sql import sql_file
from app.db.transactions import run_in_transaction
from app.devdb.pgbouncer import LocalPgBouncer, PgBouncerError
from app.extensions import db
from app.orders.service import LOCKING_STRATEGIES
from app.seed.generate import SeedSizes
from app.serving.gunicorn_process import free_port
from bench.load import run_load
from bench.orders import (
    BENCH_DATABASE,
    Outcome,
    Run,
    bench_server,
    create_bench_database,
    pgbench_defines,
    pgbench_script,
    request_factory,
    reset_stock,
    run_pgbench,
    workers_cpu_seconds,
)

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


@click.command("orders")
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
    "--compare",
    type=click.Choice(["history", "rollups", "stack", "standby"]),
    default=None,
    help="history: the app with the console's history sampler on and off, alternating "
    "(at least 5 rounds for a median ratio worth reading). stack: one order through "
    "pgbench (classic and Stockroom's SQL), a raw psycopg app, a textbook ORM app and "
    "Stockroom with instrumentation on and off, spread and hot, alternating. rollups: "
    "the app with the report rollups' change triggers on orders on and off, alternating. "
    "standby: the embedded server with a streaming standby, commits waiting for it "
    "(synchronous) or not, alternating.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 20),
    default=None,
    help="With --pooler compare (default 3) or --compare (default 5): alternating rounds.",
)
@with_appcontext
def bench_orders(
    duration, concurrencies, workers, threads, workload, locking, pooler, compare, rounds
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
            compare_poolers(runs, url, bouncer, workers, threads, token, duration, rounds or 3)
            return
        if compare == "history":
            compare_history(runs, url, workers, threads, token, duration, rounds or 5)
            return
        if compare == "rollups":
            compare_rollups(runs, url, workers, threads, token, duration, rounds or 5)
            return
        if compare == "standby":
            if server is None:
                raise click.ClickException(
                    "--compare standby makes a standby of the embedded server: unset DATABASE_URL"
                )
            compare_standby(runs, url, server, workers, threads, token, duration, rounds or 5)
            return
        if compare == "stack":
            from bench import stack

            stack_runs = [
                Run(w, "pessimistic", c)
                for w in (
                    ["spread", "hot"]
                    if workload == "both"
                    else ["spread" if workload == "uncontended" else "hot"]
                )
                for c in concurrencies
            ]
            measured = stack.measure(
                stack_runs,
                url,
                BENCH_SIZES,
                token,
                workers=workers,
                threads=threads,
                duration=duration,
                rounds=rounds or 5,
            )
            stack.report(measured)
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
# The console's history sampler on and off (everything else the same).
HISTORY_SETUPS = {
    "history on": lambda url, bouncer: (url, {"DB_HISTORY": "on"}),
    "history off": lambda url, bouncer: (url, {"DB_HISTORY": "off"}),
}


# The report rollups' change triggers on orders on and off (the same app).
ROLLUP_SETUPS = {
    "triggers on": lambda url, bouncer: (url, {"DB_HISTORY": "on"}),
    "triggers off": lambda url, bouncer: (url, {"DB_HISTORY": "on"}),
}
ROLLUP_BEFORE = {
    "triggers on": lambda url: _run_sql(url, "rollup_triggers_on.sql"),
    "triggers off": lambda url: _run_sql(url, "rollup_triggers_off.sql"),
}


def _run_sql(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql_file("app.seed", name))


def alternate(runs, setups, url, bouncer, workers, threads, token, duration, rounds, before=None):
    """For each run, every setup in turn, ``rounds`` times (A B, B A, A B ...): the
    orders/s, p99 and workers' CPU ms per request of each setup per round, as
    ``{run: {setup: [(rate, p99, cpu_ms)]}}``. ``before[setup](url)``, when given,
    runs before each of that setup's turns (setups that differ in the database)."""
    servers = {}
    measured: dict[Run, dict[str, list[tuple[float, float, float]]]] = {}
    try:
        for name, setup in setups.items():
            app_url, extra = setup(url, bouncer)
            servers[name] = bench_server(app_url, workers, threads, extra)
        for server in servers.values():
            server.wait_ready()
        click.echo(
            f"gunicorn: {workers} workers x {threads} threads each; {duration} s per run, "
            f"{rounds} alternating rounds",
            err=True,
        )
        for run in runs:
            requests = request_factory(
                run, customers=BENCH_SIZES.customers, products=BENCH_SIZES.products, token=token
            )
            measured[run] = {name: [] for name in servers}
            for round_number in range(rounds):
                # A B, then B A: neither setup always runs first in its round.
                order = list(servers.items())
                if round_number % 2:
                    order.reverse()
                for name, server in order:
                    if before:
                        before[name](url)
                    reset_stock(url)
                    run_load(
                        "127.0.0.1", server.port, requests, concurrency=run.concurrency, duration=1
                    )
                    cpu_before = workers_cpu_seconds(server.process.pid)
                    result = run_load(
                        "127.0.0.1",
                        server.port,
                        requests,
                        concurrency=run.concurrency,
                        duration=duration,
                    )
                    cpu_ms = (workers_cpu_seconds(server.process.pid) - cpu_before) * 1000
                    answered = max(len(result.latencies), 1)
                    measured[run][name].append(
                        (result.rate, result.percentile(99), cpu_ms / answered)
                    )
                    click.echo(
                        f"  round {round_number + 1}: {name} {result.rate:.0f} orders/s", err=True
                    )
    finally:
        for server in servers.values():
            server.stop()
    return measured


def compare_poolers(runs, url, bouncer, workers, threads, token, duration, rounds) -> None:
    """Orders/s of each setup in alternating rounds; medians and ratios to direct."""
    measured = alternate(runs, SETUPS, url, bouncer, workers, threads, token, duration, rounds)
    click.echo(
        f"{'workload':<12} {'locking':<12} {'conc':>4} "
        + " ".join(f"{name + '/s':>13}" for name in SETUPS)
        + f" {'limits cost':>11} {'bouncer/direct':>14} {'p99 direct':>10} {'p99 bouncer':>11}"
    )
    for run, by_setup in measured.items():
        median = {name: statistics.median(g[0] for g in got) for name, got in by_setup.items()}
        p99 = {name: statistics.median(g[1] for g in got) for name, got in by_setup.items()}
        click.echo(
            f"{run.workload:<12} {run.locking:<12} {run.concurrency:>4} "
            + " ".join(f"{median[name]:>13.0f}" for name in SETUPS)
            + f" {1 - median['limits/txn'] / median['direct']:>10.1%}"
            + f" {median['pgbouncer'] / median['direct']:>14.2f}"
            + f" {p99['direct']:>10.1f}"
            + f" {p99['pgbouncer']:>11.1f}"
        )


def compare_history(runs, url, workers, threads, token, duration, rounds) -> None:
    """Orders/s with the history sampler on and off in alternating pairs; the
    median of the pairs' on/off ratios, with their min and max."""
    measured = alternate(runs, HISTORY_SETUPS, url, None, workers, threads, token, duration, rounds)
    report_on_off(measured, "history on", "history off")


def compare_rollups(runs, url, workers, threads, token, duration, rounds) -> None:
    """Orders/s with the report rollups' change triggers on and off, alternating."""
    measured = alternate(
        runs, ROLLUP_SETUPS, url, None, workers, threads, token, duration, rounds, ROLLUP_BEFORE
    )
    _run_sql(url, "rollup_triggers_on.sql")
    report_on_off(measured, "triggers on", "triggers off")


def compare_standby(runs, url, server, workers, threads, token, duration, rounds) -> None:
    """Orders/s with a streaming standby, commits waiting for its flush (synchronous)
    or not, alternating; both with synchronous_commit on (a local flush)."""
    from bench.standby import Standby

    with Standby(server) as standby:
        setups = {
            "sync standby": lambda app_url, bouncer: (app_url, None),
            "async standby": lambda app_url, bouncer: (app_url, None),
        }
        before = {"sync standby": standby.synchronous, "async standby": standby.asynchronous}
        measured = alternate(
            runs, setups, url, None, workers, threads, token, duration, rounds, before
        )
    report_on_off(measured, "sync standby", "async standby")


def report_on_off(measured, on_name: str, off_name: str) -> None:
    """The table of an on/off comparison: medians, the pairs' ratio and CPU cost."""
    click.echo(
        f"{'workload':<12} {'locking':<12} {'conc':>4} {'on/s':>7} {'off/s':>7} "
        f"{'on/off median':>13} {'min':>6} {'max':>6} {'cost':>6} {'p99 on':>7} {'p99 off':>7} "
        f"{'cpu ms on':>9} {'cpu ms off':>10} {'cpu cost':>8}"
    )
    for run, by_setup in measured.items():
        on, off = by_setup[on_name], by_setup[off_name]
        ratios = [a[0] / b[0] for a, b in zip(on, off, strict=True) if b[0]]
        ratio = statistics.median(ratios)
        cpu_ratios = [a[2] / b[2] for a, b in zip(on, off, strict=True) if b[2]]
        click.echo(
            f"{run.workload:<12} {run.locking:<12} {run.concurrency:>4} "
            f"{statistics.median(g[0] for g in on):>7.0f} "
            f"{statistics.median(g[0] for g in off):>7.0f} {ratio:>13.3f} "
            f"{min(ratios):>6.3f} {max(ratios):>6.3f} {1 - ratio:>6.1%} "
            f"{statistics.median(g[1] for g in on):>7.1f} "
            f"{statistics.median(g[1] for g in off):>7.1f} "
            f"{statistics.median(g[2] for g in on):>9.2f} "
            f"{statistics.median(g[2] for g in off):>10.2f} "
            f"{statistics.median(cpu_ratios) - 1:>8.1%}"
        )


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
        defines=pgbench_defines(sizes.customers, token),
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


def order_counts(value: str) -> list[int]:
    """``100000,1000000``: order counts to seed, ascending."""
    try:
        counts = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter("comma-separated whole numbers, e.g. 100000,1000000") from None
    if not counts or counts[0] < 1_000 or counts[-1] > 50_000_000:
        raise click.BadParameter("between 1,000 and 50,000,000 orders")
    return counts


@click.command("reports")
@click.option(
    "--orders",
    "orders_option",
    default="100000,1000000",
    show_default=True,
    help="Order counts to seed and time, comma-separated (10000000 takes minutes to seed).",
)
@with_appcontext
def bench_reports(orders_option: str) -> None:
    """Report pages vs their SQL execution time, and the admin lists, at each size."""
    from app import create_app
    from bench.orders import create_bench_database
    from bench.reports import prepare, sizes_for, time_admin_lists, time_reports

    counts = order_counts(orders_option)
    server = current_app.extensions.get("stockroom.embedded")
    started = server.start() if server else False
    try:
        url = create_bench_database(
            libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"]), "stockroom_bench_reports"
        )
        results = {}
        lists = {}
        for count in counts:
            sizes = sizes_for(count)
            click.echo(f"seeding {sizes.orders:,} orders ...", err=True)
            app = prepare(create_app, url, sizes, datetime.now(UTC).date())
            results[count] = time_reports(app)
            lists[count] = time_admin_lists(app)
            with app.app_context():
                db.engine.dispose()
            click.echo(f"\n{sizes.orders:,} orders")
            click.echo(
                f"{'report':<18} {'filters':<8} {'rows':>5} {'page ms':>8} {'SQL ms':>8} "
                f"{'ratio':>6}"
            )
            for t in results[count]:
                click.echo(
                    f"{t.slug:<18} {t.filters:<8} {t.rows:>5} {t.page_ms:>8.1f} "
                    f"{t.execution_ms:>8.1f} {t.ratio:>6.2f}"
                )
        click.echo("\npage ms by orders seeded (median of 5 whole requests)")
        click.echo(f"{'page':<34}" + "".join(f"{count:>12,}" for count in counts))
        for t in results[counts[0]]:
            row = [
                next(r for r in results[c] if (r.slug, r.filters) == (t.slug, t.filters)).page_ms
                for c in counts
            ]
            label = f"/reports/{t.slug}" + (" (widest)" if t.filters == "widest" else "")
            click.echo(f"{label:<34}" + "".join(f"{ms:>12.0f}" for ms in row))
        for path in lists[counts[0]]:
            click.echo(f"{path:<34}" + "".join(f"{lists[c][path]:>12.0f}" for c in counts))
    finally:
        if started and server is not None:
            server.stop()


@click.command("console")
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
    from app.seed.generate import SeedSizes
    from bench.console import PAGE_RUNS, time_console
    from bench.orders import create_bench_database
    from bench.reports import prepare

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


@click.command("history")
@click.option("--days", type=click.IntRange(1, 31), default=7, show_default=True)
@click.option("--instances", type=click.IntRange(1, 20), default=2, show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=5, show_default=True, help="Per instance."
)
@click.option("--endpoints", type=click.IntRange(1, 200), default=8, show_default=True)
@click.option(
    "--shapes", type=click.IntRange(1, 500), default=40, show_default=True, help="Statement shapes."
)
@click.option(
    "--orders",
    type=click.IntRange(1_000, 50_000_000),
    default=20_000,
    show_default=True,
    help="Orders in the scratch database (the dashboard reads them).",
)
@with_appcontext
def bench_history(
    days: int, instances: int, workers: int, endpoints: int, shapes: int, orders: int
) -> None:
    """The console's pages and charts on DAYS of one-minute history written in bulk
    for INSTANCES x WORKERS workers, and the history tables' size per day."""
    from app import create_app
    from bench.history_data import (
        PAGE_RUNS,
        Shape,
        console_paths,
        fill_history,
        history_sizes,
        time_pages,
        vacuum_analyze,
    )
    from bench.reports import prepare

    server = current_app.extensions.get("stockroom.embedded")
    started = server.start() if server else False
    try:
        url = create_bench_database(
            libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"]), "stockroom_bench_history"
        )
        sizes = SeedSizes(customers=max(orders // 10, 10), products=5_000, orders=orders)
        click.echo(f"seeding {orders:,} orders ...", err=True)
        app = prepare(create_app, url, sizes, datetime.now(UTC).date())
        shape = Shape(instances=instances, workers=workers, endpoints=endpoints, shapes=shapes)
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - timedelta(days=days)
        click.echo(f"writing {days} days of history, {instances}x{workers} workers ...", err=True)
        with app.app_context():
            began = time.perf_counter()
            folded = run_in_transaction(
                db.session, lambda session: fill_history(session, app, start, end, shape)
            )
            filled = time.perf_counter() - began
        vacuum_analyze(app)
        with app.app_context():
            sizes_now = history_sizes(db.session)
            db.session.remove()
        timings = time_pages(app, console_paths())
        with app.app_context():
            db.engine.dispose()
        total = sum(sizes_now.values())
        click.echo(
            f"\n{days} days x 1,440 minutes, {instances} instances x {workers} workers, "
            f"{shape.endpoints} endpoints and {shape.shapes} statement shapes each; "
            f"written and {folded} hours folded in {filled:.0f} s"
        )
        mib = total / 2**20
        click.echo(f"history on disk: {mib:,.1f} MiB, {mib / days:,.1f} MiB/day")
        for name, size in sizes_now.items():
            click.echo(f"  {name:<36} {size / 2**20:>8.1f} MiB")
        click.echo(f"\nmedian and max of {PAGE_RUNS} requests")
        click.echo(f"{'page':<48} {'median ms':>10} {'max ms':>8} {'KiB':>6}")
        for path, (median, worst, size) in timings.items():
            click.echo(f"{path:<48} {median:>10.1f} {worst:>8.1f} {size / 1024:>6.0f}")
    finally:
        if started and server is not None:
            server.stop()
