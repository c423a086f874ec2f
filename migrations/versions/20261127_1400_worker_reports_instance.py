"""worker reports: instance name

Which app instance (INSTANCE_NAME, default hostname:port) each worker belongs to,
so the console can count instances and compare them with APP_INSTANCES. A
nullable column without a default: a catalog-only change, no table rewrite.

Revision ID: 5b7d1e9c3a42
Revises: 4f8a6d2c0b93
Create Date: 2026-11-27 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5b7d1e9c3a42"
down_revision = "4f8a6d2c0b93"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("db_worker_reports", sa.Column("instance", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("db_worker_reports", "instance")
