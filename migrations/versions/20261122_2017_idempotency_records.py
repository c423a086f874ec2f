"""idempotency records

A new, empty table; its foreign key points at api_tokens, which is small, but the
constraint still takes a SHARE ROW EXCLUSIVE lock there only for the instant of
creation (no validation scan: the new table is empty).

Revision ID: c45d0e9f7a26
Revises: 8b7e2d514c1a
Create Date: 2026-11-22 20:17:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c45d0e9f7a26"
down_revision = "8b7e2d514c1a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_fingerprint", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('running', 'completed')", name=op.f("ck_idempotency_records_state_known")
        ),
        sa.CheckConstraint(
            "char_length(key) BETWEEN 1 AND 255", name=op.f("ck_idempotency_records_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            ondelete="CASCADE",
            name=op.f("fk_idempotency_records_token_id_api_tokens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        # Leads with token_id, so it also serves the foreign key.
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_idempotency_records_token_id_key")),
    )
    # The purge of expired keys scans by expiry.
    op.create_index("ix_idempotency_records_expires_at", "idempotency_records", ["expires_at"])


def downgrade():
    op.drop_table("idempotency_records")
