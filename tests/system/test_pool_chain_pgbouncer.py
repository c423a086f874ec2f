"""The pool page's chain (app pools -> PgBouncer -> server backends) in front of a real
PgBouncer in transaction mode with a server pool of 2: more clients than server
connections queue at the bouncer, and the page shows them waiting there.

Skipped without Debian's pgbouncer, saying why; .ci/run sets REQUIRE_PGBOUNCER=1,
so there a skip is a failure.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from browser_forms import add_admin, log_in
from builders import release_connections
from processes import require_pgbouncer
from shop import Shop
from waiting import wait_until

from app import create_app
from app.config import sqlalchemy_url
from app.devdb.pgbouncer import LocalPgBouncer
from app.extensions import db
from app.serving.gunicorn_process import free_port

pytestmark = [pytest.mark.pgbouncer, pytest.mark.scaleout]

SERVER_POOL = 2
CLIENTS = 6  # three times the server pool: four of them queue at first
SLEEP_SECONDS = 2


@pytest.fixture(scope="module")
def chain():
    """A private server, a bouncer with 2 server connections (no reserve) in front
    of it, and a logged-in client of an app that reads the bouncer's admin console."""
    require_pgbouncer()
    root = Path(tempfile.mkdtemp(prefix="stockroom-chain-", dir="/tmp"))
    shop = Shop(root, database="stockroom_chain")
    bouncer = LocalPgBouncer(
        root / "bouncer",
        server_socket_dir=shop.server.socket_dir,
        os_user=shop.server.os_user,
        port=free_port(),
        settings={"default_pool_size": str(SERVER_POOL), "reserve_pool_size": "0"},
    )
    bouncer.start()
    app = page_app(shop.url, bouncer.admin_url())
    try:
        yield shop, bouncer, logged_in(app)
    finally:
        release_connections(app)
        bouncer.stop()
        shop.server.stop()
        shutil.rmtree(root, ignore_errors=True)


def page_app(url: str, admin_url: str):
    # The page's own app goes direct: it must not queue behind the load it shows.
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "chain",
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            "DB_POOLER_ADMIN_URL": admin_url,
        }
    )


def logged_in(app):
    with app.app_context():
        add_admin(db.session)
        db.session.remove()
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def pool_page(client) -> str:
    page = client.get("/admin/db/pool/")
    assert page.status_code == 200, page.text[:2000]
    return page.text


def chain_values(html: str) -> dict[str, float]:
    """The chain's numbers by name (cl_waiting, maxwait, ...), and its bottleneck."""
    values = {
        name: float(number.replace(",", ""))
        for name, number in re.findall(
            r'data-chain-value="(\w+)">\s*([\d.,]+)', html.split('id="pool-chain"')[1]
        )
    }
    values["bottleneck"] = re.search(r'data-bottleneck="(\w*)"', html).group(1)
    return values


def test_clients_waiting_at_pgbouncer_show_as_the_bottleneck(chain):
    shop, bouncer, client = chain
    before = chain_values(pool_page(client))
    assert before["cl_waiting"] == 0 and before["maxwait"] == 0
    assert before["sv_active"] == 0 and before["bottleneck"] == ""

    def hold_a_server(number: int) -> None:
        with psycopg.connect(
            bouncer.url(shop.server.database),
            autocommit=True,
            prepare_threshold=None,
            application_name=f"stockroom:load:chain-{number}",
        ) as conn:
            conn.execute("SELECT pg_sleep(%s)", (SLEEP_SECONDS,))

    seen: list[dict] = []

    def waiting_at_the_bouncer(previous_maxwait: float) -> dict | None:
        values = chain_values(pool_page(client))
        seen.append(values)
        if values["cl_waiting"] > 0 and values["maxwait"] > previous_maxwait:
            return values
        return None

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        sleepers = [pool.submit(hold_a_server, n) for n in range(CLIENTS)]
        first = wait_until(
            lambda: waiting_at_the_bouncer(0.0),
            timeout=10,
            message=lambda: f"no client seen waiting at the bouncer: {seen[-3:]}",
        )
        # Still waiting, for longer: the longest wait grows while they queue.
        later = wait_until(
            lambda: waiting_at_the_bouncer(first["maxwait"]),
            timeout=10,
            message=lambda: f"maxwait never rose past {first['maxwait']}: {seen[-3:]}",
        )
        for sleeper in sleepers:
            sleeper.result(timeout=30)
    assert first["bottleneck"] == later["bottleneck"] == "bouncer"
    # The bouncer's two server connections were busy, and nothing more.
    assert first["sv_active"] == SERVER_POOL
    assert first["cl_active"] + first["cl_waiting"] <= CLIENTS
    assert later["maxwait"] > first["maxwait"] > 0
    html = pool_page(client)
    assert 'data-tier="bouncer"' in html and 'id="pgbouncer"' in html
    wait_until(
        lambda: chain_values(pool_page(client))["cl_waiting"] == 0,
        timeout=10,
        message="clients still waiting after the load ended",
    )


def test_an_unreachable_admin_console_is_said_on_the_page(chain, tmp_path):
    shop, _bouncer, _client = chain
    nowhere = f"postgresql://postgres@/pgbouncer?host={tmp_path}&port={free_port()}"
    app = page_app(shop.url, nowhere)
    try:
        html = pool_page(logged_in(app))
    finally:
        release_connections(app)
    error = html.split('id="chain-bouncer-error"')[1].split("</div>")[0]
    assert "cannot be read" in error
    assert 'id="pgbouncer"' not in html
