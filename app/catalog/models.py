"""Products: what Stockroom sells, with the stock on hand and how fast it sells."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk, CreatedAt, UpdatedAt
from app.extensions import Model

# Limits of the columns, enforced by the CHECKs below and quoted by the API's
# models and the admin's forms.
SKU_MAX = 64
NAME_MAX = 200
# No CHECK: a limit on what the API and the admin accept.
DESCRIPTION_MAX = 10_000


class Product(Model):
    """A sellable item. ``version`` bumps on every update (optimistic locking)."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint(f"char_length(sku) BETWEEN 1 AND {SKU_MAX}", name="sku_length"),
        CheckConstraint(f"char_length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        Index("ix_products_name", "name"),
    )

    id: Mapped[BigIntPk]
    sku: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    price_cents: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.sku!r} stock={self.stock}>"


class ProductSalesRate(Model):
    """Units of a product sold per day over the ``days`` days from ``since``, as the
    hourly ``sales-rates`` job last computed them (app/catalog/sales_rates.py). Only
    products that sold in that window have a row. The admin dashboard divides live
    stock by it, so "about to run out" costs a join of two small tables, not a scan
    of a month of orders."""

    __tablename__ = "product_sales_rates"

    # No foreign key: a cache, read joined with products (see its migration).
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    daily_units: Mapped[Decimal] = mapped_column(Numeric)
    since: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
