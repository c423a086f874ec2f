"""Raw SQL lives in ``.sql`` files beside the code that runs it; this reads them."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from sqlalchemy import TextClause, text


@cache
def sql_file(package: str, name: str) -> str:
    """The text of ``name`` in ``package`` (read once per process)."""
    return files(package).joinpath(name).read_text()


@cache
def query(package: str, name: str) -> TextClause:
    """A SQLAlchemy ``text()`` statement from a ``.sql`` file (bound parameters only)."""
    return text(sql_file(package, name))
