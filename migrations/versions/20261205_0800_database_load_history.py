"""database load history

The console's database load (average active sessions by wait event, route and
statement), sampled every second by the jobs process and kept per minute like the
rest of the history (app/history/load.py). Two new, empty tables: catalog-only.

Revision ID: 9a4e2c7b1d30
Revises: 2e8a4c6b9d17
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9a4e2c7b1d30"
down_revision = "2e8a4c6b9d17"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "db_history_load",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_class", sa.Text(), nullable=False),
        sa.Column("wait_event", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("statement_key", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket",
            "wait_class",
            "wait_event",
            "route",
            "statement_key",
            name=op.f("pk_db_history_load"),
        ),
    )
    op.create_table(
        "db_history_load_samples",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_db_history_load_samples")),
    )


def downgrade():
    op.drop_table("db_history_load_samples")
    op.drop_table("db_history_load")
