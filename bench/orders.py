"""The order benchmark: the app under gunicorn against PostgreSQL's own limit.

For each workload (uncontended: three products spread over the catalog;
contended: one hot product) and locking strategy, it drives POST /api/orders for
a fixed time at each concurrency, then runs pgbench at the same concurrency with
a script made from the very .sql files the order service executes (plus the
token lookup every API request makes), and compares orders placed per second.
Everything runs in a scratch database, ``stockroom_bench``, on the app's server.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.api.tokens import credentials
from app.config import libpq_url
from app.db.sql import sql_file
from app.devdb.embedded import POSTGRES_BIN_PATH
from app.serving.gunicorn_process import GunicornProcess
from app.serving.jobs_process import JobsProcess
from bench.load import LoadResult, http_post

BENCH_DATABASE = "stockroom_bench"
HOT_PRODUCT = 1
LINES_UNCONTENDED = 3
BIG_STOCK = 1_000_000
# The stack comparison's workloads: one unit of one product per order, spread over
# this many products, or always the hot one.
SPREAD_PRODUCTS = 1_000


@dataclass(frozen=True)
class Run:
    """One measured configuration."""

    # "uncontended", "contended"; the stack comparison's "spread" and "hot"
    workload: str
    locking: str
    concurrency: int


@dataclass
class Outcome:
    """A run's app and pgbench figures."""

    run: Run
    app: LoadResult
    pgbench_rate: float

    @property
    def ratio(self) -> float:
        """App orders/s over pgbench orders/s."""
        return self.app.rate / self.pgbench_rate if self.pgbench_rate else float("nan")


def create_bench_database(server_url: str, name: str = BENCH_DATABASE) -> str:
    """(Re)create a scratch database on the app's server; returns its libpq URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        identifier = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    return libpq_url(server_url, database=name)


def reset_stock(url: str) -> None:
    """Give every product plenty of stock, so runs measure locking, not sell-outs."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE products SET stock = %s", (BIG_STOCK,))
        conn.execute("VACUUM (ANALYZE) products")


def order_count(url: str) -> int:
    """Orders in the bench database."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return row[0]


# -- the app side ----------------------------------------------------------------------


def bench_server(
    url: str, workers: int, threads: int, extra_env: dict | None = None, app: str = "wsgi:app"
):
    """gunicorn serving ``app`` (Stockroom by default) on the bench database, started;
    its log is kept after the run (the place to look when gunicorn misbehaves)."""
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (a path to keep, not a handle)
        prefix="stockroom-bench-", suffix=".log", delete=False
    )
    log.close()
    env = (
        os.environ
        | {
            "DATABASE_URL": url,
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            # Per-request log lines measure the terminal, not the database path.
            "ACCESS_LOG": "off",
            "REQUEST_LOG": "off",
        }
        | (extra_env or {})
    )
    return ServedWithJobs(env, log=Path(log.name), app=app).start()


class ServedWithJobs(GunicornProcess):
    """gunicorn and, for Stockroom, the jobs process beside it (rollup folds, history
    samples), as ``flask serve`` and a deployment run them."""

    def __init__(self, env: dict, *, log: Path, app: str) -> None:
        super().__init__(env, log=log, app=app)
        jobs_log = log.with_suffix(".jobs.log")
        self.jobs = JobsProcess(env, log=jobs_log) if app == "wsgi:app" else None

    def start(self) -> ServedWithJobs:
        """Start gunicorn, then the jobs process."""
        super().start()
        if self.jobs is not None:
            self.jobs.start()
        return self

    def stop(self, timeout: float = 30) -> int:
        """Stop the jobs process, then gunicorn."""
        if self.jobs is not None:
            self.jobs.stop(timeout)
        return super().stop(timeout)


def workers_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by the gunicorn workers of ``master_pid``
    (Linux /proc): steadier than orders/s on a noisy machine, where the load generator
    and PostgreSQL share the cores."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # After the command: state, ppid, ... utime and stime are fields 14 and 15.
        if int(fields[1]) == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def request_factory(run: Run, *, customers: int, products: int, token: str):
    """A function returning the next request's bytes for this workload."""
    rng = random.Random(run.concurrency)
    headers = {"Authorization": f"Bearer {token}"}

    def next_request() -> bytes:
        if run.workload in ("contended", "hot"):
            product_ids = [HOT_PRODUCT]
        elif run.workload == "spread":
            product_ids = [rng.randint(1, min(SPREAD_PRODUCTS, products))]
        else:
            product_ids = rng.sample(range(1, products + 1), LINES_UNCONTENDED)
        body = {
            "customer_id": rng.randint(1, customers),
            "locking": run.locking,
            "lines": [{"product_id": pid, "quantity": 1} for pid in product_ids],
        }
        return http_post("/api/orders", json.dumps(body).encode(), headers)

    return next_request


# -- the pgbench side --------------------------------------------------------------------


