"""Per-connection limits that survive PgBouncer's transaction pooling.

Connected directly, every connection carries the web limits (statement_timeout,
lock_timeout, ...) as startup ``options``: set once, no round trip. Behind a
transaction-mode pooler that cannot work: PgBouncer refuses the ``options``
startup parameter, and a session-level ``SET`` would stay on a server connection
that the next transaction of some other client gets.

So behind a pooler every transaction carries its own limits, scoped to it
(``set_config(..., true)`` is ``SET LOCAL``), in a message it sends anyway:
psycopg opens each transaction with a ``BEGIN`` of its own, in the simple query
protocol and its own round trip, and the limits ride in that same message
(``BEGIN; SELECT set_config(...)``). No extra round trip, and nothing outlives the
transaction.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors, generators, pq
from psycopg import sql as pgsql
from psycopg.abc import PQGen

_IDLE = pq.TransactionStatus.IDLE


def web_limits(config: dict) -> dict[str, str]:
    """The settings every web transaction runs under."""
    return {
        "statement_timeout": str(config["DB_STATEMENT_TIMEOUT_MS"]),
        "lock_timeout": str(config["DB_LOCK_TIMEOUT_MS"]),
        "idle_in_transaction_session_timeout": str(config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"]),
        # A client killed mid-query: the server notices the closed socket within a
        # second and rolls back, instead of holding locks until the query ends.
        "client_connection_check_interval": "1000",
    }


def startup_options(limits: dict[str, str]) -> str:
    """The limits as libpq ``options`` (direct connections: set once at connect)."""
    return " ".join(f"-c {name}={value}" for name, value in limits.items())


def set_local_statement(limits: dict[str, str]) -> bytes:
    """One statement setting ``limits`` for the current transaction only.

    The values are quoted by psycopg (``sql.Literal``), not bound: the statement
    travels in the simple query protocol beside ``BEGIN``, which has no parameters.
    They come from our own validated settings, never from a request.
    """
    calls = pgsql.SQL(", ").join(
        pgsql.SQL("set_config({}, {}, true)").format(pgsql.Literal(name), pgsql.Literal(value))
        for name, value in limits.items()
    )
    return pgsql.SQL("SELECT {}").format(calls).as_bytes(None)


class LimitedTransactionConnection(psycopg.Connection):
    """A psycopg connection whose every transaction starts with its limits.

    Overrides ``_start_query``, psycopg 3's internal step that sends ``BEGIN``
    before a transaction's first statement (psycopg is pinned in pyproject.toml,
    and the pooler tests read the limits back inside transactions).
    """

    transaction_limits: bytes = b""

    def _start_query(self) -> PQGen[None]:
        if (
            self._autocommit
            or self.pgconn.transaction_status != _IDLE
            or not self.transaction_limits
        ):
            yield from super()._start_query()
            return
        if self._pipeline is not None:
            # psycopg's executemany runs in pipeline mode, one statement per
            # message: the limits are queued right behind BEGIN, ahead of the batch.
            yield from super()._start_query()
            yield from self._exec_command(self.transaction_limits)
            return
        # BEGIN and the limits in one simple-protocol message: one round trip.
        self._check_connection_ok()
        self.pgconn.send_query(self._get_tx_start_command() + b"; " + self.transaction_limits)
        for result in (yield from generators.execute(self.pgconn)):
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(result, encoding=self.info.encoding)


def connect_with_limits(limits: dict[str, str], *cargs: Any, **cparams: Any) -> psycopg.Connection:
    """Open a connection whose transactions each begin under ``limits``; ``cargs`` and
    ``cparams``: SQLAlchemy's connect arguments (its ``do_connect`` event's)."""
    conn = LimitedTransactionConnection.connect(*cargs, **cparams)
    conn.transaction_limits = set_local_statement(limits)
    return conn
