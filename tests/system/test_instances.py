"""Two app instances (two gunicorns on different ports) sharing one database: the
console notices when more instances report than APP_INSTANCES says, and with the
right number their pools together stay within the budget."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from browser_forms import PASSWORD, add_admin
from processes import Browser, Gunicorn, clean_env, get_json
from sqlalchemy import text
from sqlalchemy.orm import Session
from waiting import wait_until

pytestmark = [pytest.mark.gunicorn, pytest.mark.scaleout]

WEB_CONNECTIONS = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name LIKE 'stockroom:web:%' AND datname = current_database()"
)


def two_instances(server_url, tmp_path, app_instances: int) -> list[Gunicorn]:
    # A reserve of 84 leaves a budget of 13 on the test server (100 - 3 - 84), 2 x 2
    # of them for the instances' jobs processes.
    servers = []
    for name in ("a", "b"):
        env = clean_env(
            DATABASE_URL=server_url,
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            DB_POOL_RESERVED="84",
            APP_INSTANCES=str(app_instances),
            DB_REPORT_INTERVAL="1",
            ACCESS_LOG="off",
            REQUEST_LOG="off",
        )
        servers.append(Gunicorn(env, tmp_path / f"{name}.log").start())
    for server in servers:
        server.wait_ready()
    return servers


def wait_for_both(server) -> dict:
    """/readyz once both instances' workers have reported."""
    seen = {}

    def both_reporting():
        _status, seen["body"] = get_json(f"{server.url}/readyz")
        deployment = seen["body"].get("deployment") or {}
        return deployment.get("instances_reporting") == 2

    wait_until(
        both_reporting,
        timeout=15,
        interval=0.3,
        message=lambda: f"not both instances reporting: {seen['body']}",
    )
    return seen["body"]


def test_more_instances_than_planned_are_noticed(base_app, committed, server_url, tmp_path):
    servers = two_instances(server_url, tmp_path, app_instances=1)
    try:
        body = wait_for_both(servers[0])
        assert body["status"] == "ready"  # a warning, not a 503
        deployment = body["deployment"]
        assert deployment["instances_reporting"] == 2
        assert deployment["instances_planned"] == 1
        warning = next(w for w in body["warnings"] if "app instances are reporting" in w)
        assert "set APP_INSTANCES=2" in warning
        with Session(committed.engine) as session:
            add_admin(session)
        browser = Browser(servers[1].url)
        browser.log_in("ops@example.com", PASSWORD)
        page = browser.get("/admin/db/pool/")
        assert "set APP_INSTANCES=2" in page
        # A reporter round after both appeared logs the warning.
        wait_until(
            lambda: (
                "deployment: 2 app instances are reporting" in servers[0].log() + servers[1].log()
            ),
            message="no worker logged the deployment warning",
        )
    finally:
        for server in servers:
            server.stop()
    logged = servers[0].log() + servers[1].log()
    assert "deployment: 2 app instances are reporting" in logged


def test_two_planned_instances_share_the_budget(base_app, committed, server_url, tmp_path):
    servers = two_instances(server_url, tmp_path, app_instances=2)
    try:
        body = wait_for_both(servers[0])
        plan = body["pool"]
        assert (plan["budget"], plan["per_worker"], plan["instances"]) == (13, 2, 2)
        assert body["deployment"]["warnings"] == []
        samples = []
        with ThreadPoolExecutor(max_workers=24) as load, committed.connect() as observer:
            futures = [load.submit(get_json, f"{servers[i % 2].url}/readyz") for i in range(600)]
            while not all(f.done() for f in futures):
                samples.append(observer.execute(WEB_CONNECTIONS).scalar())
                observer.rollback()
                time.sleep(0.02)  # sampling the connections while the load runs
            assert {f.result()[0] for f in futures} == {200}
        allowed = 2 * 2 * (plan["pool_size"] + plan["max_overflow"])  # instances x workers
        assert allowed <= plan["budget"]
        assert len(samples) > 5 and max(samples) <= allowed
        with Session(committed.engine) as session:
            add_admin(session)
        browser = Browser(servers[0].url)
        browser.log_in("ops@example.com", PASSWORD)
        page = browser.get("/admin/db/pool/")
        instances = {i["instance"] for i in wait_for_both(servers[1])["deployment"]["instances"]}
        assert len(instances) == 2
        for instance in instances:
            assert f'data-instance="{instance}"' in page
        assert "app instances are reporting" not in page
    finally:
        for server in servers:
            server.stop()
