"""``flask devdb``: the embedded development PostgreSQL, and Debian's PgBouncer and
a streaming replica in front of and beside it."""

from __future__ import annotations

import os
import sys

import click

from app.devdb.embedded import EmbeddedPostgres, EmbeddedPostgresError
from app.devdb.failover import fail_over, multi_host_url
from app.devdb.pgbouncer import (
    DEFAULT_PGBOUNCER_PORT,
    LocalPgBouncer,
    PgBouncerError,
    configured_port,
    pgbouncer_binary,
)
from app.devdb.replica import IF_STANDBY_DOWN, LocalReplica
from app.paths import EMBEDDED_PGDATA, INSTANCE_PATH


def _server() -> EmbeddedPostgres:
    server = EmbeddedPostgres(EMBEDDED_PGDATA)
    if os.environ.get("DATABASE_URL"):
        click.echo(
            "note: DATABASE_URL is set, so the app does not use this embedded server.", err=True
        )
    return server


@click.group("devdb")
def devdb() -> None:
    """Control the embedded development PostgreSQL (data in instance/postgres/)."""


@devdb.command("start")
def devdb_start() -> None:
    """Start it and leave it running; print its URL."""
    server = _server()
    try:
        started = server.start()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo(("started: " if started else "already running: ") + server.libpq_url())


@devdb.command("stop")
def devdb_stop() -> None:
    """Stop it (fast shutdown: running transactions are rolled back)."""
    server = _server()
    try:
        stopped = server.stop()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")


@devdb.command("status")
def devdb_status() -> None:
    """Say whether it runs; exit status 3 when it does not."""
    server = _server()
    click.echo(server.status())
    if not server.is_running():
        sys.exit(3)


@devdb.command("url")
def devdb_url() -> None:
    """Print the URL of the running server (for psql, DATABASE_URL, ...)."""
    server = _server()
    if not server.is_running():
        raise click.ClickException("the embedded server is not running: flask devdb start")
    click.echo(server.libpq_url())


@devdb.group("pgbouncer")
def devdb_pgbouncer() -> None:
    """PgBouncer (Debian's) in transaction mode in front of the embedded server."""


def _primary() -> EmbeddedPostgres:
    """The embedded server, or after ``flask devdb failover`` the promoted standby."""
    server = EmbeddedPostgres(EMBEDDED_PGDATA)
    replica = _replica()
    if server.retired_reason() and replica.is_promoted():
        return replica.server
    return server


def _bouncer(port: int | None = None) -> LocalPgBouncer:
    server = _primary()
    directory = INSTANCE_PATH / "pgbouncer"
    if port is None:
        port = configured_port(directory) or DEFAULT_PGBOUNCER_PORT
    return LocalPgBouncer(
        directory, server_socket_dir=server.socket_dir, os_user=server.os_user, port=port
    )


@devdb_pgbouncer.command("start")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"Its socket's port number (default: the last one used, else {DEFAULT_PGBOUNCER_PORT}).",
)
def devdb_pgbouncer_start(port: int | None) -> None:
    """Start the embedded server (if needed) and PgBouncer; print the settings to use."""
    _server()
    server = _primary()
    bouncer = _bouncer()
    if port is not None and port != bouncer.port:
        if bouncer.is_running():
            raise click.ClickException(
                f"PgBouncer already runs with port {bouncer.port}: flask devdb pgbouncer stop first"
            )
        bouncer = _bouncer(port)
    try:
        pgbouncer_binary()
        server.start()
        started = bouncer.start()
    except (PgBouncerError, EmbeddedPostgresError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        ("started: " if started else "already running: ")
        + bouncer.status()
        + f"\nconfig and log in {bouncer.directory}; the embedded server keeps running"
        " (flask devdb stop)\nUse it with:\n"
        f"  export DB_POOLER=pgbouncer\n"
        f"  export DATABASE_URL='{bouncer.url(server.database)}'\n"
        f"  export DATABASE_DIRECT_URL='{server.libpq_url()}'\n"
        f"  export DB_POOLER_ADMIN_URL='{bouncer.admin_url()}'"
    )


@devdb_pgbouncer.command("stop")
def devdb_pgbouncer_stop() -> None:
    """Stop PgBouncer (the embedded server keeps running)."""
    try:
        stopped = _bouncer().stop()
    except PgBouncerError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")


