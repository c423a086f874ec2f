"""monitoring snapshots

Two new UNLOGGED tables that every gunicorn worker writes its pool state, counters
and slow statements into, so any worker can show the whole deployment. UNLOGGED:
no WAL for data rewritten every few seconds, and nothing of value lost if a crash
empties them.

Revision ID: 9a5ad7651227
Revises: 7e3b00b0be70
Create Date: 2026-11-22 21:06:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "9a5ad7651227"
down_revision = "7e3b00b0be70"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "db_worker_reports",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("pool", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("counters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("host", "pid", name=op.f("pk_db_worker_reports")),
        prefixes=["UNLOGGED"],
    )
    op.create_table(
        "db_slow_queries",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("max_ms", sa.Float(), nullable=False),
        sa.Column("samples", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("host", "pid", "fingerprint", name=op.f("pk_db_slow_queries")),
        prefixes=["UNLOGGED"],
    )
    # EXPLAIN looks statements up by fingerprint; the purge of old rows by last_seen.
    op.create_index("ix_db_slow_queries_fingerprint", "db_slow_queries", ["fingerprint"])
    op.create_index("ix_db_slow_queries_last_seen", "db_slow_queries", ["last_seen"])


def downgrade():
    op.drop_table("db_slow_queries")
    op.drop_table("db_worker_reports")
