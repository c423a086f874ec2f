"""The current request's database account: its statements, their count and time.

One object per request, reached through a context variable: the statement hooks
run for every statement, and a ContextVar read costs far less than Flask's ``g``
and ``request`` proxies (several lookups per statement otherwise)."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestAccount:
    """What one request spent in the database so far."""

    started: float
    endpoint: str
    queries: int = 0
    seconds: float = 0.0
    statements: Counter = field(default_factory=Counter)

    def add(self, statement: str, seconds: float) -> None:
        """Count one statement."""
        self.queries += 1
        self.seconds += seconds
        self.statements[statement] += 1


# None outside a request (the reporter thread, CLI commands).
current_account: ContextVar[RequestAccount | None] = ContextVar(
    "stockroom_request_account", default=None
)
