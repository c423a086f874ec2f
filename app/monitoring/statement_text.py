"""Statement text reduced to its shape: comments dropped, IN-lists collapsed,
whitespace folded (:func:`normalize`, the app's own statement shapes), and the form
the app's text and pg_stat_statements' text both reduce to (:func:`comparable`)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_IN_LIST = re.compile(r"\(\s*%\((\w+?)_\d+\)s(?:\s*,\s*%\(\1_\d+\)s)*\s*\)")
_WHITESPACE = re.compile(r"\s+")
# A quoted string or identifier (kept whole), or a comment (dropped).
_QUOTED_OR_COMMENT = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|--[^\n]*|/\*.*?\*/""", re.DOTALL
)


def strip_comments(statement: str) -> str:
    """The statement without its SQL comments (quoted text is left alone)."""
    if "--" not in statement and "/*" not in statement:
        return statement
    return _QUOTED_OR_COMMENT.sub(lambda m: m.group(1) or " ", statement)


# SQLAlchemy names each nested transaction's savepoint ``sa_savepoint_<n>``: one
# shape whatever the number.
_SAVEPOINT_VERB = (
    r"(SAVEPOINT|RELEASE(?: SAVEPOINT)?|ROLLBACK(?: WORK| TRANSACTION)? TO(?: SAVEPOINT)?)"
)
_SAVEPOINT = re.compile(
    "^" + _SAVEPOINT_VERB + r' ("?)([A-Za-z_][\w$]*?)\d+("?) ?;?$', re.IGNORECASE
)
EMPTY_STATEMENT = ";"


def normalize(statement: str) -> str:
    """One form per statement shape: comments dropped (a .sql file's explanation is
    not the statement), IN-lists of any length collapse, whitespace folds, a
    savepoint's number is a ``?`` (``SAVEPOINT sa_savepoint_?``), and a statement
    of nothing but comments, semicolons and spaces (the pool's liveness ping sends
    ``;``) is :data:`EMPTY_STATEMENT`."""
    folded = _IN_LIST.sub(r"(%(\1)s...)", strip_comments(statement))
    text = _WHITESPACE.sub(" ", folded).strip()
    if not text.strip("; "):  # nothing to run
        return EMPTY_STATEMENT
    return _SAVEPOINT.sub(r"\1 \2\3?\4", text)


# Placeholders (psycopg's, the server's) and constants (pg_stat_statements shows
# those as placeholders too).
# Boolean literals are constants too (the server shows ``ON true`` as ``ON $9``), but
# not in ``IS [NOT] TRUE``, a test the server keeps as written.
_PLACEHOLDER = re.compile(
    r"%\(\w+\)s(?:\.\.\.)?|\$\d+|'(?:[^']|'')*'|(?<![\w$.])\d+(?:\.\d+)?"
    r"|(?<!\bis )(?<!\bis not )\b(?:true|false)\b",
    re.IGNORECASE,
)
_PLACEHOLDER_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
# The server shows a savepoint's name as a constant: ``SAVEPOINT $1``.
_SAVEPOINT_NAME = re.compile("^" + _SAVEPOINT_VERB + r" \S+$", re.IGNORECASE)


def comparable(statement: str) -> str:
    """The form both the app's text and pg_stat_statements' text reduce to, to match
    them: comments dropped, whitespace folded, every placeholder (psycopg's
    ``%(name)s``, the server's ``$1``) and constant a ``?``, a parenthesised list of
    them (an IN-list, however long; PostgreSQL 18 squashes those too) one ``(?...)``,
    a savepoint's whole name a ``?`` (the server shows ``SAVEPOINT $1``)."""
    text = _PLACEHOLDER.sub("?", normalize(statement).replace("%%", "%"))
    text = _SAVEPOINT_NAME.sub(r"\1 ?", text)
    return _PLACEHOLDER_LIST.sub("(?...)", text)


@lru_cache(maxsize=4096)
def fingerprint_of(statement: str) -> tuple[str, str]:
    """(fingerprint, normalised text) of a statement, computed once per text; the
    same fingerprint as a captured slow statement's."""
    normalised = normalize(statement)
    return fingerprint(normalised), normalised


def fingerprint(normalised: str) -> str:
    """The stable id of a normalised statement shape."""
    return hashlib.sha1(normalised.encode()).hexdigest()[:16]
