"""/admin/db/vacuum/: the xmin horizon's holders, vacuums running, wraparound risk."""

from __future__ import annotations

import re

import psycopg
import pytest
from browser_forms import add_admin, log_in
from waiting import wait_until


@pytest.fixture
def vacuum_client(make_app, committed):
    """A logged-in client of an app with its own connections (no test transaction: a
    request's session must not itself hold a transaction ID)."""
    app = make_app()
    with committed.sessions() as session:
        add_admin(session)
        session.commit()
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def vacuum_page(client) -> str:
    page = client.get("/admin/db/vacuum/")
    assert page.status_code == 200, page.text
    return page.text


def holder_pid(html: str) -> int | None:
    """The pid of the row marked as holding the horizon, if any."""
    found = re.search(r'<tr data-kind="transaction" data-pid="(\d+)" data-horizon-holder', html)
    return int(found.group(1)) if found else None


def test_an_open_transaction_holds_the_horizon_until_it_ends(vacuum_client, server_url):
    holder = psycopg.connect(server_url, application_name="horizon-holder-test")
    try:
        xid = holder.execute("SELECT txid_current()").fetchone()[0]
        pid = holder.info.backend_pid
        html = vacuum_page(vacuum_client)
        assert holder_pid(html) == pid, html.split('id="horizon-holders"')[1][:2000]
        row = html.split(f'data-pid="{pid}" data-horizon-holder')[1].split("</tr>")[0]
        assert "holding the horizon" in row and "horizon-holder-test" in row
        assert "idle in transaction" in row
        # How long, humanized ("850 ms", "3 s", "5 min 18 s").
        assert re.search(r'<td class="num">\d+ (ms|s|min \d+ s)</td>', row), row
        # The way out: the activity page's confirmation to terminate that session.
        assert f'href="/admin/db/activity/{pid}/terminate"' in row
        assert xid > 0
    finally:
        holder.rollback()
        holder.close()
    wait_until(
        lambda: f'data-pid="{pid}"' not in vacuum_page(vacuum_client),
        timeout=10,
        message="the ended transaction is still listed",
    )


def test_the_wraparound_section_has_numbers_for_this_database(vacuum_client, server_url):
    database = psycopg.conninfo.conninfo_to_dict(server_url)["dbname"]
    html = vacuum_page(vacuum_client)
    section = html.split('id="wraparound"')[1].split("</table>")[0]
    row = section.split(f'data-database="{database}" data-current')[1].split("</tr>")[0]
    age = int(re.search(r'data-xid-age="(\d+)"', row).group(1))
    freeze = float(re.search(r'data-freeze-percent="([\d.]+)"', row).group(1))
    limit = float(re.search(r'data-limit-percent="([\d.]+)"', row).group(1))
    with psycopg.connect(server_url) as conn:
        actual, freeze_max_age = conn.execute(
            "SELECT age(datfrozenxid), current_setting('autovacuum_freeze_max_age')::bigint"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert 0 < age <= actual  # transactions ran meanwhile
    assert freeze == round(100 * age / freeze_max_age, 1)
    assert limit == round(100 * age / 2**31, 2)
    assert f"{age:,}" in row
    # The tables nearest a forced freeze, this database's own.
    tables = html.split('id="oldest-tables"')[1].split("</table>")[0]
    ages = [int(a.replace(",", "")) for a in re.findall(r'<td class="num">([\d,]+)</td>', tables)]
    assert len(ages) >= 5 and ages == sorted(ages, reverse=True) and ages[0] > 0


def test_vacuum_is_in_the_database_menu(vacuum_client):
    html = vacuum_page(vacuum_client)
    assert re.search(r'href="/admin/db/vacuum/"[^>]*>\s*Vacuum', html)
