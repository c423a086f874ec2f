"""Who may see a page: logged-in admins only; everyone else is sent to /login and
back. Shared by the admin's model views, the database pages and the reports."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import BaseView
from flask_login import current_user
from werkzeug.wrappers import Response


def to_login() -> Response:
    """A redirect to the login page that comes back to this page afterwards."""
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class LoginRequired:
    """Views only for logged-in admins; others are sent to /login and back."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: object) -> Response:
        return to_login()


class SecureBaseView(LoginRequired, BaseView):
    """A custom admin page (the database pages)."""
