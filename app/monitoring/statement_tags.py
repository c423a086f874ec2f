"""The comment each statement carries to the server, sqlcommenter style
(``/*route='orders.create',file='orders/service.py:247'*/``), so
``pg_stat_activity``, the console's activity page, the load sampler and
``pg_stat_statements`` say which route, job or code sent it. The console's,
the monitoring's and the jobs' own statements say so (``origin=``), so the
console can set them apart from the app's.

The comment goes first: ``pg_stat_activity`` keeps only the first
``track_activity_query_size`` bytes of a long statement, and a comment before the
statement can never join a second statement after a trailing semicolon. Comments
are not part of a statement's shape (app/monitoring/statement_text.py drops them)
nor of pg_stat_statements' queryid.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

# The periodic job this thread is running (the jobs process sets it), else None.
current_job: ContextVar[str | None] = ContextVar("stockroom_current_job", default=None)

CONSOLE, MONITORING, JOBS = "console", "monitoring", "jobs"
# The database console's views are registered as db_overview, db_queries ...
CONSOLE_ENDPOINT_PREFIX = "db_"
MONITORING_ENDPOINT = "(monitoring)"
# Only these characters reach the comment: never a quote, a '*/' or a '%' (psycopg
# reads '%' as a placeholder when the statement has parameters).
_UNSAFE = re.compile(r"[^\w.:/()<>\-]")
_TAG = re.compile(r"(\w+)='([^']*)'")
_COMMENT = re.compile(r"/\*\s*((?:\w+='[^']*',?)+)\s*\*/")


def origin_of(endpoint: str, job: str | None = None) -> str | None:
    """Whose statement this is when it is not the app's: the console's, the
    monitoring's or a job's (None: the app's own)."""
    if job is not None:
        return JOBS
    if endpoint == MONITORING_ENDPOINT:
        return MONITORING
    if endpoint.startswith(CONSOLE_ENDPOINT_PREFIX):
        return CONSOLE
    return None


def comment(endpoint: str, location: str) -> str:
    """The comment for a statement sent by ``endpoint`` from ``location`` (as
    :func:`app.monitoring.statements.code_location` names it: ``app/x/y.py:12 func``)."""
    job = current_job.get()
    tags = []
    if (origin := origin_of(endpoint, job)) is not None:
        tags.append(("origin", origin))
    if job is not None:
        tags.append(("job", job))
    else:
        tags.append(("route", endpoint))
    where = location.split(" ", 1)[0].removeprefix("app/")
    if where and not where.startswith("("):
        tags.append(("file", where))
    return "/*" + ",".join(f"{key}='{_UNSAFE.sub('_', value)}'" for key, value in tags) + "*/ "


def tags_of(statement: str) -> dict[str, str]:
    """The tags of the sqlcommenter comment in ``statement`` (empty without one)."""
    found = _COMMENT.search(statement[:2048])
    return dict(_TAG.findall(found.group(1))) if found else {}
