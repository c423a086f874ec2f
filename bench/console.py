"""The console benchmark: the dashboard, the database overview, schema and activity
pages, timed as whole requests on a big database (a million orders by default)."""

from __future__ import annotations

import statistics

from flask import Flask

from bench.reports import admin_client, time_page

CONSOLE_PAGES = ("/admin/", "/admin/db/", "/admin/db/schema/", "/admin/db/activity/")
PAGE_RUNS = 7


def time_console(app: Flask) -> dict[str, tuple[float, float]]:
    """(median, max) milliseconds of each console page, after one warm-up request
    (model drift is computed once per revision)."""
    client = admin_client(app)
    timings = {}
    for path in CONSOLE_PAGES:
        samples, _response = time_page(client, path, PAGE_RUNS)
        timings[path] = (statistics.median(samples), max(samples))
    return timings
