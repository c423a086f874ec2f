"""/metrics in Prometheus text format, for every live gunicorn worker.

Each worker writes its numbers to ``db_worker_reports`` every few seconds
(app/db/reporter.py); whichever worker answers the scrape reads all of them, so
the series cover the whole deployment, labelled by host and pid. A worker's
counters leave with it (Prometheus treats that as a counter reset).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from app.db.instrumentation import DURATION_BUCKETS
from app.db.pgbouncer import live_bouncer_pools
from app.db.reporter import live_reports, refresh_own_report
from app.extensions import db

bp = Blueprint("metrics", __name__)

GAUGES = {
    "size": "Connections the pool keeps open.",
    "checked_out": "Connections in use by requests now.",
    "checked_in": "Idle connections in the pool now.",
    "overflow": "Connections open beyond pool_size now.",
}
POOL_COUNTERS = {
    "waits": ("stockroom_pool_waits_total", "Checkouts that had to wait for a connection."),
    "wait_seconds": ("stockroom_pool_wait_seconds_total", "Time spent waiting for a connection."),
    "timeouts": ("stockroom_pool_timeouts_total", "Checkouts that gave up (pool timeout)."),
}


def _labels(**labels) -> str:
    def escape(value) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels.items()) + "}"


def _worker(report) -> dict:
    # app_instance, not instance: Prometheus sets ``instance`` itself (the scrape target).
    return {"app_instance": report.instance or "", "host": report.host, "pid": report.pid}


def render(workers, bouncer: dict | None = None) -> str:
    """The exposition text for the given worker reports (and PgBouncer's live pools)."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    for key, help_text in GAUGES.items():
        family(f"stockroom_pool_{key}", "gauge", help_text)
        lines += [f"stockroom_pool_{key}{_labels(**_worker(w))} {w.pool[key]}" for w in workers]
    for key, (name, help_text) in POOL_COUNTERS.items():
        family(name, "counter", help_text)
        lines += [f"{name}{_labels(**_worker(w))} {w.pool[key]}" for w in workers]

    family("stockroom_db_query_duration_seconds", "histogram", "Duration of SQL statements.")
    for w in workers:
        cumulative = 0
        for bound, count in zip(
            [*map(str, DURATION_BUCKETS), "+Inf"], w.counters["buckets"], strict=True
        ):
            cumulative += count
            lines.append(
                "stockroom_db_query_duration_seconds_bucket"
                f"{_labels(**_worker(w), le=bound)} {cumulative}"
            )
        lines.append(
            f"stockroom_db_query_duration_seconds_sum{_labels(**_worker(w))}"
            f" {w.counters['query_seconds']}"
        )
        lines.append(
            f"stockroom_db_query_duration_seconds_count"
            f"{_labels(**_worker(w))} {w.counters['queries']}"
        )

    family("stockroom_http_requests_total", "counter", "Requests answered, by status class.")
    for w in workers:
        lines += [
            f"stockroom_http_requests_total{_labels(**_worker(w), status=status)} {count}"
            for status, count in sorted(w.counters["requests"].items())
        ]

    family("stockroom_orders_total", "counter", "POST /api/orders outcomes (and retries).")
    for w in workers:
        lines += [
            f"stockroom_orders_total{_labels(**_worker(w), outcome=outcome)} {count}"
            for outcome, count in sorted(w.counters["orders"].items())
        ]

    report_families = {
        "stockroom_reports_total": "Reports run, by the database that ran them.",
        "stockroom_reports_replica_fallbacks_total": (
            "Reports run on the primary because the replica was behind or unreachable."
        ),
    }
    samples: dict[str, list[str]] = {name: [] for name in report_families}
    for w in workers:
        for key, count in sorted(w.counters.get("reports", {}).items()):
            if key.startswith("fallback:"):
                name, label = "stockroom_reports_replica_fallbacks_total", {"reason": key[9:]}
            else:
                name, label = "stockroom_reports_total", {"database": key}
            samples[name].append(f"{name}{_labels(**_worker(w), **label)} {count}")
    for name, help_text in report_families.items():
        family(name, "counter", help_text)
        lines += samples[name]

    if bouncer is not None:
        lines += _bouncer_lines(bouncer)
    return "\n".join(lines) + "\n"


def _bouncer_lines(bouncer: dict) -> list[str]:
    """PgBouncer's live pools (SHOW POOLS, SHOW STATS) for our database."""
    up = "error" not in bouncer
    lines = [
        "# HELP stockroom_pgbouncer_up Whether PgBouncer's admin console answered.",
        "# TYPE stockroom_pgbouncer_up gauge",
        f"stockroom_pgbouncer_up {int(up)}",
    ]
    if not up:
        return lines
    database = {"database": bouncer["database"]}
    for name, help_text, samples in (
        (
            "stockroom_pgbouncer_clients",
            "Client connections at PgBouncer: active, or waiting for a server connection.",
            {"active": bouncer["clients_active"], "waiting": bouncer["clients_waiting"]},
        ),
        (
            "stockroom_pgbouncer_servers",
            "PgBouncer's server connections: linked to a client, or idle.",
            {"active": bouncer["servers_active"], "idle": bouncer["servers_idle"]},
        ),
    ):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [
            f"{name}{_labels(**database, state=state)} {value}" for state, value in samples.items()
        ]
    for name, help_text, value in (
        (
            "stockroom_pgbouncer_max_wait_seconds",
            "How long the oldest waiting client has waited for a server connection.",
            bouncer["max_wait_seconds"],
        ),
        (
            "stockroom_pgbouncer_avg_wait_seconds",
            "Average wait for a server connection per transaction (SHOW STATS).",
            bouncer["avg_wait_seconds"],
        ),
    ):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines.append(f"{name}{_labels(**database)} {value}")
    return lines


@bp.get("/metrics")
def metrics():
    """Prometheus scrape endpoint (behind ``Authorization: Bearer $METRICS_TOKEN``
    when that is set)."""
    app = current_app._get_current_object()
    expected = app.config["METRICS_TOKEN"]
    if expected and not hmac.compare_digest(
        request.headers.get("Authorization", ""), f"Bearer {expected}"
    ):
        return Response(
            "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    refresh_own_report(app)
    bouncer = live_bouncer_pools(app.config) if app.config["DB_POOLER"] == "pgbouncer" else None
    return Response(
        render(live_reports(db.session, app), bouncer), mimetype="text/plain; version=0.0.4"
    )
