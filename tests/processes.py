"""Helpers for tests that run the real commands: flask CLI and gunicorn."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from app.db.local_pgbouncer import PgBouncerError, pgbouncer_binary
from app.paths import GUNICORN_CONF, PROJECT_ROOT

FLASK = [sys.executable, "-m", "flask"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict:
    """The environment for a child process, without any database settings of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "TEST_DATABASE_URL",
            "WEB_CONCURRENCY",
            "GUNICORN_THREADS",
            "DB_POOL_RESERVED",
            "APP_INSTANCES",
            "STOCKROOM_POOL_PLAN",
        }
    }
    # Nothing of the developer's instance/ (database, secret key) is touched.
    defaults = {
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": "test-secret",
        "STOCKROOM_INSTANCE_PATH": tempfile.mkdtemp(prefix="stockroom-test-instance-"),
    }
    return env | defaults | extra


def flask(
    *args: str, env: dict, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``flask ARGS`` from the project root (``input`` on its stdin)."""
    return subprocess.run(
        [*FLASK, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def get_json(url: str, timeout: float = 5) -> tuple[int, dict]:
    """GET a JSON document; (status, body) whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``url`` answers 200, failing early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        try:
            if get_json(url, timeout=2)[0] == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


class Browser:
    """A cookie-keeping HTTP client that logs in through the form, like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.read().decode()

    def log_in(self, email: str, password: str) -> None:
        page = self.get("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"email": email, "password": password, "csrf_token": token}
        ).encode()
        with self.opener.open(self.base_url + "/login", data=data, timeout=10) as response:
            assert "/admin/" in response.url, "login failed"


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` in the background."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.port = free_port()
        self.env = env | {"PORT": str(self.port), "BIND": "127.0.0.1"}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 60, path: str = "/readyz") -> None:
        wait_for(f"{self.url}{path}", self.process, timeout)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def require_pgbouncer() -> None:
    """Skip (or fail, where REQUIRE_PGBOUNCER is set) without Debian's pgbouncer."""
    try:
        pgbouncer_binary()
    except PgBouncerError as error:
        if os.environ.get("REQUIRE_PGBOUNCER"):
            pytest.fail(f"REQUIRE_PGBOUNCER is set but {error}")
        pytest.skip(f"{error} (.ci/run installs it and requires these tests)")
