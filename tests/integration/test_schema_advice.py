"""The schema page's advice about unused indexes: never on statistics too young to
prove anything (a server up five minutes has scanned nothing yet), and never to drop
an index that backs a constraint or that another drop proposal relies on."""

from __future__ import annotations

import html
import re

import pytest
from scratch_console import ScratchConsole

from app.dbconsole.schema import index_advice


def findings(page: str) -> set[tuple[str, str]]:
    """The (kind, subject) of every finding on the schema page."""
    return set(
        re.findall(r'class="card mb-3 finding" data-kind="([\w-]+)" data-subject="([\w.]+)"', page)
    )


def make_unused_indexes(console: ScratchConsole) -> None:
    """An unused index, and unscanned indexes that must never be proposed for dropping."""
    console.sql("CREATE INDEX ix_customers_created_unused ON customers (created_at)")
    console.sql(
        "CREATE TABLE bookings (id bigint PRIMARY KEY, code text UNIQUE, room int,"
        " during tsrange, EXCLUDE USING gist (during WITH &&))"
    )
    console.sql("CREATE UNIQUE INDEX ux_bookings_room ON bookings (room)")
    # (label) is a leading prefix of (label, note): the first is proposed as redundant,
    # so the second must stay, however unused it looks.
    console.sql("CREATE TABLE tags (label text, note text)")
    console.sql("CREATE INDEX ix_tags_label ON tags (label)")
    console.sql("CREATE INDEX ix_tags_label_note ON tags (label, note)")


def test_no_unused_index_advice_on_statistics_younger_than_the_minimum(make_app, make_database):
    console = ScratchConsole(make_app, make_database())  # INDEX_ADVICE_MIN_DAYS: 7
    # Counting from now, whatever the test server's age (a reused TEST_DATABASE_URL).
    console.sql("SELECT pg_stat_reset()")
    make_unused_indexes(console)
    page = console.page("/admin/db/schema/")
    kinds = {kind for kind, _ in findings(page)}
    assert "unused-index" not in kinds
    assert ("redundant-index", "ix_tags_label") in findings(page)  # structure, not statistics
    wait = re.search(r'id="index-advice-wait">(.*?)</p>', page, re.S)
    assert wait, "the page does not say why there is no unused-index advice"
    said = html.unescape(wait[1])
    assert re.fullmatch(
        r"Index usage statistics cover only \d+ (ms|s|min( \d+ s)?); advice about unused indexes"
        r" waits until they cover 7 days\.",
        said,
    ), said
    assert '<span class="badge badge-secondary">unused</span>' not in page


def test_unused_index_advice_once_the_statistics_are_old_enough(make_app, make_database):
    console = ScratchConsole(make_app, make_database(), INDEX_ADVICE_MIN_DAYS=0)
    make_unused_indexes(console)
    page = console.page("/admin/db/schema/")
    found = findings(page)
    unused = {subject for kind, subject in found if kind == "unused-index"}
    assert "ix_customers_created_unused" in unused
    assert 'id="index-advice-wait"' not in page
    # Never an index that backs a constraint (primary key, unique, exclusion) or is
    # unique, nor the index a redundant one is proposed in favour of.
    never = {
        "bookings_pkey",
        "bookings_code_key",
        "bookings_during_excl",
        "ux_bookings_room",
        "ix_tags_label_note",
    }
    proposed = {subject for _, subject in found}
    assert not never & proposed, never & proposed
    assert ("redundant-index", "ix_tags_label") in found
    # ... and the schema's own constraint indexes, none scanned on a fresh database.
    dropped = re.findall(r"DROP INDEX CONCURRENTLY IF EXISTS ([\w.&;\"]+)", page)
    assert not any("pkey" in name or "_key" in name for name in dropped), dropped


@pytest.mark.parametrize(
    ("age", "days", "ready", "said"),
    [
        (
            300,
            7,
            False,
            "index usage statistics cover only 5 min; advice about unused indexes waits"
            " until they cover 7 days",
        ),
        (7 * 86400, 7, True, None),
        (None, 1, False, None),
        (0, 0, True, None),
    ],
)
def test_how_old_the_statistics_must_be(age, days, ready, said):
    advice = index_advice(age, days)
    assert advice.ready is ready
    if said:
        assert advice.waiting == said
