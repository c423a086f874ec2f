"""/metrics: Prometheus exposition by ``prometheus_client``, for every live worker.

Each worker writes its numbers to ``db_worker_reports`` every few seconds
(app/monitoring/reporter.py); whichever worker answers the scrape reads all of them
through a custom collector, so the series cover the whole deployment, labelled by
``app_instance`` (INSTANCE_NAME; Prometheus keeps ``instance`` for the scrape
target) and ``pid``. A worker's counters leave with it (a counter reset for
Prometheus). Families are declared where they are counted (app/monitoring/counters.py);
the server's own gauges are read once per scrape under a short statement timeout.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator, Sequence

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

# The classic text format, version 0.0.4: what every Prometheus 2 scrapes.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db.errors import first_line
from app.db.pgbouncer_admin import live_bouncer_pools
from app.db.sql import query
from app.extensions import db
from app.monitoring.counters import COUNTERS, HISTOGRAMS
from app.monitoring.models import WorkerReport
from app.monitoring.worker_reports import live_reports, refresh_own_report

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

WORKER_LABELS = ("app_instance", "pid")
POOL_GAUGES = {
    "size": "Connections the pool keeps open.",
    "checked_out": "Connections in use by requests now.",
    "checked_in": "Idle connections in the pool now.",
    "overflow": "Connections open beyond pool_size now.",
    "waiting": "Requests waiting for a pooled connection now.",
}
SERVER_GAUGE_TIMEOUT_MS = "500"


def _worker(report: WorkerReport) -> list[str]:
    return [report.instance or report.host, str(report.pid)]


class DeploymentCollector:
    """Every live worker's reported numbers, the server's gauges and PgBouncer's."""

    def __init__(
        self, reports: Sequence[WorkerReport], server: dict | None, bouncer: dict | None
    ) -> None:
        self.reports = reports
        self.server = server
        self.bouncer = bouncer

    def collect(self) -> Iterator[Metric]:
        """The metric families of one scrape."""
        yield from self._pools()
        yield from self._counters()
        yield from self._histograms()
        if self.server is not None:
            yield from self._server(self.server)
        if self.bouncer is not None:
            yield from self._bouncer(self.bouncer)

    def _pools(self) -> Iterator[Metric]:
        for key, help_text in POOL_GAUGES.items():
            family = GaugeMetricFamily(f"stockroom_pool_{key}", help_text, labels=WORKER_LABELS)
            for report in self.reports:
                family.add_metric(_worker(report), report.pool.get(key, 0))
            yield family
        leaked = GaugeMetricFamily(
            "stockroom_pool_leaked_connections",
            "Connections checked out longer than DB_LEAK_SECONDS now.",
            labels=WORKER_LABELS,
        )
        for report in self.reports:
            leaked.add_metric(_worker(report), len(report.pool["held_too_long"]))
        yield leaked

    def _counters(self) -> Iterator[Metric]:
        for name, declared in COUNTERS.items():
            family = CounterMetricFamily(
                name.removesuffix("_total"),
                declared.help,
                labels=[*WORKER_LABELS, *declared.labels],
            )
            for report in self.reports:
                for *label_values, count in report.counters.get("counters", {}).get(name, []):
                    family.add_metric([*_worker(report), *label_values], count)
            yield family

    def _histograms(self) -> Iterator[Metric]:
        for name, declared in HISTOGRAMS.items():
            family = HistogramMetricFamily(
                name, declared.help, labels=[*WORKER_LABELS, *declared.labels]
            )
            bounds = [*map(str, declared.buckets), "+Inf"]
            for report in self.reports:
                for series in report.counters.get("histograms", {}).get(name, []):
                    cumulative, buckets = 0, []
                    for bound, count in zip(bounds, series["counts"], strict=True):
                        cumulative += count
                        buckets.append((bound, cumulative))
                    family.add_metric(
                        [*_worker(report), *series["labels"]], buckets, sum_value=series["sum"]
                    )
            yield family

    def _server(self, server: dict) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "stockroom_db_connections",
            "Server connections to this database by state (pg_stat_activity).",
            labels=["state"],
        )
        for state, count in sorted((server["connections"] or {}).items()):
            connections.add_metric([state], count)
        yield connections
        yield CounterMetricFamily(
            "stockroom_db_deadlocks",
            "Deadlocks detected in this database since its statistics were reset.",
            value=server["deadlocks"] or 0,
        )
        yield GaugeMetricFamily(
            "stockroom_db_oldest_xid_age",
            "Transaction-ID age of the oldest database (wraparound at about 2 billion).",
            value=server["oldest_xid_age"] or 0,
        )
        last_success = GaugeMetricFamily(
            "stockroom_job_last_success_timestamp_seconds",
            "When each periodic job last ran to success (Unix time), in any jobs process.",
            labels=["job"],
        )
        for job, at in sorted((server["job_last_success"] or {}).items()):
            last_success.add_metric([job], float(at))
        yield last_success

    def _bouncer(self, bouncer: dict) -> Iterator[Metric]:
        up = "error" not in bouncer
        yield GaugeMetricFamily(
            "stockroom_pgbouncer_up", "Whether PgBouncer's admin console answered.", value=int(up)
        )
        if not up:
            return
        database = [bouncer["database"]]
        clients = GaugeMetricFamily(
            "stockroom_pgbouncer_clients",
            "Client connections at PgBouncer: active, or waiting for a server connection.",
            labels=["database", "state"],
        )
        clients.add_metric([*database, "active"], bouncer["clients_active"])
        clients.add_metric([*database, "waiting"], bouncer["clients_waiting"])
        yield clients
        servers = GaugeMetricFamily(
            "stockroom_pgbouncer_servers",
            "PgBouncer's server connections: linked to a client, or idle.",
            labels=["database", "state"],
        )
        servers.add_metric([*database, "active"], bouncer["servers_active"])
        servers.add_metric([*database, "idle"], bouncer["servers_idle"])
        yield servers
        for name, help_text, key in (
            (
                "stockroom_pgbouncer_max_wait_seconds",
                "How long the oldest waiting client has waited for a server connection.",
                "max_wait_seconds",
            ),
            (
                "stockroom_pgbouncer_avg_wait_seconds",
                "Average wait for a server connection per transaction (SHOW STATS).",
                "avg_wait_seconds",
            ),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["database"])
            family.add_metric(database, bouncer[key])
            yield family


def server_gauges() -> dict | None:
    """Connections by state, deadlocks, the oldest transaction-ID age and the jobs'
    last successes, read in one short transaction; None (and no server series) when
    the server does not answer."""
    try:
        with db.engine.connect() as conn:
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": SERVER_GAUGE_TIMEOUT_MS},
            )
            row = conn.execute(query("app.monitoring", "server_gauges.sql")).mappings().one()
            conn.rollback()
        return dict(row)
    except SQLAlchemyError as error:
        log.warning("/metrics without the server's gauges: %s", first_line(error))
        return None


def render(
    reports: Sequence[WorkerReport], server: dict | None = None, bouncer: dict | None = None
) -> bytes:
    """The exposition text for these reports (and the server's and bouncer's numbers)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeploymentCollector(reports, server, bouncer))
    return generate_latest(registry)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus scrape endpoint (behind ``Authorization: Bearer $METRICS_TOKEN``
    when that is set)."""
    # Flask types current_app as Flask, not as the werkzeug LocalProxy it is.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
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
    body = render(live_reports(db.session, app), server_gauges(), bouncer)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
