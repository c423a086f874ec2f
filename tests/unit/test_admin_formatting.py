"""The console's relative times (app/admin/formatting.py): how long ago, with the
full time on hover. (The formatters on the admin's pages: integration/test_admin_lists.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.admin.formatting import relative_time, time_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s ago"), (59, "59 s ago"), (60, "1 min ago"), (7_199, "1 h ago"), (90_000, "1 d ago")],
)
def test_live_pages_say_how_long_ago_with_the_full_time_on_hover(seconds, text):
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    shown = str(relative_time(now - timedelta(seconds=seconds), now))
    assert f">{text}</time>" in shown
    assert f'title="{time_text(now - timedelta(seconds=seconds))}"' in shown
