"""job outcomes and history hour marks

How each periodic job's run ended, on its claim in ``db_job_runs`` (the overview's
jobs check and ``stockroom_job_last_success_timestamp_seconds`` read them), and one
row per hour of the console's history counting the minute buckets written into it,
so that the hour fold sees a minute written after the hour was folded and folds that
hour again (app/history/recorder.py). Nullable columns without defaults and a new
table: catalog-only changes.

Revision ID: 6c1f0d7e2a55
Revises: b96243ba43d9
Create Date: 2026-12-04 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "6c1f0d7e2a55"
down_revision = "b96243ba43d9"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("db_job_runs", sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.add_column("db_job_runs", sa.Column("outcome", sa.Text()))
    op.add_column("db_job_runs", sa.Column("seconds", sa.Float()))
    op.add_column("db_job_runs", sa.Column("error", sa.Text()))
    op.create_table(
        "db_history_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("writes", sa.BigInteger(), nullable=False),
        sa.Column("folded_writes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_db_history_hours")),
    )


def downgrade():
    op.drop_table("db_history_hours")
    for column in ("error", "seconds", "outcome", "finished_at"):
        op.drop_column("db_job_runs", column)
