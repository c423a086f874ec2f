"""``flask create-admin``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.auth.admins import AdminUserError, find_admin, set_admin_password
from app.db.transactions import run_in_transaction
from app.extensions import db


@click.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--update", is_flag=True, help="Set a new password if the admin already exists.")
@with_appcontext
def create_admin(email: str, password_stdin: bool, update: bool) -> None:
    """Create an admin user who can log in to /admin/ and /reports/."""
    try:
        if find_admin(db.session, email) and not update:
            raise click.ClickException(
                f"{email} is already an admin; pass --update to set a new password"
            )
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        user, created = run_in_transaction(
            db.session, lambda session: set_admin_password(session, email, password)
        )
    except AdminUserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{'created' if created else 'updated'} admin {user.email}")
