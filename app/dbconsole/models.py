"""What operators did to other sessions from the console: the audit of cancel and
terminate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk
from app.extensions import Model

ACTIONS = ("cancel", "terminate")


class ConsoleAction(Model):
    """One cancel or terminate, tried from /admin/db/activity/, and what came of it."""

    __tablename__ = "db_console_actions"
    __table_args__ = (CheckConstraint("action IN ('cancel', 'terminate')", name="action_known"),)

    id: Mapped[BigIntPk]
    acted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    admin_id: Mapped[int | None] = mapped_column(BigInteger)
    admin_email: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    application_name: Mapped[str | None] = mapped_column(Text)
    statement: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    # done, refused, failed; with the reason for the last two.
    result: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
