"""Settings read from the environment, with the defaults the README documents."""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path
from urllib.parse import quote, unquote

from sqlalchemy.engine import make_url


class ConfigError(RuntimeError):
    """An environment variable holds a value the app cannot use."""


# DB_POOLER values: direct connections, or PgBouncer in transaction pooling mode.
POOLERS = ("none", "pgbouncer")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Read a whole number from the environment, failing with a message that names it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_optional_int(name: str, *, minimum: int = 0) -> int | None:
    """A whole number from the environment, or None when the variable is unset."""
    if not os.environ.get(name, "").strip():
        return None
    return env_int(name, 0, minimum=minimum)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read one of ``choices`` from the environment."""
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def default_workers() -> int:
    """Gunicorn workers when WEB_CONCURRENCY is unset: the usual 2 x CPUs + 1."""
    return env_int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1, minimum=1)


def default_threads() -> int:
    """Threads per gunicorn worker (gthread)."""
    return env_int("GUNICORN_THREADS", 4, minimum=1)


def sqlalchemy_url(url: str) -> str:
    """Make a libpq-style URL use psycopg 3 (``postgresql://`` means psycopg here).

    Several hosts (libpq's ``postgresql://u@db1:5432,db2:5432/shop`` or SQLAlchemy's
    ``?host=db1:5432&host=db2:5432``) become one ``host=db1,db2&port=5432,5432``
    pair, a form both SQLAlchemy and libpq read; a URL with one host is unchanged.
    """
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + _hosts_in_query(url[len(prefix) :])
    raise ConfigError(
        f"DATABASE_URL must be a PostgreSQL URL (postgresql://...), got {url.split(':', 1)[0]}://..."
    )


def _split_host(entry: str) -> tuple[str, str]:
    """``host[:port]`` (``[v6]:port``, ``/socket/dir:port`` too) as (host, port)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
    return host, port


def _hosts_in_query(rest: str) -> str:
    """The part after ``scheme://`` with several hosts moved into ``host=`` and ``port=``
    lists; untouched (byte for byte) when there is one host."""
    authority, tail = re.match(r"([^/?#]*)(.*)", rest, re.S).groups()  # type: ignore[union-attr]
    userinfo, at, hostlist = authority.rpartition("@")
    path, _, query = tail.partition("?")
    params = [param for param in query.split("&") if param]
    given = [unquote(p.partition("=")[2]) for p in params if p.partition("=")[0] == "host"]
    ports = [p for p in params if p.partition("=")[0] == "port"]
    if "," in hostlist:
        if given or ports:
            raise ConfigError(
                "DATABASE_URL names hosts both before the path and in host=: use one form"
            )
        entries = [_split_host(unquote(h)) for h in hostlist.split(",")]
    elif len(given) > 1:
        if ports:
            raise ConfigError("DATABASE_URL: with several host= give each one's port as host:port")
        entries = [_split_host(h) for h in given]
    else:
        return rest
    hosts = ",".join(host for host, _ in entries)
    moved = [f"host={quote(hosts, safe='/,:')}"]
    if any(port for _, port in entries):
        moved.append("port=" + ",".join(port for _, port in entries))
    others = [p for p in params if p.partition("=")[0] not in ("host", "port")]
    return f"{userinfo}{at}{path or '/'}?{'&'.join(moved + others)}"


def _libpq_quote(value: str) -> str:
    # libpq decodes %XX only (a "+" stays a plus sign): spaces must be %20.
    return quote(value, safe="/,:")


def libpq_url(url: str, *, database: str | None = None) -> str:
    """A URL in libpq form (for psycopg, psql, pgbench), optionally for another database.

    Several hosts stay one ``host=a,b&port=p,q`` pair; query values are
    percent-encoded the way libpq decodes them."""
    parsed = make_url(sqlalchemy_url(url))
    if database:
        parsed = parsed.set(database=database)
    netloc = ""
    if parsed.username is not None:
        netloc = quote(parsed.username, safe="")
        if parsed.password is not None:
            netloc += ":" + quote(str(parsed.password), safe="")
        netloc += "@"
    if parsed.host:
        netloc += f"[{parsed.host}]" if ":" in parsed.host else parsed.host
        if parsed.port:
            netloc += f":{parsed.port}"
    path = "/" + quote(parsed.database, safe="") if parsed.database else "/"
    query = "&".join(
        f"{_libpq_quote(key)}={_libpq_quote(value)}"
        for key, values in parsed.query.items()
        for value in ([values] if isinstance(values, str) else values)
    )
    return f"postgresql://{netloc}{path}" + (f"?{query}" if query else "")


def database_hosts(url: str) -> list[tuple[str, str]]:
    """The (host, port) pairs a URL names, in the order libpq tries them; a port is
    "" for the default (and a host "" for libpq's default socket)."""
    parsed = make_url(sqlalchemy_url(url))
    raw_hosts = parsed.query.get("host")
    if raw_hosts is None:
        return [(parsed.host or "", str(parsed.port or ""))]
    hosts = raw_hosts.split(",") if isinstance(raw_hosts, str) else list(raw_hosts)
    raw_ports = parsed.query.get("port", "")
    ports = raw_ports.split(",") if isinstance(raw_ports, str) else list(raw_ports)
    if len(ports) == 1 and len(hosts) > 1:
        ports = ports * len(hosts)  # libpq: one port for every host
    ports += [""] * (len(hosts) - len(ports))
    return list(zip(hosts, ports, strict=False))


def single_host_url(url: str, host: str, port: str = "") -> str:
    """``url`` (libpq form) reaching only ``host`` whatever it is (primary or standby):
    for the console's look at each server."""
    parsed = make_url(sqlalchemy_url(url))
    query = {
        key: value
        for key, value in parsed.query.items()
        if key not in ("host", "port", "target_session_attrs")
    }
    query["host"] = host
    if port:
        query["port"] = port
    return libpq_url(parsed.set(host=None, port=None, query=query).render_as_string(False))


def optional_url(name: str) -> str | None:
    """A PostgreSQL URL from the environment in SQLAlchemy form, or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return sqlalchemy_url(raw)
    except ConfigError:
        raise ConfigError(f"{name} must be a PostgreSQL URL (postgresql://...)") from None


def admin_url(name: str) -> str | None:
    """PgBouncer's admin console URL in libpq form (psycopg talks to it directly)."""
    url = optional_url(name)
    return libpq_url(url) if url else None


def instance_name() -> str:
    """This app instance's name: INSTANCE_NAME, else ``hostname:port``."""
    return os.environ.get("INSTANCE_NAME", "").strip() or (
        f"{socket.gethostname()}:{os.environ.get('PORT', '8000').strip() or '8000'}"
    )


def is_production() -> bool:
    """Whether FLASK_ENV or APP_ENV says production."""
    return "production" in {os.environ.get("FLASK_ENV", ""), os.environ.get("APP_ENV", "")}


def secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment; in development, generated once into instance/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if is_production():
        raise ConfigError("SECRET_KEY must be set when FLASK_ENV/APP_ENV is production")
    path = instance_path / "secret_key"
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: several gunicorn workers may race to create it; one wins, all read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()


# The database overview's thresholds; each can be set as DB_CHECK_<NAME>.
CHECK_DEFAULTS = {
    # Server connections in use, as a share of max_connections.
    "CONNECTIONS_WARNING_PERCENT": 75,
    "CONNECTIONS_CRITICAL_PERCENT": 90,
    # A statement running longer than this.
    "LONG_RUNNING_SECONDS": 30,
    "LONG_RUNNING_CRITICAL_SECONDS": 300,
    # A session idle inside a transaction longer than this.
    "IDLE_IN_TRANSACTION_SECONDS": 10,
    "IDLE_IN_TRANSACTION_CRITICAL_SECONDS": 300,
    # A session waiting for a lock longer than this.
    "BLOCKED_SECONDS": 1,
    "BLOCKED_CRITICAL_SECONDS": 30,
    # A sequence (or the column it feeds) used this far into its range.
    "SEQUENCE_WARNING_PERCENT": 75,
    "SEQUENCE_CRITICAL_PERCENT": 90,
    # Buffer cache hit ratio below this (with at least 10,000 blocks read or hit).
    "CACHE_HIT_WARNING_PERCENT": 95,
    "CACHE_HIT_CRITICAL_PERCENT": 90,
    # A table with more dead tuples than this share of its live ones (and at least
    # DEAD_TUPLES_MIN), or not vacuumed for VACUUM_STALE_DAYS while it has them.
    "DEAD_TUPLES_PERCENT": 20,
    "DEAD_TUPLES_MIN": 10_000,
    "VACUUM_STALE_DAYS": 7,
    # Transaction-ID age: warning past autovacuum_freeze_max_age x this percent.
    "XID_AGE_WARNING_PERCENT": 150,
    "XID_AGE_CRITICAL": 1_000_000_000,
    # Slow statements recently: critical from this many.
    "SLOW_QUERIES_CRITICAL": 100,
    # The rollups' oldest queued change: folded every ROLLUP_FOLD_SECONDS, normally.
    "ROLLUP_QUEUE_WARNING_SECONDS": 300,
    "ROLLUP_QUEUE_CRITICAL_SECONDS": 1800,
    # Each check's statement stops after this long (the page shows "unknown").
    "STATEMENT_TIMEOUT_MS": 1000,
}


def load(instance_path: Path, overrides: dict | None = None) -> dict:
    """The app's configuration from the environment, then ``overrides`` (tests)."""
    overrides = overrides or {}
    database_url = os.environ.get("DATABASE_URL", "").strip()
    settings = {
        "SECRET_KEY": overrides.get("SECRET_KEY") or secret_key(instance_path),
        # None means: the embedded server in instance/postgres (see create_app).
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url) if database_url else None,
        # A direct (non-pooled) connection for migrations, seeding, EXPLAIN and the
        # server's limits; None: the same as the primary database.
        "DATABASE_DIRECT_URL": optional_url("DATABASE_DIRECT_URL"),
        # pgbouncer: the app reaches PostgreSQL through PgBouncer in transaction mode.
        "DB_POOLER": env_choice("DB_POOLER", "none", POOLERS),
        "DB_POOLER_ADMIN_URL": admin_url("DB_POOLER_ADMIN_URL"),
        "PGBOUNCER_MAX_CLIENT_CONN": env_optional_int("PGBOUNCER_MAX_CLIENT_CONN", minimum=1),
        "PGBOUNCER_POOL_SIZE": env_optional_int("PGBOUNCER_POOL_SIZE", minimum=1),
        "PGBOUNCER_RESERVE_POOL_SIZE": env_optional_int("PGBOUNCER_RESERVE_POOL_SIZE"),
        "INSTANCE_NAME": instance_name(),
        "APP_INSTANCES": env_int("APP_INSTANCES", 1, minimum=1),
        "DB_POOL_RESERVED": env_int("DB_POOL_RESERVED", 5),
        "DB_POOL_TIMEOUT": env_int("DB_POOL_TIMEOUT", 5, minimum=1),
        "DB_POOL_RECYCLE": env_int("DB_POOL_RECYCLE", 1800, minimum=60),
        # A pooled connection idle longer than this is pinged before use (0: always).
        "DB_PING_IDLE_MS": env_int("DB_PING_IDLE_MS", 1000),
        "DB_CONNECT_TIMEOUT": env_int("DB_CONNECT_TIMEOUT", 5, minimum=1),
        "DB_STATEMENT_TIMEOUT_MS": env_int("DB_STATEMENT_TIMEOUT_MS", 5000),
        "DB_LOCK_TIMEOUT_MS": env_int("DB_LOCK_TIMEOUT_MS", 2000),
        "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": env_int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000),
        "SLOW_QUERY_MS": env_int("SLOW_QUERY_MS", 200),
        # Admin lists over a table past this many rows (planner's estimate): no exact
        # count, pages capped.
        "ADMIN_LARGE_TABLE_ROWS": env_int("ADMIN_LARGE_TABLE_ROWS", 100_000, minimum=0),
        # Per-request query counts, slow-query capture, pool wait and leak tracking.
        "DB_INSTRUMENTATION": env_choice("DB_INSTRUMENTATION", "on", ("on", "off")) == "on",
        # Each statement names its route and code line in a leading SQL comment.
        "SQL_COMMENTS": env_choice("SQL_COMMENTS", "on", ("on", "off")) == "on",
        "DB_LEAK_SECONDS": env_int("DB_LEAK_SECONDS", 10, minimum=1),
        # The console's EXPLAIN box (/admin/db/explain/): its statement_timeout.
        "DB_EXPLAIN_TIMEOUT_MS": env_int("DB_EXPLAIN_TIMEOUT_MS", 5000, minimum=100),
        # The overview's "recently", and its thresholds.
        "DB_CHECK_RECENT_MINUTES": env_int("DB_CHECK_RECENT_MINUTES", 15, minimum=1),
        # The console's history: per-bucket aggregates kept DB_HISTORY_DAYS.
        "DB_HISTORY": env_choice("DB_HISTORY", "on", ("on", "off")) == "on",
        "DB_HISTORY_DAYS": env_int("DB_HISTORY_DAYS", 7, minimum=1),
        # The database load sampler (jobs process): a sample a second, written every 10 s.
        "LOAD_SAMPLE_MS": env_int("LOAD_SAMPLE_MS", 1000, minimum=50),
        # A synchronous standby's fallback (stockroom.sync_fallback = async): how long
        # without one in sync before commits stop waiting, and how often to look.
        "SYNC_FALLBACK_SECONDS": env_int("SYNC_FALLBACK_SECONDS", 5, minimum=0),
        "SYNC_WATCH_MS": env_int("SYNC_WATCH_MS", 1000, minimum=50),
        "LOAD_WRITE_MS": env_int("LOAD_WRITE_MS", 10_000, minimum=50),
        "DB_HISTORY_INTERVAL_SECONDS": env_int("DB_HISTORY_INTERVAL_SECONDS", 60, minimum=1),
        "DB_CHECKS": {
            name: env_int(f"DB_CHECK_{name}", default) for name, default in CHECK_DEFAULTS.items()
        },
        # The schema page calls an index unused only once the index statistics cover
        # this many days (since pg_stat_database.stats_reset, else the server's start).
        "INDEX_ADVICE_MIN_DAYS": env_int("INDEX_ADVICE_MIN_DAYS", 7),
        "REQUEST_LOG": env_choice("REQUEST_LOG", "on", ("on", "off")) == "on",
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Reports: their own engine if set (a replica, a read-only role), and their
        # own limits inside a read-only transaction.
        "REPORTS_DATABASE_URL": os.environ.get("REPORTS_DATABASE_URL", "").strip(),
        "REPORTS_DB_POOLER": env_choice(
            "REPORTS_DB_POOLER", env_choice("DB_POOLER", "none", POOLERS), POOLERS
        ),
        # A replica further behind than this (or down) is skipped: reports run on
        # the primary and say so.
        "REPORTS_MAX_LAG_SECONDS": env_int("REPORTS_MAX_LAG_SECONDS", 30),
        # After a failed connection to the replica, reports skip it this long.
        "REPORTS_REPLICA_RETRY_SECONDS": env_int("REPORTS_REPLICA_RETRY_SECONDS", 5),
        "REPORT_STATEMENT_TIMEOUT_MS": env_int("REPORT_STATEMENT_TIMEOUT_MS", 15000, minimum=100),
        # The rollups' fold runs every ROLLUP_FOLD_SECONDS; their audit every
        # ROLLUP_AUDIT_SECONDS (both in the jobs process).
        "ROLLUP_FOLD_SECONDS": env_int("ROLLUP_FOLD_SECONDS", 60, minimum=1),
        "ROLLUP_FOLD_BATCH": env_int("ROLLUP_FOLD_BATCH", 20_000, minimum=1),
        "ROLLUP_AUDIT_SECONDS": env_int("ROLLUP_AUDIT_SECONDS", 900, minimum=1),
        "REPORT_WORK_MEM": os.environ.get("REPORT_WORK_MEM", "64MB"),
        "REPORT_RANDOM_PAGE_COST": os.environ.get("REPORT_RANDOM_PAGE_COST", "1.1"),
        "DB_REPORT_INTERVAL": env_int("DB_REPORT_INTERVAL", 2, minimum=1),
        # The same statement this many times in one request is the N+1 shape: logged,
        # or raised where N_PLUS_ONE_RAISE is set (the tests set it).
        "N_PLUS_ONE_THRESHOLD": env_int("N_PLUS_ONE_THRESHOLD", 10, minimum=2),
        "N_PLUS_ONE_RAISE": False,
        "GUNICORN_THREADS": default_threads(),
        "SQLALCHEMY_RECORD_QUERIES": False,
        "ORDER_LOCKING": env_choice("ORDER_LOCKING", "pessimistic", ("pessimistic", "optimistic")),
        "ORDER_RETRY_ATTEMPTS": env_int("ORDER_RETRY_ATTEMPTS", 5, minimum=1),
        "IDEMPOTENCY_TTL_SECONDS": env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600, minimum=60),
        "IDEMPOTENCY_LEASE_SECONDS": env_int("IDEMPOTENCY_LEASE_SECONDS", 60, minimum=1),
        # Bodies beyond this get 413 before any parsing.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Cookies: not readable by scripts, not sent on cross-site posts, HTTPS-only
        # in production; an admin session lasts a working day.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": is_production(),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": is_production(),
        "PERMANENT_SESSION_LIFETIME": env_int("SESSION_HOURS", 8, minimum=1) * 3600,
        # Proxies in front of the app whose X-Forwarded-* headers are believed.
        "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0),
    }
    return settings | overrides
