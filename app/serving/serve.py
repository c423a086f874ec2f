"""``flask serve``: the one command that takes a fresh checkout to a running app."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from datetime import UTC, datetime

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import exists, select

from app.auth.admins import find_admin, set_admin_password
from app.auth.models import AdminUser
from app.catalog.models import Product
from app.customers.models import Customer
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.orders.models import Order
from app.paths import INSTANCE_PATH
from app.seed.cli import DEMO_SIZES, run_seed
from app.serving.gunicorn_process import GunicornProcess
from app.serving.jobs_process import JobsProcess
from app.serving.output_relay import OutputRelay

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_FILE = INSTANCE_PATH / "demo-admin.txt"


def catalog_is_empty() -> bool:
    """Whether there are no customers, products or orders yet."""
    return not db.session.scalar(
        select(exists(select(Product.id)) | exists(select(Customer.id)) | exists(select(Order.id)))
    )


def demo_admin_login() -> str:
    """Create the demo admin on first run and say how to log in."""
    if not db.session.scalar(select(exists(select(AdminUser.id)))):
        password = secrets.token_urlsafe(12)
        run_in_transaction(
            db.session, lambda session: set_admin_password(session, DEMO_ADMIN_EMAIL, password)
        )
        # Development only: kept so later runs can print it again.
        fd = os.open(DEMO_ADMIN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{DEMO_ADMIN_EMAIL}\n{password}\n")
    if DEMO_ADMIN_FILE.exists():
        email, password = DEMO_ADMIN_FILE.read_text().split("\n")[:2]
        user = find_admin(db.session, email)
        if user and user.check_password(password):
            return f"log in as {email} / {password}"
    return "log in with an admin account (create one with: flask create-admin EMAIL)"


@click.command("serve")
@with_appcontext
def serve() -> None:
    """Migrate, load demo data into an empty database, then run gunicorn and the
    jobs process (``flask jobs run``).

    Uses the embedded PostgreSQL unless DATABASE_URL is set. Ctrl-C stops gunicorn,
    the jobs process and, if this command started it, the embedded server.
    """
    # Background jobs of a non-interactive shell start with SIGINT ignored; this
    # command must still stop cleanly on it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = current_app.extensions.get("stockroom.embedded")
    env = dict(os.environ)
    started = False
    if server is not None:
        click.echo(f"Embedded PostgreSQL: data in {server.pgdata}")
        started = server.start()
        env["DATABASE_URL"] = server.libpq_url()
    try:
        flask_migrate.upgrade()
        empty = catalog_is_empty()
        # End the read transaction: its locks would block the bulk load's TRUNCATE.
        db.session.close()
        if empty:
            click.echo(f"Empty database: loading demo data ({DEMO_SIZES.orders:,} orders)")
            run_seed(DEMO_SIZES, random_seed=1, until=datetime.now(UTC).date(), replace=False)
        login = demo_admin_login()
        # Nothing of this process's pool is needed by gunicorn's own processes.
        db.session.remove()
        db.engine.dispose()
        sys.exit(_run_gunicorn(env, login))
    finally:
        if started and server is not None:
            server.stop()
            click.echo("Embedded PostgreSQL stopped.")


# Start-up is over once the children have been silent this long (bounded overall).
QUIET_SECONDS = 1.0
SETTLE_TIMEOUT = 20.0
RULE = "=" * 78


def banner(url: str, login: str) -> str:
    """What ``flask serve`` prints once everything has started: set apart by rules
    and blank lines, so it stands out below the boot lines."""
    return (
        f"\n{RULE}\n"
        f"  Stockroom is running at {url}/\n"
        f"  Admin console: {url}/admin/\n"
        f"  Admin: {login}\n"
        f"  Reports: {url}/reports/   API docs: {url}/api/docs   Readiness: {url}/readyz\n"
        f"  Press Ctrl-C to stop.\n"
        f"{RULE}\n\n"
    )


def _run_gunicorn(env: dict, login: str) -> int:
    # The children's output comes through this process (OutputRelay), so the banner
    # can wait for their boot lines and come after the last of them.
    env = env | {"PYTHONUNBUFFERED": "1"}
    relay = OutputRelay()
    gunicorn = GunicornProcess(
        env,
        port=int(env.get("PORT", "8000")),
        bind=env.get("BIND", "127.0.0.1"),
        own_session=True,
        pipe=True,
    ).start()
    process = gunicorn.process
    assert process is not None  # start() set it
    relay.follow("gunicorn", process.stdout)
    # Background work runs beside gunicorn, never in its workers.
    jobs = JobsProcess(env, pipe=True).start()
    assert jobs.process is not None
    relay.follow("jobs", jobs.process.stdout)
    # A service manager stops us with SIGTERM: pass it on for a graceful shutdown.
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        try:
            gunicorn.wait_ready(path="/healthz")
        except RuntimeError:
            return process.wait()
        # Workers still booting and the jobs process starting write their lines now.
        relay.wait_quiet(QUIET_SECONDS, SETTLE_TIMEOUT, until=("jobs",))
        relay.write(banner(gunicorn.url, login))
        return process.wait()
    except KeyboardInterrupt:
        relay.write("Stopping: in-flight requests finish first (Ctrl-C again to force).\n")
        process.terminate()
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()
    finally:
        jobs.stop()
        relay.join()
