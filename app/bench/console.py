"""The console benchmark: the dashboard, the database overview, schema and activity
pages, timed as whole requests on a big database (a million orders by default)."""

from __future__ import annotations

import logging
import statistics
import time

from flask import Flask

from app.bench.reports import ADMIN

CONSOLE_PAGES = ("/admin/", "/admin/db/", "/admin/db/schema/", "/admin/db/activity/")
PAGE_RUNS = 7


def time_console(app: Flask) -> dict[str, tuple[float, float]]:
    """(median, max) milliseconds of each console page, after one warm-up request."""
    logging.getLogger("stockroom.request").setLevel(logging.WARNING)
    client = app.test_client()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    timings = {}
    for path in CONSOLE_PAGES:
        client.get(path)  # warm: model drift is computed once per revision
        samples = []
        for _ in range(PAGE_RUNS):
            started = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
        timings[path] = (statistics.median(samples), max(samples))
    return timings
