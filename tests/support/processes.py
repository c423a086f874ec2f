"""Helpers for tests that run the real commands: flask CLI and gunicorn."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from app.devdb.pgbouncer import PgBouncerError, pgbouncer_binary
from app.paths import PROJECT_ROOT
from app.serving.gunicorn_process import GunicornProcess

FLASK = [sys.executable, "-m", "flask"]


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


class Gunicorn(GunicornProcess):
    """gunicorn for a test: its output in ``log_path``, a failure to become ready an
    assertion error."""

    def __init__(self, env: dict, log_path: Path) -> None:
        super().__init__(env, log=log_path)

    def wait_ready(self, timeout: float = 60, path: str = "/readyz") -> None:
        try:
            super().wait_ready(timeout, path)
        except RuntimeError as error:
            raise AssertionError(str(error)) from None


def require_pgbouncer() -> None:
    """Skip (or fail, where REQUIRE_PGBOUNCER is set) without Debian's pgbouncer."""
    try:
        pgbouncer_binary()
    except PgBouncerError as error:
        if os.environ.get("REQUIRE_PGBOUNCER"):
            pytest.fail(f"REQUIRE_PGBOUNCER is set but {error}")
        pytest.skip(f"{error} (.ci/run installs it and requires these tests)")
