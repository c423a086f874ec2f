"""gunicorn as a child process: start it on a port, wait until it answers, stop it
in order. ``flask serve``, the benchmarks and the tests all run it this way."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from app.paths import GUNICORN_CONF, PROJECT_ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 2) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


class GunicornProcess:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` (or another ``app``) with ``env``, on
    ``bind:port``.

    ``log``: a file for its output (None: this process's own stdout and stderr).
    ``own_session``: a terminal's Ctrl-C then reaches only the parent, which stops
    gunicorn in order (Ctrl-C delivered to every worker at once can catch one still
    booting, and gunicorn then exits "Worker failed to boot").
    ``pipe``: its output (stdout and stderr) on ``process.stdout`` for the caller to
    read (``flask serve`` relays it: app/serving/output_relay.py).
    """

    def __init__(
        self,
        env: dict,
        *,
        port: int | None = None,
        bind: str = "127.0.0.1",
        log: Path | None = None,
        own_session: bool = False,
        app: str = "wsgi:app",
        pipe: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.app = app
        self.bind = bind
        self.env = env | {"PORT": str(self.port), "BIND": bind}
        self.log_path = log
        self.own_session = own_session
        self.pipe = pipe
        self.process: subprocess.Popen | None = None
        self._log: TextIO | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self.port}"

    def start(self) -> GunicornProcess:
        """Start it in the background."""
        if self.log_path is not None:
            self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), self.app],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE if self.pipe else self._log,
            stderr=subprocess.STDOUT if self._log or self.pipe else None,
            start_new_session=self.own_session,
        )
        return self

    def wait_ready(self, timeout: float = 60, path: str = "/readyz") -> None:
        """Block until ``path`` answers 200; RuntimeError if gunicorn exits or never does."""
        assert self.process is not None, "start() it first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}{self._see()}")
            if answers(f"{self.url}{path}"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.url}{path} did not answer within {timeout} s{self._see()}")

    def log(self) -> str:
        """What it wrote so far (with a log file)."""
        return self.log_path.read_text() if self.log_path else ""

    def stop(self, timeout: float = 30) -> int:
        """Graceful shutdown (SIGTERM: in-flight requests finish), killed past ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        return self.process.returncode if self.process else 0

    def _see(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""

    def __enter__(self) -> GunicornProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
