"""Real gunicorn: the master sizes every worker's pool, and the pools stay in budget."""

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from browser_forms import PASSWORD, add_admin
from processes import Browser, Gunicorn, clean_env, get_json
from sqlalchemy import text
from waiting import wait_until

from app.paths import GUNICORN_CONF, PROJECT_ROOT

pytestmark = pytest.mark.gunicorn

CONNECTIONS_BY_WORKER = text(r"""
    SELECT (regexp_match(application_name, ':(\d+)$'))[1]::int AS pid, count(*) AS connections
    FROM pg_stat_activity
    WHERE application_name LIKE 'stockroom:web:%' AND datname = current_database()
    GROUP BY 1
""")


def check_with_promtool(exposition: str) -> None:
    """``promtool check metrics`` (Debian's prometheus package) finds nothing to say;
    skipped without promtool unless REQUIRE_PROMTOOL is set (.ci/run sets it)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("REQUIRE_PROMTOOL"):
            pytest.fail("REQUIRE_PROMTOOL is set but promtool is not installed")
        return
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def booted_workers(log: str) -> set[int]:
    return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log)}


def test_three_workers_share_the_budget(base_app, committed, server_url, tmp_path):
    # max_connections=100 and 3 superuser slots: a reserve of 86 leaves a budget of
    # 11, 2 of them for the jobs process, so each of 3 workers gets 3 connections for
    # its 4 threads.
    env = clean_env(
        DATABASE_URL=server_url, WEB_CONCURRENCY="3", GUNICORN_THREADS="4", DB_POOL_RESERVED="86"
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        samples = []

        def hit(_):
            return get_json(f"{server.url}/readyz")

        with ThreadPoolExecutor(max_workers=24) as load, committed.connect() as observer:
            futures = [load.submit(hit, i) for i in range(600)]
            while not all(f.done() for f in futures):
                samples.append(dict(observer.execute(CONNECTIONS_BY_WORKER).all()))
                observer.rollback()
                time.sleep(0.02)  # sampling the connections while the load runs
            results = [f.result() for f in futures]

        assert {status for status, _ in results} == {200}
        plans = [body["pool"] for _, body in results]
        plan = plans[0]
        assert {
            k: plan[k]
            for k in (
                "workers",
                "threads",
                "per_worker",
                "pool_size",
                "max_overflow",
                "reserved",
                "source",
            )
        } == {
            "workers": 3,
            "threads": 4,
            "per_worker": 3,
            "pool_size": 3,
            "max_overflow": 0,
            "reserved": 86,
            "source": "gunicorn",
        }
        # Every worker answered, each reporting its own pool with the same plan.
        workers = booted_workers(server.log())
        assert {p["worker"]["pid"] for p in plans} == workers
        assert all(p["worker"]["size"] == 3 for p in plans)
        # The server never saw more than the budget, nor a worker above its share.
        assert len(samples) > 5
        assert max(sum(sample.values()) for sample in samples) <= plan["budget"]
        assert max(max(sample.values(), default=0) for sample in samples) <= 3
        assert set().union(*samples) <= workers
        assert "each worker gets 3 connection(s) for 4 threads" in server.log()


def test_master_connection_does_not_survive_into_workers(base_app, committed, server_url, tmp_path):
    env = clean_env(DATABASE_URL=server_url, WEB_CONCURRENCY="3", GUNICORN_THREADS="2")
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        for _ in range(30):
            get_json(f"{server.url}/readyz")
        with committed.connect() as observer:
            names = (
                observer.execute(
                    text(
                        "SELECT application_name FROM pg_stat_activity "
                        "WHERE application_name LIKE 'stockroom:%'"
                    )
                )
                .scalars()
                .all()
            )
        workers = booted_workers(server.log())
        # Only worker-owned connections: the master's plan query closed before forking.
        assert {int(n.split(":")[-1]) for n in names if n.startswith("stockroom:web:")} <= workers
        assert server.process.pid not in {
            int(n.split(":")[-1]) for n in names if n.startswith("stockroom:web:")
        }


def test_gunicorn_refuses_a_plan_with_no_connection_per_worker(server_url):
    env = clean_env(
        DATABASE_URL=server_url,
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="4",
        DB_POOL_RESERVED="97",
        PORT="0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    refusals = [line for line in output.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1
    for fact in ("3 workers", "4 threads", "max_connections=100", "DB_POOL_RESERVED=97"):
        assert fact in refusals[0]
    assert "Booting worker" not in output


def test_pool_page_and_metrics_show_every_worker(base_app, committed, server_url, tmp_path):
    with committed.sessions() as session:
        add_admin(session)
    env = clean_env(
        DATABASE_URL=server_url, WEB_CONCURRENCY="3", GUNICORN_THREADS="2", DB_REPORT_INTERVAL="1"
    )
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        browser = Browser(server.url)
        browser.log_in("ops@example.com", PASSWORD)
        workers = booted_workers(server.log())
        assert len(workers) == 3
        seen = {}

        def every_worker_reported():
            seen["page"] = browser.get("/admin/db/pool/")
            seen["shown"] = {int(pid) for pid in re.findall(r'data-pid="(\d+)"', seen["page"])}
            return seen["shown"] >= workers

        # Until every worker's reporter has written its row (DB_REPORT_INTERVAL=1).
        wait_until(
            every_worker_reported,
            timeout=15,
            interval=0.3,
            message=lambda: f"workers {workers}, the pool page shows {seen['shown']}",
        )
        page = seen["page"]
        # Whichever worker served it, the page lists every worker with its own pool.
        assert seen["shown"] == workers
        assert "pool_size = min(2 threads, 30) = 2" in page
        metrics = browser.get("/metrics")
        assert {
            int(p) for p in re.findall(r'stockroom_pool_size\{[^}]*pid="(\d+)"\}', metrics)
        } == workers
        check_with_promtool(metrics)
