"""The embedded server through the real CLI: started by the command that needs it,
stopped by the command that started it, controlled with flask devdb."""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from processes import FLASK, clean_env, flask, get_json, require_pgbouncer
from waiting import wait_until

from app.devdb.embedded import EmbeddedPostgres
from app.paths import PROJECT_ROOT
from app.serving.gunicorn_process import free_port


@pytest.fixture
def instance():
    """A fresh instance directory (not under /root: the server's user must reach it)."""
    path = Path(tempfile.mkdtemp(prefix="stockroom-instance-", dir="/tmp"))
    yield path
    server = EmbeddedPostgres(path / "postgres")
    if server.is_running():
        server.stop()
    subprocess.run(["rm", "-rf", str(path)], check=False)


def test_commands_start_and_stop_the_server_they_need(instance):
    env = clean_env(STOCKROOM_INSTANCE_PATH=str(instance))
    server = EmbeddedPostgres(instance / "postgres")

    status = flask("devdb", "status", env=env)
    assert status.returncode == 3
    assert "not initialised" in status.stdout

    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "Running upgrade" in upgrade.stderr
    assert not server.is_running()  # the command that started it stopped it

    started = flask("devdb", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("started: postgresql://")
    url = flask("devdb", "url", env=env).stdout.strip()
    assert url == server.libpq_url()

    # A command finding it running uses it and leaves it running; the data persisted.
    current = flask("db", "current", env=env)
    assert "(head)" in current.stdout
    assert server.is_running()
    with psycopg.connect(url) as conn:
        extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
    assert "pg_stat_statements" in extensions

    plan = flask("pool-plan", env=env | {"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "4"})
    assert plan.returncode == 0, plan.stderr
    assert "per_worker  = (92 - 2) // (1 x 3) = 30" in plan.stdout

    stopped = flask("devdb", "stop", env=env)
    assert stopped.stdout.strip() == "stopped"
    assert flask("devdb", "status", env=env).returncode == 3
    assert flask("devdb", "url", env=env).returncode == 1


class Output:
    """A child's output, read line by line on a thread (reads never block the test)."""

    def __init__(self, process):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process):
        with process.stdout:
            for line in process.stdout:
                self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def until(self, predicate, timeout=180):
        return wait_until(
            lambda: any(predicate(line) for line in self.lines),
            timeout=timeout,
            interval=0.2,
            message=lambda: "flask serve never printed it:\n" + self.text(),
        )


def test_flask_serve_runs_migrated_seeded_app_and_stops_cleanly(instance):
    port = free_port()
    env = clean_env(STOCKROOM_INSTANCE_PATH=str(instance), PORT=str(port), WEB_CONCURRENCY="2")
    server = EmbeddedPostgres(instance / "postgres")

    def serve():
        return subprocess.Popen(
            [*FLASK, "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(line):
        return line.strip().startswith("Press Ctrl-C")

    first = serve()
    output = Output(first)
    try:
        output.until(running)
        text = output.text()
        assert "loading demo data" in text
        # The banner comes after every boot line (both workers, the jobs process),
        # set apart by a rule.
        before, banner = text.split("=" * 78, 1)
        assert before.count("Booting worker with pid") == 2
        assert "jobs process:" in before
        assert "Booting worker" not in banner and "jobs process:" not in banner
        assert f"Stockroom is running at http://127.0.0.1:{port}/" in banner
        login = next(line.strip() for line in banner.splitlines() if "Admin: log in as" in line)
        status, body = get_json(f"http://127.0.0.1:{port}/readyz")
        assert status == 200
        assert body["pool"]["workers"] == 2
        # One log line per request: the app's JSON line, no gunicorn access line.
        output.until(lambda line: '"path": "/readyz"' in line)
        time.sleep(0.5)  # a second line for the same request would come within this

        def about_readyz(line):
            return "/readyz" in line and "Readiness" not in line

        request_lines = [line for line in output.lines if about_readyz(line)]
        assert len(request_lines) == 1, request_lines
        assert json.loads(request_lines[0])["endpoint"] == "health.readyz"
        with psycopg.connect(server.libpq_url()) as conn:
            assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 50_000
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=60)
        output.thread.join(timeout=10)
    assert first.returncode == 0, output.text()
    assert not server.is_running()

    second = serve()
    output = Output(second)
    try:
        output.until(running)
        assert "loading demo data" not in output.text()  # the data persisted
        assert login in output.text()
    finally:
        # SIGINT to flask serve alone (not its group): it must stop gunicorn itself.
        second.send_signal(signal.SIGINT)
        second.wait(timeout=60)
        output.thread.join(timeout=10)
    assert second.returncode == 0, output.text()
    assert not server.is_running()


def test_devdb_runs_a_local_pgbouncer_and_replica(instance):
    require_pgbouncer()
    env = clean_env(STOCKROOM_INSTANCE_PATH=str(instance))
    port = str(free_port())
    try:
        started = flask("devdb", "pgbouncer", "start", "--port", port, env=env)
        assert started.returncode == 0, started.stderr
        settings = dict(re.findall(r"export (\w+)='?([^'\n]+)'?", started.stdout))
        assert settings["DB_POOLER"] == "pgbouncer"
        assert settings["DATABASE_URL"].startswith("postgresql://postgres@/stockroom?host=")
        assert settings["DATABASE_URL"].endswith(f"&port={port}")
        assert flask("devdb", "pgbouncer", "status", env=env).returncode == 0
        pooled = env | settings
        assert flask("db", "upgrade", env=pooled).returncode == 0
        plan = flask("pool-plan", env=pooled)
        assert "through PgBouncer" in plan.stdout and "live        PgBouncer" in plan.stdout

        replica = flask("devdb", "replica", "start", env=env)
        assert replica.returncode == 0, replica.stderr
        replica_url = re.search(r"REPORTS_DATABASE_URL='([^']+)'", replica.stdout).group(1)
        with psycopg.connect(replica_url) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
            # The migrations ran on the primary and streamed here.
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert flask("devdb", "replica", "status", env=env).returncode == 0
        assert flask("devdb", "replica", "stop", env=env).stdout.strip() == "stopped"
        assert flask("devdb", "replica", "status", env=env).returncode == 3
    finally:
        flask("devdb", "pgbouncer", "stop", env=env)
        flask("devdb", "replica", "stop", env=env)
    assert flask("devdb", "pgbouncer", "status", env=env).returncode == 3
