"""Helpers for tests that use the HTML pages like a browser would (CSRF included)."""

from __future__ import annotations

import re

from werkzeug.security import generate_password_hash

from app.auth.admins import check_password_strength, find_admin, normalize_email
from app.auth.models import AdminUser

PASSWORD = "correct horse battery"
# The admins made here get a scrypt hash as the app stores, but with a work factor of
# 2**10 instead of werkzeug's 2**15: the suite logs in hundreds of times, and each
# login checks the hash in milliseconds instead of 0.15 s. (What the app's own paths
# store, at its own cost: test_cli.py checks the scrypt hash create-admin stores.)
CHEAP_SCRYPT = "scrypt:1024:8:1"


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def add_admin(session, email: str = "ops@example.com", password: str = PASSWORD):
    """An admin user (committed), created or updated as set_admin_password does, with
    a cheap-to-check hash of ``password`` (see CHEAP_SCRYPT)."""
    check_password_strength(password)
    user = find_admin(session, email)
    if user is None:
        user = AdminUser(email=normalize_email(email))
        session.add(user)
    user.password_hash = generate_password_hash(password, method=CHEAP_SCRYPT)
    session.commit()
    return user


def log_in(client, email: str = "ops@example.com", password: str = PASSWORD, next_: str = ""):
    """Log in through the form; returns the POST's response."""
    page = client.get("/login")
    url = f"/login?next={next_}" if next_ else "/login"
    return client.post(
        url, data={"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    )


def console_page(chromium, site_url: str, path: str = "/admin/", *, width: int = 1440):
    """A page of a new Chromium context (``width`` x 900 px) logged in through the
    form as the test admin (:func:`add_admin`), at ``path`` (no query string)."""
    page = chromium.new_context(
        base_url=site_url, viewport={"width": width, "height": 900}
    ).new_page()
    page.goto(f"/login?next={path}")
    page.fill("input[name=email]", "ops@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")
    return page
