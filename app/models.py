"""Every model, imported in one place so the metadata is complete for migrations."""

from app.api.models import ApiToken, IdempotencyRecord
from app.auth.models import AdminUser
from app.catalog.models import Product, ProductSalesRate
from app.customers.models import Customer
from app.dbconsole.models import ConsoleAction
from app.history.models import (
    ConnectionsMinute,
    EndpointHour,
    EndpointMinute,
    HistoryEvent,
    HistoryHour,
    LoadMinute,
    LoadSamples,
    PoolHour,
    PoolMinute,
    ServerStatementMinute,
    ServerStatementSnapshot,
    StatementHour,
    StatementMinute,
    StatementShape,
    StatementSource,
)
from app.jobs.models import JobRun
from app.monitoring.models import SlowQueryReport, WorkerReport
from app.orders.models import Order, OrderLine
from app.reports.rollups.models import (
    CohortMonth,
    CustomerActivity,
    OrderChange,
    RollupAudit,
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
    "HistoryHour",
    "IdempotencyRecord",
    "JobRun",
    "LoadMinute",
    "LoadSamples",
    "Order",
    "OrderChange",
    "OrderLine",
    "PoolHour",
    "PoolMinute",
    "Product",
    "ProductSalesRate",
    "RollupAudit",
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
