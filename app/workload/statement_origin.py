"""Whose statement is it: the app's, or the console's, monitoring's or the jobs'
own bookkeeping (kept apart on the queries page so the app's statements lead).

Three clues, strongest first:

- a sqlcommenter comment at the end of the text (``/*route='orders.create',
  file='service.py:247'*/``; the console's, monitoring's and jobs' own statements
  say ``origin='console'``, ``'monitoring'`` or ``'jobs'``): pg_stat_statements
  keeps the first text it saw, comment included;
- the endpoints that ran it (captured and recorded statements carry them):
  ``db_*`` endpoints are the console's database pages, ``(monitoring)`` the
  reporter thread, ``(background)``/``(jobs)`` the jobs;
- its tables: a statement touching the console's own ``db_*`` tables (or the
  server's catalogs) and none of the app's is the console's, whichever endpoint ran
  it (the admin's home page and the health checks read the workers' reports too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from app.monitoring.statement_text import EMPTY_STATEMENT, normalize

# The last /* ... */ comment, at the very end (a trailing semicolon allowed).
_TRAILING_COMMENT = re.compile(r"/\*((?:[^*]|\*(?!/))*)\*/\s*;?\s*$")
_PAIR = re.compile(r"\s*([\w.%-]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*(?:,|$)")
OWN_ORIGINS = ("console", "monitoring", "jobs")
_OWN_ENDPOINTS = {"(monitoring)": "monitoring", "(background)": "jobs", "(jobs)": "jobs"}
# Table names after the keywords that name one; a name followed by "(" after FROM
# or JOIN is a function (unnest, generate_series), not a table.
_TABLE = re.compile(
    r"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:ONLY\s+|LATERAL\s+)?"
    r"((?:\"?\w+\"?\.)?\"?\w+\"?)(\s*\()?",
    re.IGNORECASE,
)
_CTE = re.compile(r"\b(\w+)\s+AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.IGNORECASE)
_CATALOG = re.compile(r"^(pg_catalog\.|information_schema\.)?pg_\w+$|^information_schema\.")


@dataclass(frozen=True)
class Origin:
    """Who runs a statement: ``kind`` is ``app``, ``console``, ``monitoring``,
    ``jobs`` or ``ping`` (the pool's empty liveness statement); the route and code
    location where known."""

    kind: str = "app"
    route: str | None = None
    file: str | None = None

    @property
    def own(self) -> bool:
        """The console's own (or monitoring's, the jobs', the pool's), not the app's."""
        return self.kind != "app"


def sqlcommenter(statement: str) -> dict[str, str]:
    """The key/value pairs of a trailing sqlcommenter comment (values URL-decoded,
    ``\\'`` unescaped), or {} when the text ends without one."""
    match = _TRAILING_COMMENT.search(statement or "")
    if match is None:
        return {}
    body, pairs, position = match.group(1).strip(), {}, 0
    while position < len(body):
        pair = _PAIR.match(body, position)
        if pair is None:
            return {}  # not a sqlcommenter comment: an explanation in words
        value = re.sub(r"\\(.)", r"\1", pair.group(2))
        pairs[unquote(pair.group(1))] = unquote(value)
        position = pair.end()
    return pairs


def endpoint_kind(endpoint: str | None) -> str:
    """``console``, ``monitoring`` or ``jobs`` for our own endpoints, else ``app``."""
    if not endpoint:
        return "app"
    if endpoint in _OWN_ENDPOINTS:
        return _OWN_ENDPOINTS[endpoint]
    return "console" if endpoint.startswith("db_") else "app"


def tables(statement: str) -> set[str]:
    """The tables a statement names (lower case, CTE names and functions left out)."""
    text = normalize(statement)
    ctes = {name.lower() for name in _CTE.findall(text)}
    found = set()
    for keyword, name, call in _TABLE.findall(text):
        if call and keyword.upper() in ("FROM", "JOIN"):
            continue
        name = name.replace('"', "").lower()
        if name not in ctes:
            found.add(name)
    return found


def _own_by_tables(statement: str, app_tables: Iterable[str]) -> bool:
    """It names one of the console's ``db_*`` tables or a server catalog, and none of
    the app's tables (other names after FROM are columns: ``extract(epoch FROM t)``)."""
    named = {name.removeprefix("public.") for name in tables(statement)}
    if named & set(app_tables):
        return False
    return any(name.startswith("db_") or _CATALOG.match(name) for name in named)


def classify(
    statement: str, endpoints: Iterable[str] = (), app_tables: Iterable[str] = ()
) -> Origin:
    """Whose statement ``statement`` is (see the module's docstring); ``endpoints``:
    those recorded running it; ``app_tables``: the app's own table names."""
    comment = sqlcommenter(statement)
    route, file = comment.get("route"), comment.get("file")
    origin = comment.get("origin")
    if origin in OWN_ORIGINS:
        return Origin(origin, route, file)
    if normalize(statement) == EMPTY_STATEMENT:
        return Origin("ping")
    if route or origin:
        return Origin("app", route, file)
    kinds = {endpoint_kind(endpoint) for endpoint in endpoints}
    if kinds and "app" not in kinds:
        return Origin(sorted(kinds)[0])
    # The console's tables are its own whoever reads them (the admin's home page and
    # the health checks read the workers' reports too).
    if _own_by_tables(statement, app_tables):
        return Origin(sorted(kinds - {"app"})[0] if kinds - {"app"} else "console")
    return Origin("app")
