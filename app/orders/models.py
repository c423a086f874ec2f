"""Orders and order lines."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.customers.models import Customer
from app.db.columns import BigIntPk, UpdatedAt
from app.extensions import Model

ORDER_STATUSES = ("placed", "cancelled")


class Order(Model):
    """A customer's purchase; ``total_cents`` is the sum of its lines at placing time."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('placed', 'cancelled')", name="status_known"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        # Left by the zero-downtime NOT NULL migration (redundant with NOT NULL).
        CheckConstraint("item_count IS NOT NULL", name="item_count_not_null"),
        Index(
            "ix_orders_cancelled_by_id",
            "cancelled_by_id",
            postgresql_where=text("cancelled_by_id IS NOT NULL"),
        ),
        # Serves the customer foreign key and "a customer's orders by date".
        Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),
        # Date-range reports read these columns from the index alone (index-only scans).
        Index(
            "ix_orders_placed_at_covering",
            "placed_at",
            postgresql_include=["customer_id", "total_cents", "status"],
        ),
    )

    id: Mapped[BigIntPk]
    public_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, unique=True, server_default=text("gen_random_uuid()")
    )
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(Text, server_default=text("'placed'"))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    # Units across the order's lines (for basket-size reports without a join).
    item_count: Mapped[int] = mapped_column(Integer)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The admin who cancelled it from the console (NULL: placed, or cancelled via API).
    cancelled_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("admin_users.id"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[UpdatedAt]

    customer: Mapped[Customer] = relationship(lazy="raise")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderLine.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Order {self.public_id} {self.status} {self.total_cents}>"


class OrderLine(Model):
    """One product in an order, at the price it was sold for."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price_not_negative"),
        # One line per product per order; also serves the order foreign key.
        UniqueConstraint("order_id", "product_id"),
        # Reports join lines to a date range of orders without visiting the heap.
        Index(
            "ix_order_lines_order_id_covering",
            "order_id",
            postgresql_include=["product_id", "quantity", "unit_price_cents"],
        ),
    )

    id: Mapped[BigIntPk]
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    def __repr__(self) -> str:
        return f"<OrderLine order={self.order_id} product={self.product_id} x{self.quantity}>"
