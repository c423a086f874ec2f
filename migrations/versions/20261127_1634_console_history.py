"""console history

New, empty tables for the console's per-minute history (pool, endpoints, statement
shapes, pg_stat_statements deltas, connections by state), their hourly folds, the
deploy and migration markers, and the periodic jobs' claims. Ordinary logged
tables: the history survives a crash. Being new and empty, their indexes are built
with them (nothing to lock out).

Revision ID: c52da2104c5b
Revises: df86d7ec28fa
Create Date: 2026-11-27 16:34:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c52da2104c5b"
down_revision = "df86d7ec28fa"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "db_history_connections",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "state", name=op.f("pk_db_history_connections")),
    )
    op.create_table(
        "db_history_endpoints",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("latency_max", sa.Float(), nullable=False),
        sa.Column("db_seconds", sa.Float(), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "instance", "endpoint", name=op.f("pk_db_history_endpoints")
        ),
    )
    op.create_table(
        "db_history_endpoints_hourly",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("latency_max", sa.Float(), nullable=False),
        sa.Column("db_seconds", sa.Float(), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "instance", "endpoint", name=op.f("pk_db_history_endpoints_hourly")
        ),
    )
    op.create_table(
        "db_history_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_db_history_events")),
    )
    op.create_index("ix_db_history_events_at", "db_history_events", ["at"], unique=False)
    op.create_index(
        "uq_db_history_events_deploy",
        "db_history_events",
        ["label"],
        unique=True,
        postgresql_where=sa.text("kind = 'deploy'"),
    )
    op.create_table(
        "db_history_pool",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("checked_out_max", sa.Integer(), nullable=False),
        sa.Column("checked_out_mean", sa.Float(), nullable=False),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("connects", sa.Integer(), nullable=False),
        sa.Column("invalidations", sa.Integer(), nullable=False),
        sa.Column("wait_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("hold_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "instance", "pid", name=op.f("pk_db_history_pool")),
    )
    op.create_table(
        "db_history_pool_hourly",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("checked_out_max", sa.Integer(), nullable=False),
        sa.Column("checked_out_mean", sa.Float(), nullable=False),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("connects", sa.Integer(), nullable=False),
        sa.Column("invalidations", sa.Integer(), nullable=False),
        sa.Column("wait_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("hold_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "instance", name=op.f("pk_db_history_pool_hourly")),
    )
    op.create_table(
        "db_history_server_statements",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queryid", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_hit", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_read", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "queryid", name=op.f("pk_db_history_server_statements")),
    )
    op.create_index(
        "ix_db_history_server_statements_queryid",
        "db_history_server_statements",
        ["queryid", "bucket"],
        unique=False,
    )
    op.create_table(
        "db_history_statements",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("latency_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        sa.Column("max_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "instance", "fingerprint", name=op.f("pk_db_history_statements")
        ),
    )
    op.create_index(
        "ix_db_history_statements_fingerprint",
        "db_history_statements",
        ["fingerprint", "bucket"],
        unique=False,
    )
    op.create_table(
        "db_history_statements_hourly",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("latency_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        sa.Column("max_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "instance", "fingerprint", name=op.f("pk_db_history_statements_hourly")
        ),
    )
    op.create_index(
        "ix_db_history_statements_hourly_fingerprint",
        "db_history_statements_hourly",
        ["fingerprint", "bucket"],
        unique=False,
    )
    op.create_table(
        "db_job_runs",
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("job", "period_start", name=op.f("pk_db_job_runs")),
    )
    op.create_table(
        "db_server_statement_snapshot",
        sa.Column("queryid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_hit", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_read", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queryid", name=op.f("pk_db_server_statement_snapshot")),
    )
    op.create_table(
        "db_statement_sources",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "fingerprint", "endpoint", "location", name=op.f("pk_db_statement_sources")
        ),
    )
    op.create_table(
        "db_statements",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("queryids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("last_plan", sa.Text(), nullable=True),
        sa.Column("last_plan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "first_seen",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_db_statements")),
    )


def downgrade():
    op.drop_table("db_statements")
    op.drop_table("db_statement_sources")
    op.drop_table("db_server_statement_snapshot")
    op.drop_table("db_job_runs")
    op.drop_index(
        "ix_db_history_statements_hourly_fingerprint", table_name="db_history_statements_hourly"
    )
    op.drop_table("db_history_statements_hourly")
    op.drop_index("ix_db_history_statements_fingerprint", table_name="db_history_statements")
    op.drop_table("db_history_statements")
    op.drop_index(
        "ix_db_history_server_statements_queryid", table_name="db_history_server_statements"
    )
    op.drop_table("db_history_server_statements")
    op.drop_table("db_history_pool_hourly")
    op.drop_table("db_history_pool")
    op.drop_index(
        "uq_db_history_events_deploy",
        table_name="db_history_events",
        postgresql_where=sa.text("kind = 'deploy'"),
    )
    op.drop_index("ix_db_history_events_at", table_name="db_history_events")
    op.drop_table("db_history_events")
    op.drop_table("db_history_endpoints_hourly")
    op.drop_table("db_history_endpoints")
    op.drop_table("db_history_connections")
