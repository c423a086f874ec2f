"""/login and /logout for admin users."""

from __future__ import annotations

import hmac
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from app.auth.admins import AdminUserError, find_admin
from app.auth.models import EMAIL_MAX, AdminUser
from app.auth.throttle import record_failure, record_success, seconds_locked
from app.db.transactions import run_in_transaction
from app.extensions import db, login_manager
from app.inputs import parse_integer

bp = Blueprint("auth", __name__)
DEFAULT_AFTER_LOGIN = "/admin/"


def no_nul_bytes(form, field) -> None:
    """Refuse NUL bytes before they reach PostgreSQL (text cannot hold them)."""
    if field.data and "\x00" in field.data:
        raise ValidationError("Contains characters that are not allowed.")


class LoginForm(FlaskForm):
    """Email and password (CSRF-protected like every form)."""

    email = StringField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX), no_nul_bytes])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@login_manager.user_loader
def load_user(session_id: str) -> AdminUser | None:
    """The admin named in the session cookie, if that session is still theirs: a
    password changed or an admin deleted since the login ends it."""
    user_id, _, fingerprint = session_id.partition(":")
    try:
        user = db.session.get(AdminUser, parse_integer(user_id))
    except ValueError:
        return None
    if user is None or not hmac.compare_digest(fingerprint, user.session_fingerprint()):
        return None
    return user


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no open redirect)."""
    if not target:
        return DEFAULT_AFTER_LOGIN
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return DEFAULT_AFTER_LOGIN
    return target


@cache
def _dummy_hash() -> str:
    # Checked for unknown emails too, so response time does not reveal which exist.
    return generate_password_hash("not a real password", method="scrypt")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log an admin in; repeated failures lock the email for a growing while."""
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        wait = seconds_locked(db.session, email)
        if wait:
            form.form_errors.append(
                f"Too many failed attempts. Try again in {wait} second{'s' * (wait != 1)}."
            )
            status = 429
        else:
            try:
                user = find_admin(db.session, email)
            except AdminUserError:
                user = None
            hashed = user.password_hash if user else _dummy_hash()
            if check_password_hash(hashed, form.password.data) and user is not None:

                def succeed(session_):
                    record_success(session_, email)
                    user.last_login_at = func.now()

                run_in_transaction(db.session, succeed)
                session.clear()  # nothing from before the login carries over
                login_user(user)
                session.permanent = True
                return redirect(target)
            run_in_transaction(db.session, lambda session_: record_failure(session_, email))
            form.form_errors.append("Wrong email or password.")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next=target), status


@bp.post("/logout")
def logout():
    """Log out (POST with a CSRF token, so no other site can log you out)."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