def _statement(package: str, name: str) -> str:
    """A .sql file without its comments, as one pgbench command."""
    text = sql_file(package, name)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def pgbench_defines(customers: int, token: str) -> dict[str, str]:
    """The pgbench variables the scripts below read: the customer range and the API
    token's prefix and hash, as the app's statements receive them."""
    presented = credentials(f"Bearer {token}")
    assert presented is not None
    return {
        "customers": str(customers),
        "token_prefix": presented.prefix,
        "token_hash": presented.token_hash,
    }


def pgbench_script(run: Run, *, products: int) -> str:
    """What the order service sends, in pgbench's language.

    pgbench variables use the same ``:name`` syntax as our bound parameters, so the
    service's own .sql files run unchanged; only the product-id array, which the
    service builds in Python, is written as an ARRAY of pgbench variables, and the
    values the service reads in its first statement are captured with ``\\gset``.
    A pessimistic order is one statement (token check included) run on its own, as
    the app sends it to a direct connection; an optimistic one looks the token up,
    then reads and writes in a transaction.
    """
    if run.workload in ("contended", "hot"):
        setup = [f"\\set p1 {HOT_PRODUCT}"]
        ids = "ARRAY[:p1]"
    elif run.workload == "spread":
        setup = [f"\\set p1 random(1, {min(SPREAD_PRODUCTS, products)})"]
        ids = "ARRAY[:p1]"
    else:
        third = products // LINES_UNCONTENDED
        setup = [
            f"\\set p1 random(1, {third})",
            f"\\set p2 :p1 + {third}",
            f"\\set p3 :p2 + {third}",
        ]
        ids = "ARRAY[:p1, :p2, :p3]"
    if run.locking == "pessimistic" and ids == "ARRAY[:p1]":
        # One line: one conditional UPDATE takes and writes (place_one.sql).
        place = (
            _statement("app.orders", "place_one.sql")
            .replace(":product_id", ":p1")
            .replace(":quantity", "1")
        )
        body = [place + ";"]
    elif run.locking == "pessimistic":
        # One statement locks, checks, takes and writes (place_order.sql).
        ones = "ARRAY[" + ", ".join("1" for _ in ids.split(",")) + "]"
        place = (
            _statement("app.orders", "place_order.sql")
            .replace(":product_ids", ids)
            .replace(":quantities", ones)
        )
        body = [place + ";"]
    else:
        read_sql = _statement("app.orders", "read_products.sql").replace(":product_ids", ids)
        write_sql = _statement("app.orders", "write_order.sql")
        body = [
            "SELECT id, token_hash, last_used_at FROM api_tokens"
            " WHERE prefix = :token_prefix AND revoked_at IS NULL;",
            "BEGIN;",
            # The service's read, keeping what the write needs.
            "SELECT array_agg(id ORDER BY id) AS product_ids,"
            " array_agg(version ORDER BY id) AS versions,"
            " array_agg(price_cents ORDER BY id) AS prices,"
            " array_agg(1) AS quantities, sum(price_cents) AS total_cents"
            f" FROM ({read_sql}) AS read_rows \\gset",
            write_sql + ";",
            "COMMIT;",
        ]
    return "\n".join(["\\set customer_id random(1, :customers)", *setup, *body]) + "\n"


def classic_pgbench_script(run: Run, *, products: int) -> str:
    """The classic order transaction (as the floor app runs it), in pgbench's language:
    lock the product, take one unit, insert the order and its line."""
    if run.workload == "hot":
        pick = f"\\set p {HOT_PRODUCT}"
    else:
        pick = f"\\set p random(1, {min(SPREAD_PRODUCTS, products)})"
    return (
        "\n".join(
            [
                "\\set customer_id random(1, :customers)",
                pick,
                "BEGIN;",
                "SELECT stock, price_cents FROM products WHERE id = :p FOR UPDATE \\gset",
                "UPDATE products SET stock = stock - 1 WHERE id = :p;",
                "INSERT INTO orders (customer_id, total_cents, item_count)"
                " VALUES (:customer_id, :price_cents, 1) RETURNING id AS order_id \\gset",
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
                " VALUES (:order_id, :p, 1, :price_cents);",
                "COMMIT;",
            ]
        )
        + "\n"
    )


def run_pgbench(
    url: str, script: str, *, concurrency: int, duration: float, defines: dict[str, str]
) -> float:
    """Orders placed per second by pgbench running ``script``."""
    with tempfile.NamedTemporaryFile("w", suffix=".pgbench", delete=False) as handle:
        handle.write(script)
    before = order_count(url)
    command = [
        str(POSTGRES_BIN_PATH / "pgbench"),
        "-n",
        "-M",
        "prepared",
        "-f",
        handle.name,
        "-c",
        str(concurrency),
        "-j",
        str(min(concurrency, 2)),
        "-T",
        str(int(duration)),
        *[arg for name, value in defines.items() for arg in ("-D", f"{name}={value}")],
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    Path(handle.name).unlink(missing_ok=True)
    if result.returncode != 0 or re.search(r"number of failed transactions: [1-9]", result.stdout):
        raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return (order_count(url) - before) / int(duration)
