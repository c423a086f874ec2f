"""login throttles

A new, empty table: failed admin logins per email, shared by all workers.

Revision ID: 7e3b00b0be70
Revises: c45d0e9f7a26
Create Date: 2026-11-22 20:57:44
"""

import sqlalchemy as sa
from alembic import op

revision = "7e3b00b0be70"
down_revision = "c45d0e9f7a26"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttles",
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttles")),
    )


def downgrade():
    op.drop_table("login_throttles")
