"""``flask devdb failover``: the primary's machine "dies" and the standby takes over.

The old primary is stopped as a crash (``pg_ctl stop -m immediate``) if it still
runs, then retired: :meth:`EmbeddedPostgres.start` refuses it from then on, since
a second primary whose data has diverged from the new one would take writes that
are lost to it. The standby is promoted with ``pg_promote``. An app configured
with :func:`multi_host_url` (both socket dirs, ``target_session_attrs=read-write``)
reaches whichever of the two takes writes, so it follows without a restart; a
local PgBouncer is re-pointed at the new primary and reloaded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import quote

import psycopg

from app.devdb.embedded import (
    PORT,
    RETIRED_FILE,
    SUPERUSER,
    EmbeddedPostgres,
    EmbeddedPostgresError,
)
from app.devdb.pgbouncer import LocalPgBouncer
from app.devdb.replica import LocalReplica


def multi_host_url(*servers: EmbeddedPostgres, database: str | None = None) -> str:
    """libpq URL trying each server in turn and keeping the first that takes writes."""
    hosts = quote(",".join(str(server.socket_dir) for server in servers), safe="/,")
    ports = ",".join(str(PORT) for _ in servers)
    name = database or servers[0].database
    return (
        f"postgresql://{SUPERUSER}@/{name}?host={hosts}&port={ports}"
        "&target_session_attrs=read-write"
    )


@dataclass(frozen=True)
class Failover:
    """What :func:`fail_over` did."""

    old_primary: EmbeddedPostgres
    new_primary: EmbeddedPostgres
    crashed: bool  # the old primary was running and was stopped as a crash
    was_synchronous: bool | None  # None: the old primary was down already, unknown
    bouncer_repointed: bool

    def app_url(self) -> str:
        """The multi-host URL for the app's ``DATABASE_URL``."""
        return multi_host_url(self.old_primary, self.new_primary)


def repoint_bouncer(bouncer: LocalPgBouncer, server: EmbeddedPostgres) -> None:
    """Rewrite the running bouncer's ``[databases]`` to ``server`` and ``RELOAD`` it."""
    bouncer.server_socket_dir = server.socket_dir
    bouncer.write_config()
    with psycopg.connect(bouncer.admin_url(), autocommit=True, connect_timeout=5) as conn:
        conn.execute("RELOAD")


def fail_over(replica: LocalReplica, *, bouncer: LocalPgBouncer | None = None) -> Failover:
    """Crash-stop and retire ``replica.primary``, promote ``replica``, re-point ``bouncer``."""
    primary = replica.primary
    if not replica.exists():
        raise EmbeddedPostgresError(
            f"no standby in {replica.pgdata} to promote"
            + (" (promoted already)" if replica.is_promoted() else "")
        )
    was_synchronous = None
    crashed = False
    if primary.is_running():
        was_synchronous = replica.sync_settings().synchronous
        crashed = primary.stop(mode="immediate")
    # Retired before the promotion: nothing may start it in between.
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    primary.retire(
        f"{primary.pgdata} was the primary until a failover at {when}: the standby in "
        f"{replica.pgdata} is the primary now and has taken writes since, so this one must "
        f"not run as a primary again (flask devdb replica status prints the new one's URL). "
        f"To start it anyway, for its data as of the crash, delete "
        f"{primary.pgdata / RETIRED_FILE}; see docs/pools-and-pgbouncer.md#failover"
    )
    replica.promote()
    repointed = False
    if bouncer is not None and bouncer.is_running():
        repoint_bouncer(bouncer, replica.server)
        repointed = True
    return Failover(
        old_primary=primary,
        new_primary=replica.server,
        crashed=crashed,
        was_synchronous=was_synchronous,
        bouncer_repointed=repointed,
    )
