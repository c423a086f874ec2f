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


def normalize(statement: str) -> str:
    """One form per statement shape: comments dropped (a .sql file's explanation is
    not the statement), IN-lists of any length collapse, whitespace folds."""
    folded = _IN_LIST.sub(r"(%(\1)s...)", strip_comments(statement))
    return _WHITESPACE.sub(" ", folded).strip()


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


def comparable(statement: str) -> str:
    """The form both the app's text and pg_stat_statements' text reduce to, to match
    them: comments dropped, whitespace folded, every placeholder (psycopg's
    ``%(name)s``, the server's ``$1``) and constant a ``?``, a parenthesised list of
    them (an IN-list, however long; PostgreSQL 18 squashes those too) one ``(?...)``."""
    text = _PLACEHOLDER.sub("?", normalize(statement).replace("%%", "%"))
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
