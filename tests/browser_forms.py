"""Helpers for tests that use the HTML pages like a browser would (CSRF included)."""

from __future__ import annotations

import re

from app.auth.admins import set_admin_password

PASSWORD = "correct horse battery"


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def add_admin(session, email: str = "ops@example.com", password: str = PASSWORD):
    """An admin user (committed)."""
    user, _ = set_admin_password(session, email, password)
    session.commit()
    return user


def log_in(client, email: str = "ops@example.com", password: str = PASSWORD, next_: str = ""):
    """Log in through the form; returns the POST's response."""
    page = client.get("/login")
    url = f"/login?next={next_}" if next_ else "/login"
    return client.post(
        url, data={"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    )
