"""A migrated scratch database with an app on it and a logged-in admin client, for
the tests of the console's overview and schema pages (real sessions doing real harm
on a database of their own)."""

from __future__ import annotations

import re

import flask_migrate
import psycopg
from browser_forms import add_admin, log_in

from app.config import CHECK_DEFAULTS
from app.extensions import db

# Thresholds a test can reach in a second or two.
QUICK = CHECK_DEFAULTS | {
    "LONG_RUNNING_SECONDS": 1,
    "IDLE_IN_TRANSACTION_SECONDS": 1,
    "BLOCKED_SECONDS": 1,
}

CHECK_ROW = re.compile(r'<tr data-check="(\w+)" data-status="(\w+)"')


class ScratchConsole:
    """An app on its own migrated database and an admin client logged in to it."""

    def __init__(self, make_app, url: str, checks: dict | None = None, **settings) -> None:
        self.url = url
        self.app = make_app(url, DB_CHECKS=QUICK | (checks or {}), **settings)
        with self.app.app_context():
            flask_migrate.upgrade()
            add_admin(db.session)
            db.session.remove()
        self.client = self.app.test_client()
        assert log_in(self.client).status_code == 302

    def page(self, path: str = "/admin/db/") -> str:
        """The page's HTML (which must answer 200)."""
        response = self.client.get(path)
        assert response.status_code == 200, response.text[:500]
        return response.text

    def checks(self, page: str | None = None) -> list[tuple[str, str]]:
        """The overview's rows as (check, status), in the page's order."""
        return CHECK_ROW.findall(page if page is not None else self.page())

    def sql(self, statement: str, params=None) -> list:
        """Run ``statement`` on a connection of its own, committed."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
