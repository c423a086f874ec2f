"""A local PgBouncer in transaction pooling mode in front of the embedded server
(``flask devdb pgbouncer``, the pooler tests and ``python -m bench orders --pooler``).

It runs Debian's ``pgbouncer`` binary with a configuration of its own in a
directory of ours. The embedded server listens only on a Unix socket inside its
data directory (mode 0700, owned by the server's OS user when run as root), so the
bouncer runs as that same user. Like the server, it listens only on a Unix socket
in a 0700 directory: with trust authentication, a TCP port would let any local user
in as the superuser.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

INSTALL_HINT = "apt-get install pgbouncer"
DEFAULT_PGBOUNCER_PORT = 6432

# Sensible defaults for a development bouncer in front of a max_connections=100 server.
DEFAULT_SETTINGS = {
    "pool_mode": "transaction",
    "max_client_conn": "200",
    "default_pool_size": "20",
    "reserve_pool_size": "5",
    "reserve_pool_timeout": "1",
    # Retry a failed server login after 1 s, not 15: a restarted server is back soon.
    "server_login_retry": "1",
    "server_connect_timeout": "5",
    "query_wait_timeout": "30",
}


class PgBouncerError(RuntimeError):
    """PgBouncer is not installed, or did not start or stop."""


def pgbouncer_binary() -> str:
    """Path of the ``pgbouncer`` executable, or :class:`PgBouncerError` saying how to install it."""
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise PgBouncerError(f"pgbouncer is not installed: {INSTALL_HINT}")
    return found


def configured_port(directory: Path) -> int | None:
    """The port an earlier ``start`` wrote into ``directory``'s ini, if any."""
    try:
        for line in (Path(directory) / "pgbouncer.ini").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "listen_port":
                return int(value.strip())
    except (OSError, ValueError):
        return None
    return None


class LocalPgBouncer:
    """One pgbouncer process with its files in ``directory``."""

    def __init__(
        self,
        directory: Path | str,
        *,
        server_socket_dir: Path | str,
        os_user: str | None,
        port: int = DEFAULT_PGBOUNCER_PORT,
        settings: dict[str, str] | None = None,
        superuser: str = "postgres",
    ) -> None:
        self.directory = Path(directory).resolve()
        self.server_socket_dir = Path(server_socket_dir)
        self.os_user = os_user
        self.port = port
        self.settings = DEFAULT_SETTINGS | (settings or {})
        self.superuser = superuser

    @property
    def ini_path(self) -> Path:
        """The bouncer's configuration file."""
        return self.directory / "pgbouncer.ini"

    @property
    def pid_path(self) -> Path:
        """Where the running bouncer writes its process id."""
        return self.directory / "pgbouncer.pid"

    @property
    def log_path(self) -> Path:
        """The bouncer's log file."""
        return self.directory / "pgbouncer.log"

    @property
    def socket_dir(self) -> Path:
        """Directory of its Unix socket: its own directory unless that path is too long."""
        if len(str(self.directory / f".s.PGSQL.{self.port}")) <= 100:
            return self.directory
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"stockroom-pgbouncer-{digest}"

    def url(self, database: str) -> str:
        """libpq URL of ``database`` through the bouncer."""
        return f"postgresql://{self.superuser}@/{database}?host={self.socket_dir}&port={self.port}"

    def admin_url(self) -> str:
        """libpq URL of the bouncer's admin console."""
        return self.url("pgbouncer")

    def pid(self) -> int | None:
        """The running bouncer's process id, or None."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def is_running(self) -> bool:
        """Whether the bouncer process is alive."""
        return self.pid() is not None

    def write_config(self) -> None:
        """Write the ini and auth files (any database name is passed to the server)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Every database name maps to the same-named database on the server.
        database = f"host={self.server_socket_dir} user={self.superuser}"
        settings = {
            # No listen_addr: no TCP listener, only the socket in a 0700 directory.
            "listen_port": str(self.port),
            "unix_socket_dir": str(self.socket_dir),
            "unix_socket_mode": "0700",
            "auth_type": "trust",
            "auth_file": str(self.directory / "userlist.txt"),
            "admin_users": self.superuser,
            "stats_users": self.superuser,
            "logfile": str(self.log_path),
            "pidfile": str(self.pid_path),
            **self.settings,
        }
        lines = ["[databases]", f"* = {database}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        self.ini_path.write_text("\n".join(lines) + "\n")
        (self.directory / "userlist.txt").write_text(f'"{self.superuser}" ""\n')
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        for path in {self.directory, self.socket_dir}:
            path.chmod(0o700)
        if self.os_user:
            import pwd

            entry = pwd.getpwnam(self.os_user)
            for path in {self.directory, self.socket_dir, *self.directory.iterdir()}:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self, *, timeout: float = 15) -> bool:
        """Start it in the background (daemon); True if this call started it."""
        if self.is_running():
            return False
        binary = pgbouncer_binary()
        self.write_config()
        result = subprocess.run(
            [binary, "-d", str(self.ini_path)],
            capture_output=True,
            text=True,
            user=self.os_user,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise PgBouncerError(
                f"pgbouncer did not start: {(result.stderr or result.stdout).strip()}\n"
                f"{self._log_tail()}"
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=2) as conn:
                    conn.execute("SHOW VERSION")
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise PgBouncerError(f"pgbouncer did not answer within {timeout} s\n{self._log_tail()}")

    def stop(self, *, timeout: float = 15) -> bool:
        """Stop it at once (SIGTERM: immediate shutdown); True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        raise PgBouncerError(f"pgbouncer (pid {pid}) did not stop within {timeout} s")

    def status(self) -> str:
        """One line: running where, or stopped."""
        pid = self.pid()
        if pid is None:
            return f"stopped (config in {self.directory})"
        return (
            f"running: pid {pid}, transaction pooling, on the Unix socket "
            f"{self.socket_dir}/.s.PGSQL.{self.port}"
        )

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
