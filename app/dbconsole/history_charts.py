"""The console's history charts: the pool, the traffic, statement shapes. Each takes
a window (app/history/windows.py) and returns inline SVG."""

from __future__ import annotations

from markupsafe import Markup

from app import charts
from app.db.transactions import DbSession
from app.history import windows
from app.monitoring import latency_buckets


def _time_chart(shown: windows.Window, markers, series, *, title: str, unit: charts.Unit):
    return charts.time_chart(
        shown.times,
        series,
        start=shown.start,
        end=shown.end,
        title=title,
        unit=unit,
        markers=markers,
        resolution=shown.resolution,
    )


def latency_histogram(counts: list[int], *, title: str) -> Markup:
    """Bars for the buckets from the first to the last one holding anything."""
    used = [i for i, count in enumerate(counts) if count]
    if not used:
        return Markup("")
    first, last = used[0], used[-1]
    bounds = [latency_buckets.bound(i) for i in range(first, last + 1)]
    return charts.histogram_chart(bounds, counts[first : last + 1], title=title)


def pool_charts(session: DbSession, shown: windows.Window, markers) -> dict:
    """Per instance checked out vs capacity; waits and timeouts; the acquire-wait and
    hold-time histograms; the server's connections by state."""
    pools = windows.pool_series(session, shown)
    by_instance = {
        instance: _time_chart(
            shown,
            markers,
            {
                "checked out (most)": values["peak"],
                "checked out (mean)": values["mean"],
                "pool size + overflow": values["capacity"],
            },
            title=f"Connections checked out on {instance}",
            unit=charts.CONNECTIONS,
        )
        for instance, values in pools["instances"].items()
    }
    instances = pools["instances"].values()
    waits = [sum(v) for v in zip(*(i["waits"] for i in instances), strict=True)] or []
    timeouts = [sum(v) for v in zip(*(i["timeouts"] for i in instances), strict=True)] or []
    return {
        "instances": by_instance,
        "events": {
            instance: {"connects": v["connects"], "invalidations": v["invalidations"]}
            for instance, v in pools["instances"].items()
        },
        "waits": _time_chart(
            shown,
            markers,
            {"waited for a connection": waits, "gave up (timeout)": timeouts} if instances else {},
            title=f"Checkouts that waited, per {shown.resolution}",
            unit=charts.COUNT,
        ),
        "wait_histogram": latency_histogram(
            pools["histograms"]["wait"], title="How long checkouts waited (those that did)"
        ),
        "hold_histogram": latency_histogram(
            pools["histograms"]["hold"], title="How long checkouts held their connection"
        ),
        "wait_total": sum(pools["histograms"]["wait"]),
        "hold_total": sum(pools["histograms"]["hold"]),
        "connections": _time_chart(
            shown,
            markers,
            windows.connection_series(session, shown),
            title="Server connections to this database, by state",
            unit=charts.CONNECTIONS,
        ),
    }


def traffic_charts(session: DbSession, shown: windows.Window, markers) -> dict:
    """Requests/s, and p95 latency with database time per request, of every endpoint."""
    traffic = windows.endpoint_series(session, shown)
    return {
        "total": traffic["total"],
        "requests": _time_chart(
            shown,
            markers,
            {"requests": traffic["requests"], "errors (4xx, 5xx)": traffic["errors"]},
            title="Requests per second",
            unit=charts.RATE,
        ),
        "latency": _time_chart(
            shown,
            markers,
            {"p95 latency": traffic["p95"], "database time per request": traffic["db_per_request"]},
            title="Request latency (p95) and database time per request",
            unit=charts.SECONDS,
        ),
    }


def statements_charts(
    session: DbSession, shown: windows.Window, markers, shapes: list[dict]
) -> dict[str, Markup]:
    """The p95 and the mean of the given statement shapes over time (one read)."""
    if not shapes:
        return {"p95": Markup(""), "mean": Markup("")}
    series = windows.statement_series(session, shown, [s["fingerprint"] for s in shapes])
    return {
        which: _time_chart(
            shown,
            markers,
            {
                f"#{n + 1} {shape['fingerprint'][:6]}": series[shape["fingerprint"]][which]
                for n, shape in enumerate(shapes)
            },
            title=f"{which} of the top statements (by total time)",
            unit=charts.SECONDS,
        )
        for which in ("p95", "mean")
    }


def statement_charts(
    session: DbSession, shown: windows.Window, markers, fingerprint: str, queryids: list[int]
) -> dict:
    """One statement shape: calls/s, its mean and p95 as the app timed it, and the
    server's calls/s and mean time for the matched queryids."""
    series = windows.statement_series(session, shown, [fingerprint])[fingerprint]
    server = windows.server_statement_series(session, shown, queryids) if queryids else None
    return {
        "calls": series["total"],
        "latency": _time_chart(
            shown,
            markers,
            {"p95 (app)": series["p95"], "mean (app)": series["mean"]}
            | ({"mean (server)": server["mean"]} if server else {}),
            title="Latency",
            unit=charts.SECONDS,
        ),
        "rate": _time_chart(
            shown,
            markers,
            {"calls (app)": series["calls"]}
            | ({"calls (server)": server["calls"]} if server else {}),
            title="Calls per second",
            unit=charts.RATE,
        ),
        "server_calls": server["total"] if server else None,
    }
