"""``flask api-token``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.api.idempotency import purge_expired
from app.api.tokens import issue_token
from app.db.transactions import run_in_transaction
from app.extensions import db


@click.group("api-token")
def api_token() -> None:
    """Manage bearer tokens for the JSON API."""


@api_token.command("create")
@click.argument("name")
@with_appcontext
def create(name: str) -> None:
    """Create a token and print it; it cannot be shown again."""
    try:
        token, plain = run_in_transaction(db.session, lambda session: issue_token(session, name))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"API token {token.name!r} (id {token.id}); store it now, it is not shown again:", err=True
    )
    click.echo(plain)


@click.command("purge-idempotency-keys")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5_000, show_default=True)
@with_appcontext
def purge_idempotency_keys(batch_size: int) -> None:
    """Delete expired Idempotency-Key records, in short batches."""
    total = 0
    while True:
        deleted = run_in_transaction(db.session, lambda session: purge_expired(session, batch_size))
        total += deleted
        if deleted < batch_size:
            break
    click.echo(f"deleted {total} expired idempotency record(s)")
