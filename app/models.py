"""Every model, imported in one place so the metadata is complete for migrations."""

from app.admin.database.models import ConsoleAction
from app.api.models import ApiToken, IdempotencyRecord
from app.auth.models import AdminUser
from app.catalog.models import Product, ProductSalesRate
from app.customers.models import Customer
from app.db.models import (
    ConnectionsMinute,
    EndpointHour,
    EndpointMinute,
    HistoryEvent,
    JobRun,
    PoolHour,
    PoolMinute,
    ServerStatementMinute,
    ServerStatementSnapshot,
    SlowQueryReport,
    StatementHour,
    StatementMinute,
    StatementShape,
    StatementSource,
    WorkerReport,
)
from app.orders.models import Order, OrderLine
from app.reports.models import (
    CohortMonth,
    CustomerActivity,
    OrderChange,
    RollupState,
    SalesDay,
    SalesProductDay,
    SalesProductMonth,
)

__all__ = [
    "AdminUser",
    "ApiToken",
    "CohortMonth",
    "ConnectionsMinute",
    "ConsoleAction",
    "Customer",
    "CustomerActivity",
    "EndpointHour",
    "EndpointMinute",
    "HistoryEvent",
    "IdempotencyRecord",
    "JobRun",
    "Order",
    "OrderChange",
    "OrderLine",
    "PoolHour",
    "PoolMinute",
    "Product",
    "ProductSalesRate",
    "RollupState",
    "SalesDay",
    "SalesProductDay",
    "SalesProductMonth",
    "ServerStatementMinute",
    "ServerStatementSnapshot",
    "SlowQueryReport",
    "StatementHour",
    "StatementMinute",
    "StatementShape",
    "StatementSource",
    "WorkerReport",
]
