"""console actions

A new, empty table: every cancel and terminate tried from the database console,
with who, when, which session and what came of it (the activity page shows it).
Its index is built with the table, in the same transaction: nothing to lock yet.

Revision ID: df86d7ec28fa
Revises: 5b7d1e9c3a42
Create Date: 2026-11-27 15:29:33
"""

import sqlalchemy as sa
from alembic import op

revision = "df86d7ec28fa"
down_revision = "5b7d1e9c3a42"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "db_console_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "acted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("admin_id", sa.BigInteger(), nullable=True),
        sa.Column("admin_email", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("application_name", sa.Text(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('cancel', 'terminate')", name=op.f("ck_db_console_actions_action_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_db_console_actions")),
    )
    op.create_index(
        op.f("ix_db_console_actions_acted_at"), "db_console_actions", ["acted_at"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_db_console_actions_acted_at"), table_name="db_console_actions")
    op.drop_table("db_console_actions")
