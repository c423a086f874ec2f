"""Alembic environment for Flask-Migrate.

Production rules applied to every migration run (online and in --sql output):
- ``lock_timeout``: DDL that waits for a lock blocks every query queued behind
  it, so give up quickly (and retry the deploy) rather than stall the app;
- ``statement_timeout``: bounded, but long enough for CREATE INDEX CONCURRENTLY
  and batched backfills on large tables;
- one transaction per migration, so a failure leaves the earlier ones applied
  and a migration can step out of the transaction (``autocommit_block``) for
  CONCURRENTLY operations.
"""

import logging
import os
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config


fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

LOCK_TIMEOUT = os.environ.get("MIGRATION_LOCK_TIMEOUT", "5s")
STATEMENT_TIMEOUT = os.environ.get("MIGRATION_STATEMENT_TIMEOUT", "15min")


def get_engine():
    """The app's engine (Flask-SQLAlchemy 3)."""
    return current_app.extensions["migrate"].db.engine


def get_metadata():
    """The models' metadata, for autogenerate."""
    return current_app.extensions["migrate"].db.metadata


TIMEOUTS = (
    f"SET lock_timeout = '{LOCK_TIMEOUT}'",
    f"SET statement_timeout = '{STATEMENT_TIMEOUT}'",
)


def run_migrations_offline():
    """Write the migrations' SQL (``flask db upgrade --sql``) instead of running it."""
    url = get_engine().url.render_as_string(hide_password=False)
    context.configure(
        url=url,
        target_metadata=get_metadata(),
        literal_binds=True,
        transaction_per_migration=True,
        **current_app.extensions["migrate"].configure_args,
    )
    for statement in TIMEOUTS:
        context.execute(statement)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations against the database, over a direct connection."""
    from alembic.util import CommandError
    from sqlalchemy.exc import OperationalError

    from app.db.engine import connection_role, direct_engine, through_pooler
    from app.db.errors import connection_failure
    from app.db.migration_scripts import include_object
    from app.history.recorder import record_migration

    def process_revision_directives(context, revision, directives):
        # Do not write an empty migration when autogenerate finds no change.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    # Autogenerate ignores the migrations' own progress table (see progress.py).
    conf_args.setdefault("include_object", include_object)
    # Each migration applied or undone is marked on the console's charts.
    conf_args.setdefault(
        "on_version_apply",
        lambda ctx, step, heads, run_args: record_migration(ctx.connection, step),
    )
    # Through a transaction-mode pooler there is no session: reading the current
    # revision works, running migrations (session settings, CONCURRENTLY) does not.
    pooled = through_pooler(current_app.config)

    # A connection of its own (DATABASE_DIRECT_URL when set), named stockroom:migrate:...,
    # closed afterwards: its session settings never reach a pooled connection.
    try:
        with connection_role("migrate"):
            connection = direct_engine().connect()
    except OperationalError as error:
        raise CommandError(
            f"cannot reach the database: {connection_failure(error, current_app.config)}"
        ) from None
    with connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            transaction_per_migration=True,
            **conf_args,
        )
        if pooled and not context.get_context().opts.get("dont_mutate"):
            raise CommandError(
                "migrations cannot run through PgBouncer in transaction mode (they need "
                "session settings and CREATE INDEX CONCURRENTLY): set DATABASE_DIRECT_URL "
                "to a direct connection to PostgreSQL"
            )
        if not pooled:
            # Session-level, committed before Alembic opens its own transactions.
            for statement in TIMEOUTS:
                connection.exec_driver_sql(statement)
            connection.commit()
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
