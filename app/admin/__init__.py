"""The admin console at /admin/: the dashboard and Flask-Admin model views (the
app factory adds the database pages and the reports to its menu)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.admin.formatting import register_filters
from app.extensions import db
from app.security import csp_nonce


def init_admin(app: Flask) -> Admin:
    """Build the Admin and its views for ``app`` (a fresh one per app: Flask-Admin
    registers blueprints, so a module-level Admin breaks a second create_app)."""
    from app.admin.access import AdminUserView, ApiTokenView
    from app.admin.catalog import ProductView
    from app.admin.customers import CustomerView
    from app.admin.dashboard import DashboardView
    from app.admin.orders import OrderView
    from app.api.models import ApiToken
    from app.auth.models import AdminUser
    from app.catalog.models import Product
    from app.customers.models import Customer
    from app.orders.models import Order

    register_filters(app)
    admin = Admin(
        app,
        name="Stockroom",
        theme=Bootstrap4Theme(swatch="default"),
        index_view=DashboardView(url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(ProductView(Product, db, name="Products", category="Shop"))
    admin.add_view(CustomerView(Customer, db, name="Customers", category="Shop"))
    admin.add_view(OrderView(Order, db, name="Orders", category="Shop"))
    admin.add_view(ApiTokenView(ApiToken, db, name="API tokens", category="Access"))
    admin.add_view(AdminUserView(AdminUser, db, name="Admin users", category="Access"))
    return admin