@devdb_pgbouncer.command("status")
def devdb_pgbouncer_status() -> None:
    """Say whether PgBouncer runs; exit status 3 when it does not."""
    bouncer = _bouncer()
    click.echo(bouncer.status())
    if not bouncer.is_running():
        sys.exit(3)


@devdb.group("replica")
def devdb_replica() -> None:
    """A streaming replica of the embedded server, for REPORTS_DATABASE_URL."""


def _replica() -> LocalReplica:
    return LocalReplica(EmbeddedPostgres(EMBEDDED_PGDATA), INSTANCE_PATH / "replica")


@devdb_replica.command("start")
@click.option("--fresh", is_flag=True, help="Delete the replica and make a new copy first.")
@click.option(
    "--sync/--async",
    "sync",
    default=False,
    help="Synchronous: a commit on the primary returns once the standby has flushed it "
    "(default: asynchronous, which also turns an earlier --sync off).",
)
@click.option(
    "--if-standby-down",
    type=click.Choice(IF_STANDBY_DOWN),
    default=None,
    help="With --sync, what the app does while the standby is down: wait (commits wait "
    "for it, the default) or async (it drops to asynchronous replication until it is back).",
)
def devdb_replica_start(fresh: bool, sync: bool, if_standby_down: str | None) -> None:
    """Start the embedded server (if needed) and the replica (created on first use)."""
    if if_standby_down and not sync:
        raise click.UsageError("--if-standby-down goes with --sync")
    replica = _replica()
    if replica.is_promoted():
        # After a failover: the old primary is retired, this is the primary now.
        try:
            started = replica.start()
        except EmbeddedPostgresError as error:
            raise click.ClickException(str(error)) from None
        click.echo(("started: " if started else "already running: ") + replica.status())
        return
    try:
        _server().start()
        if fresh:
            replica.remove()
        started = replica.start()
        replica.set_sync(sync, if_standby_down=if_standby_down or "wait")
        status = replica.status()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        ("started: " if started else "already running: ")
        + status
        + f"\nUse it for reports with:\n  export REPORTS_DATABASE_URL='{replica.libpq_url()}'"
        + "\nAn app that follows a failover (flask devdb failover) without a restart uses:"
        + f"\n  export DATABASE_URL='{multi_host_url(replica.primary, replica.server)}'"
    )


@devdb_replica.command("stop")
def devdb_replica_stop() -> None:
    """Stop the replica (the primary keeps running)."""
    replica = _replica()
    try:
        stopped = replica.stop()
        waiting = (
            stopped
            and replica.exists()
            and replica.primary.is_running()
            and replica.sync_settings().synchronous
        )
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")
    if waiting:
        click.echo(
            "the primary is synchronous: its commits WAIT until the standby is back "
            "(flask devdb replica start --sync); flask devdb replica start makes it asynchronous",
            err=True,
        )


@devdb.command("failover")
def devdb_failover() -> None:
    """The primary's machine dies: stop it as a crash, retire it, promote the standby."""
    replica = _replica()
    bouncer = _bouncer()
    try:
        done = fail_over(replica, bouncer=bouncer)
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    if done.crashed:
        old = "stopped the old primary as a crash (pg_ctl stop -m immediate)"
    else:
        old = "the old primary was not running"
    if done.was_synchronous:
        lost = "it was synchronous: every acknowledged commit is on the new primary"
    elif done.was_synchronous is None:
        lost = "whether it was synchronous is unknown (it was down already)"
    else:
        lost = "it was ASYNCHRONOUS: commits acknowledged just before the crash may be missing"
    if done.bouncer_repointed:
        bouncer_line = f"PgBouncer re-pointed at the new primary (RELOAD): {bouncer.status()}"
    else:
        bouncer_line = "PgBouncer is not running; flask devdb pgbouncer start uses the new primary"
    click.echo(
        f"{old}; {lost}.\n"
        f"retired {done.old_primary.pgdata}: flask devdb start refuses it from now on.\n"
        f"promoted the standby; the new primary: {done.new_primary.libpq_url()}\n"
        "The app reaches whichever server takes writes, without a restart, with:\n"
        f"  export DATABASE_URL='{done.app_url()}'\n"
        f"{bouncer_line}\n"
        "There is no standby now; docs/pools-and-pgbouncer.md#failover says how to go on."
    )


@devdb_replica.command("status")
def devdb_replica_status() -> None:
    """Say whether the replica runs; exit status 3 when it does not."""
    replica = _replica()
    click.echo(replica.status())
    if not replica.is_running():
        sys.exit(3)
