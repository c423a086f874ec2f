"""A streaming standby of the embedded server for ``python -m bench orders --compare
standby``: made in a temporary directory, switched between synchronous and
asynchronous before each turn, removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg

from app.devdb.embedded import EmbeddedPostgres
from app.devdb.replica import LocalReplica


class Standby:
    """``with Standby(server) as s: s.synchronous(url); s.asynchronous(url)``."""

    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server
        self.root = Path(tempfile.mkdtemp(prefix="stockroom-bench-standby-", dir="/tmp"))
        # The server runs as its own OS user, which must reach the standby's directory.
        self.root.chmod(0o755)
        self.replica = LocalReplica(server, self.root / "standby")

    def __enter__(self) -> Standby:
        self.replica.start()
        return self

    def synchronous(self, _url: str) -> None:
        """Commits wait for the standby's flush (synchronous_commit on)."""
        self.replica.set_sync(True)

    def asynchronous(self, _url: str) -> None:
        """Commits wait for the local flush only (synchronous_commit on, as above,
        where the dev server's default is off)."""
        self.replica.set_sync(False)
        self._synchronous_commit("ALTER SYSTEM SET synchronous_commit = on")

    def _synchronous_commit(self, statement: str) -> None:
        with psycopg.connect(self.server.libpq_url("postgres"), autocommit=True) as conn:
            conn.execute(statement)
            conn.execute("SELECT pg_reload_conf()")

    def __exit__(self, *exc: object) -> None:
        self.replica.set_sync(False)
        self._synchronous_commit("ALTER SYSTEM RESET synchronous_commit")
        self.replica.remove()
        shutil.rmtree(self.root, ignore_errors=True)
