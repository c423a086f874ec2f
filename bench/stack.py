"""``python -m bench orders --compare stack``: one order (lock one product, take one
unit, write the order and one line) through every layer, in one run:

- pgbench running the classic transaction (the database's own ceiling),
- pgbench running Stockroom's order SQL (from its .sql files, with the token lookup),
- the raw floor: the classic transaction in plain psycopg under gunicorn
  (``bench/floor_app.py``),
- the textbook Flask-SQLAlchemy ORM endpoint under gunicorn (``bench/orm_app.py``),
- Stockroom with instrumentation on and off,

for orders spread over 1,000 products and for one hot product. Every setup runs once
per round, in an order that alternates (A B C ..., then ... C B A), so slow drift of
the machine falls on all of them; ratios are taken within each round and reported
as the median with min and max.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import click

from app.seed.generate import SeedSizes
from bench.load import run_load
from bench.orders import (
    Run,
    bench_server,
    classic_pgbench_script,
    pgbench_defines,
    pgbench_script,
    request_factory,
    reset_stock,
    run_pgbench,
    workers_cpu_seconds,
)

PGBENCH_CLASSIC = "pgbench classic"
PGBENCH_STOCKROOM = "pgbench stockroom"
FLOOR = "raw psycopg"
ORM = "textbook ORM"
STOCKROOM_ON = "stockroom"
STOCKROOM_OFF = "stockroom, no instr."
# name: (gunicorn app, extra environment); None: a pgbench setup.
APPS: dict[str, tuple[str, dict[str, str]] | None] = {
    PGBENCH_CLASSIC: None,
    PGBENCH_STOCKROOM: None,
    FLOOR: ("bench.floor_app:app", {}),
    ORM: ("bench.orm_app:app", {}),
    STOCKROOM_ON: ("wsgi:app", {"DB_INSTRUMENTATION": "on"}),
    STOCKROOM_OFF: ("wsgi:app", {"DB_INSTRUMENTATION": "off"}),
}


@dataclass
class Sample:
    """One setup's figures in one round."""

    rate: float
    p99: float | None = None
    cpu_ms: float | None = None  # the app's workers, per order


@dataclass
class Measured:
    """Every round's samples per setup, and the load generator's CPU share."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    generator_cpu: list[float] = field(default_factory=list)


def measure(
    runs: list[Run],
    url: str,
    sizes: SeedSizes,
    token: str,
    *,
    workers: int,
    threads: int,
    duration: int,
    rounds: int,
) -> dict[Run, Measured]:
    """Run every setup ``rounds`` times for each run, alternating the order."""
    servers = {}
    results: dict[Run, Measured] = {}
    defines = pgbench_defines(sizes.customers, token)
    try:
        for name, spec in APPS.items():
            if spec is not None:
                servers[name] = bench_server(url, workers, threads, spec[1], app=spec[0])
        for server in servers.values():
            server.wait_ready(path="/healthz")
        click.echo(
            f"{workers} workers x {threads} threads per app; {duration} s per run, {rounds} rounds",
            err=True,
        )
        for run in runs:
            measured = results[run] = Measured({name: [] for name in APPS})
            requests = request_factory(
                run, customers=sizes.customers, products=sizes.products, token=token
            )
            scripts = {
                PGBENCH_CLASSIC: classic_pgbench_script(run, products=sizes.products),
                PGBENCH_STOCKROOM: pgbench_script(run, products=sizes.products),
            }
            for number in range(rounds):
                order = list(APPS) if number % 2 == 0 else list(reversed(APPS))
                for name in order:
                    reset_stock(url)
                    if name in scripts:
                        rate = run_pgbench(
                            url,
                            scripts[name],
                            concurrency=run.concurrency,
                            duration=duration,
                            defines=defines,
                        )
                        measured.samples[name].append(Sample(rate))
                    else:
                        server = servers[name]
                        # Warm: pools filled, statements prepared on every connection.
                        run_load(
                            "127.0.0.1",
                            server.port,
                            requests,
                            concurrency=run.concurrency,
                            duration=1,
                        )
                        cpu_before = workers_cpu_seconds(server.process.pid)
                        generator_before = time.process_time()
                        result = run_load(
                            "127.0.0.1",
                            server.port,
                            requests,
                            concurrency=run.concurrency,
                            duration=duration,
                        )
                        generator = time.process_time() - generator_before
                        measured.generator_cpu.append(generator / result.duration)
                        cpu_ms = (workers_cpu_seconds(server.process.pid) - cpu_before) * 1000
                        placed = max(result.outcomes["placed"], 1)
                        measured.samples[name].append(
                            Sample(result.rate, result.percentile(99), cpu_ms / placed)
                        )
                    click.echo(
                        f"  {run.workload} round {number + 1}: {name} "
                        f"{measured.samples[name][-1].rate:.0f} orders/s",
                        err=True,
                    )
    finally:
        for server in servers.values():
            server.stop()
    return results


def _ratios(top: list[Sample], bottom: list[Sample]) -> list[float]:
    return [a.rate / b.rate for a, b in zip(top, bottom, strict=True) if b.rate]


def _spread(ratios: list[float]) -> str:
    if not ratios:
        return f"{'-':>22}"
    return f"{statistics.median(ratios):>6.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def report(results: dict[Run, Measured]) -> None:
    """The table: each setup's median orders/s, p99 and CPU per order, its ratio to
    the raw floor (apps) or to the classic transaction (pgbench), median (min-max)."""
    click.echo(
        f"\n{'workload':<8} {'setup':<22} {'orders/s':>9} {'vs floor':>22} "
        f"{'vs classic pgbench':>22} {'p99 ms':>7} {'cpu ms/order':>12}"
    )
    for run, measured in results.items():
        samples = measured.samples
        for name, got in samples.items():
            median_rate = statistics.median(s.rate for s in got)
            p99s = [s.p99 for s in got if s.p99 is not None]
            cpus = [s.cpu_ms for s in got if s.cpu_ms is not None]
            vs_floor = _ratios(got, samples[FLOOR]) if APPS[name] is not None else []
            vs_classic = _ratios(got, samples[PGBENCH_CLASSIC])
            p99 = f"{statistics.median(p99s):>7.1f}" if p99s else f"{'-':>7}"
            cpu = f"{statistics.median(cpus):>12.2f}" if cpus else f"{'-':>12}"
            click.echo(
                f"{run.workload:<8} {name:<22} {median_rate:>9.0f} {_spread(vs_floor)} "
                f"{_spread(vs_classic)} {p99} {cpu}"
            )
        instrumentation = _ratios(samples[STOCKROOM_ON], samples[STOCKROOM_OFF])
        p99_on = statistics.median(s.p99 for s in samples[STOCKROOM_ON] if s.p99 is not None)
        p99_floor = statistics.median(s.p99 for s in samples[FLOOR] if s.p99 is not None)
        click.echo(
            f"{run.workload:<8} instrumentation on/off {_spread(instrumentation)}; "
            f"p99 stockroom/floor {p99_on / p99_floor:.2f}; load generator "
            f"{statistics.median(measured.generator_cpu):.0%} of a core"
        )
