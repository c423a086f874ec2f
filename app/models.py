"""Every model, imported in one place so the metadata is complete for migrations."""

from app.admin.database.models import ConsoleAction
from app.api.models import ApiToken, IdempotencyRecord
from app.auth.models import AdminUser
from app.catalog.models import Product
from app.customers.models import Customer
from app.db.models import SlowQueryReport, WorkerReport
from app.orders.models import Order, OrderLine

__all__ = [
    "AdminUser",
    "ApiToken",
    "ConsoleAction",
    "Customer",
    "IdempotencyRecord",
    "Order",
    "OrderLine",
    "Product",
    "SlowQueryReport",
    "WorkerReport",
]
