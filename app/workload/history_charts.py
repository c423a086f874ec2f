"""The console's history charts: the pool, the traffic, statement shapes. Each takes
a window (app/history/windows.py) and returns inline SVG."""

from __future__ import annotations

import re

from markupsafe import Markup

from app import charts
from app.db.transactions import DbSession
from app.history import windows
from app.monitoring import latency_buckets
from app.monitoring.statement_text import strip_comments

LEGEND_PREVIEW = 60  # characters of a statement's text in a chart's legend
# A SELECT's column list, when it is long enough to be worth folding.
_SELECT_LIST = re.compile(r"^SELECT\s(.{13,}?)\sFROM\s", re.IGNORECASE | re.DOTALL)


def _time_chart(
    shown: windows.Window,
    markers,
    series,
    *,
    title: str,
    unit: charts.Unit,
    titles: dict[str, str] | None = None,
    data_from=None,
):
    return charts.time_chart(
        shown.times,
        series,
        start=shown.start,
        end=shown.end,
        title=title,
        unit=unit,
        markers=markers,
        resolution=shown.resolution,
        # The window ends with the bin that holds "now": its minute (or hour) has not
        # been reported yet, so its rates would read as a drop to 0.
        open_from=shown.times[-1] if shown.times else None,
        titles=titles,
        # The charts of one page share where their data starts, so that their x axes
        # (fitted to short data) line up.
        data_from=data_from,
    )


def statement_preview(sql: str, length: int = LEGEND_PREVIEW) -> str:
    """A statement's text short enough for a legend: one line, no comments, and a
    SELECT's column list folded ("SELECT … FROM products WHERE …"), since the table
    says more than the first columns."""
    text = " ".join(strip_comments(sql).split())
    text = _SELECT_LIST.sub("SELECT … FROM ", text, count=1)
    return text if len(text) <= length else text[: length - 1] + "…"


def latency_histogram(
    counts: list[int], *, title: str, x_title: str = "", y_title: str = "count"
) -> Markup:
    """Bars for the buckets from the first to the last one holding anything."""
    used = [i for i, count in enumerate(counts) if count]
    if not used:
        return Markup("")
    first, last = used[0], used[-1]
    bounds = [latency_buckets.bound(i) for i in range(first, last + 1)]
    return charts.histogram_chart(
        bounds, counts[first : last + 1], title=title, x_title=x_title, y_title=y_title
    )


def pool_charts(session: DbSession, shown: windows.Window, markers) -> dict:
    """Per instance checked out vs capacity; waits and timeouts; the acquire-wait and
    hold-time histograms; the server's connections by state."""
    pools = windows.pool_series(session, shown)
    # Pool rows come every minute a process runs, busy or not.
    data_from = charts.first_data(
        shown.times,
        {
            instance: [None if v is None else 1.0 for v in values["capacity"]]
            for instance, values in pools["instances"].items()
        },
    )
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
            data_from=data_from,
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
            data_from=data_from,
        ),
        "wait_histogram": latency_histogram(
            pools["histograms"]["wait"],
            title="How long checkouts waited (those that did)",
            x_title="waited for a connection",
            y_title="checkouts",
        ),
        "hold_histogram": latency_histogram(
            pools["histograms"]["hold"],
            title="How long checkouts held their connection",
            x_title="connection held",
            y_title="checkouts",
        ),
        "wait_total": sum(pools["histograms"]["wait"]),
        "hold_total": sum(pools["histograms"]["hold"]),
        "connections": _time_chart(
            shown,
            markers,
            windows.connection_series(session, shown),
            title="Server connections to this database, by state",
            unit=charts.CONNECTIONS,
            data_from=data_from,
        ),
    }


def traffic_charts(session: DbSession, shown: windows.Window, markers) -> dict:
    """Requests/s, and p95 latency with database time per request, of every endpoint."""
    traffic = windows.endpoint_series(session, shown)
    data_from = charts.first_data(shown.times, {"requests": traffic["requests"]})
    return {
        "total": traffic["total"],
        "requests": _time_chart(
            shown,
            markers,
            {"requests": traffic["requests"], "errors (4xx, 5xx)": traffic["errors"]},
            title="Requests per second",
            unit=charts.RATE,
            data_from=data_from,
        ),
        "latency": _time_chart(
            shown,
            markers,
            {"p95 latency": traffic["p95"], "database time per request": traffic["db_per_request"]},
            title="Request latency (p95) and database time per request",
            unit=charts.SECONDS,
            data_from=data_from,
        ),
    }


def statements_charts(
    session: DbSession, shown: windows.Window, markers, shapes: list[dict]
) -> dict[str, Markup]:
    """The p95 and the mean of the given statement shapes over time (one read)."""
    if not shapes:
        return {"p95": Markup(""), "mean": Markup("")}
    fingerprints = [s["fingerprint"] for s in shapes]
    series = windows.statement_series(session, shown, fingerprints)
    # Named by their text ("#1" as in the table), the whole text in the tooltip; the
    # fingerprint only when the text is unknown.
    names = [
        f"#{n + 1} {statement_preview(shape['sql']) or shape['fingerprint'][:6]}"
        for n, shape in enumerate(shapes)
    ]
    data_from = charts.first_data(
        shown.times,
        {name: series[fp]["calls"] for name, fp in zip(names, fingerprints, strict=True)},
    )
    titles = {
        name: " ".join(strip_comments(shape["sql"]).split())
        for name, shape in zip(names, shapes, strict=True)
        if shape["sql"]
    }
    return {
        which: _time_chart(
            shown,
            markers,
            {
                name: series[shape["fingerprint"]][which]
                for name, shape in zip(names, shapes, strict=True)
            },
            title=f"{which} of the top statements (by total time)",
            unit=charts.SECONDS,
            titles=titles,
            data_from=data_from,
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
    data_from = charts.first_data(
        shown.times, {"app": series["calls"]} | ({"server": server["calls"]} if server else {})
    )
    return {
        "calls": series["total"],
        "latency": _time_chart(
            shown,
            markers,
            {"p95 (app)": series["p95"], "mean (app)": series["mean"]}
            | ({"mean (server)": server["mean"]} if server else {}),
            title="Latency",
            unit=charts.SECONDS,
            data_from=data_from,
        ),
        "rate": _time_chart(
            shown,
            markers,
            {"calls (app)": series["calls"]}
            | ({"calls (server)": server["calls"]} if server else {}),
            title="Calls per second",
            unit=charts.RATE,
            data_from=data_from,
        ),
        "server_calls": server["total"] if server else None,
    }
