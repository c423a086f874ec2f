"""The pool page's Servers section: the primary the app writes to and each standby,
with its role, timeline, sync state and lag.

The app's own connection says which server is the primary now (with a multi-host
``DATABASE_URL`` that changes at a failover); every other host the URL names, and
the reports replica, is asked directly (a short connect timeout: a server that is
down is shown as unreachable, the page still renders). The primary's
``pg_stat_replication`` says how each standby streams: sync or async, lags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from flask import Flask
from sqlalchemy import Row

from app.config import database_hosts, single_host_url
from app.db.engine import application_name
from app.db.errors import first_line
from app.db.sql import query, sql_file
from app.db.transactions import DbSession

# A probe of a server that is down must not hold the page up.
PROBE_CONNECT_TIMEOUT = 2
# synchronous_commit values with which a commit waits for the synchronous standby.
COMMIT_WAITS = ("on", "remote_write", "remote_apply")
_QUORUM = re.compile(r"^\s*(?:(FIRST|ANY)\s+)?(\d+)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class SyncStandbys:
    """What ``synchronous_standby_names`` asks for: how many, among which names."""

    required: int
    names: tuple[str, ...]
    method: str  # FIRST (by priority) or ANY (quorum)

    def missing(self, streaming: Sequence[str]) -> list[str]:
        """The named standbys not streaming now (``*`` matches any)."""
        if "*" in self.names:
            return [] if streaming else ["*"]
        return [name for name in self.names if name not in streaming]


def synchronous_standbys(setting: str) -> SyncStandbys:
    """Parse ``synchronous_standby_names``: ``FIRST 1 (a, b)``, ``ANY 2 (a, b, c)``,
    ``2 (a, b)`` or a plain list ``a, b`` (the first one connected is synchronous)."""
    setting = setting.strip()
    if not setting:
        return SyncStandbys(0, (), "FIRST")
    match = _QUORUM.match(setting)
    method, required, listed = (
        (match.group(1) or "FIRST", int(match.group(2)), match.group(3))
        if match
        else ("FIRST", 1, setting)
    )
    names = tuple(name.strip().strip('"') for name in listed.split(",") if name.strip())
    return SyncStandbys(required, names, method.upper())


def expected_standbys(config: dict) -> int:
    """How many standbys should stream from the primary: every other host of a
    multi-host DATABASE_URL (DATABASE_DIRECT_URL when set) is a standby in waiting."""
    url = config["DATABASE_DIRECT_URL"] or config["SQLALCHEMY_DATABASE_URI"]
    return max(len(database_hosts(url)) - 1, 0) if url else 0


@dataclass(frozen=True)
class Server:
    """One server as the console sees it."""

    address: str  # socket directory or host[:port]
    source: str  # where the app knows it from
    role: str  # primary, standby or unreachable
    timeline: int | None = None
    receiver: str | None = None  # a standby's WAL receiver: streaming from where
    replay_behind_bytes: int | None = None
    replay_age_seconds: float | None = None
    error: str | None = None
    serving_app: bool = False  # the server the app's pool writes to now


def _address(host: str | None, port: str | int | None) -> str:
    host = host or "(default)"
    return f"{host}:{port}" if port and str(port) != "5432" else host


def _server(row: Row | tuple, address: str, source: str, *, serving_app: bool = False) -> Server:
    (in_recovery, timeline, receiver_status, sender_host, behind, age, *_settings) = row
    return Server(
        address=address,
        source=source,
        role="standby" if in_recovery else "primary",
        timeline=timeline,
        receiver=(f"{receiver_status} from {sender_host}" if receiver_status else None)
        if in_recovery
        else None,
        replay_behind_bytes=behind,
        replay_age_seconds=float(age) if age is not None else None,
        serving_app=serving_app,
    )


def probe(url: str, address: str, source: str, instance: str) -> Server:
    """One server's role and timeline over a short-lived connection of its own."""
    try:
        with psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=PROBE_CONNECT_TIMEOUT,
            application_name=application_name("console", instance),
            prepare_threshold=None,  # it may lead through PgBouncer
        ) as conn:
            row = conn.execute(sql_file("app.dbconsole", "server_role.sql")).fetchone()
    except psycopg.Error as error:
        return Server(address=address, source=source, role="unreachable", error=first_line(error))
    assert row is not None  # a SELECT without FROM: one row
    return _server(row, address, source)


def servers_section(session: DbSession, app: Flask, standbys: Sequence[Row]) -> dict:
    """The Servers section: the app's primary, the other servers its URLs name, the
    standbys the primary sees (``standbys``: replication.sql's rows) and what
    ``synchronous_standby_names`` asks of them."""
    config = app.config
    instance = config["INSTANCE_NAME"]
    connection = session.connection()
    row = connection.execute(query("app.dbconsole", "server_role.sql")).one()
    info = connection.connection.dbapi_connection.info  # type: ignore[union-attr]
    here = _address(info.host, info.port)
    servers = [_server(row, here, "the app's pool (DATABASE_URL)", serving_app=True)]
    url = config["DATABASE_DIRECT_URL"] or config["SQLALCHEMY_DATABASE_URI"]
    hosts = database_hosts(url) if url else []
    candidates = [
        (single_host_url(url, host, port), _address(host, port), "DATABASE_URL host")
        for host, port in hosts
        if len(hosts) > 1
    ]
    if config["REPORTS_DATABASE_URL"]:
        reports = config["REPORTS_DATABASE_URL"]
        for host, port in database_hosts(reports):
            probe_url = single_host_url(reports, host, port)
            candidates.append((probe_url, _address(host, port), "REPORTS_DATABASE_URL"))
    seen = {here}
    for probe_url, address, source in candidates:
        if address in seen:
            continue
        seen.add(address)
        servers.append(probe(probe_url, address, source, instance))
    sync = synchronous_standbys(row.synchronous_standby_names)
    streaming = [s.application_name for s in standbys if s.state == "streaming"]
    return {
        "servers": servers,
        "standbys": [
            {**s._asdict(), "named_sync": s.application_name in sync.names or "*" in sync.names}
            for s in standbys
        ],
        "synchronous_standby_names": row.synchronous_standby_names,
        "synchronous_commit": row.synchronous_commit,
        "sync_missing": sync.missing(streaming),
        # Fewer synchronous standbys than it asks for: commits wait (or run without).
        "sync_short": sync.required
        > sum(1 for s in standbys if s.sync_state in ("sync", "quorum")),
        "expected_standbys": expected_standbys(config),
    }
