"""Pool tracking: waits for a free connection (a histogram of how long), timeouts,
and who holds each checked-out connection (leak detection)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from app.db.counters import histogram, labelled_counter
from app.db.statements import code_location

ACQUIRE_WAIT = histogram(
    "stockroom_pool_acquire_wait_seconds",
    "Time a checkout waited for a free pooled connection (only checkouts that waited).",
)
TIMEOUTS = labelled_counter(
    "stockroom_pool_timeouts_total", "Checkouts that gave up waiting (pool timeout)."
)


class CheckedOut:
    """Who holds each checked-out connection of this process, since when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders: dict[int, tuple[float, datetime, str, str]] = {}

    def held_longer_than(self, seconds: float) -> list[dict]:
        """Connections held at least ``seconds``, longest first."""
        now = time.monotonic()
        with self.lock:
            held = [
                {
                    "seconds": round(now - since, 1),
                    "since": taken.isoformat(),
                    "location": location,
                    "thread": thread,
                }
                for since, taken, location, thread in self.holders.values()
                if now - since >= seconds
            ]
        return sorted(held, key=lambda h: -h["seconds"])


checked_out = CheckedOut()


class InstrumentedQueuePool(QueuePool):
    """A QueuePool that times waits for a free connection and counts timeouts."""

    def _do_get(self):
        # A checkout waits only when no connection is idle and no overflow is left
        # (opening a new connection is not waiting for one).
        queued = self._pool.empty() and 0 <= self._max_overflow <= self._overflow
        started = time.perf_counter()
        try:
            return super()._do_get()
        except PoolTimeout:
            TIMEOUTS.inc()
            raise
        finally:
            if queued:
                ACQUIRE_WAIT.observe(time.perf_counter() - started)


def pool_snapshot(pool, leak_seconds: float) -> dict:
    """The pool's state now, its wait counters, and connections held too long."""
    waits, wait_seconds = ACQUIRE_WAIT.totals()
    held = checked_out.held_longer_than(leak_seconds)
    return {
        "size": pool.size(),
        "checked_in": pool.checkedin(),
        "checked_out": pool.checkedout(),
        "overflow": max(pool.overflow(), 0),
        "max_overflow": pool._max_overflow,
        "waits": waits,
        "wait_seconds": round(wait_seconds, 4),
        "timeouts": int(sum(count for *_labels, count in TIMEOUTS.snapshot())),
        "held_too_long": held,
    }


def install_pool_events(engine: Engine) -> None:
    """Remember where each connection of ``engine`` was checked out."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        with checked_out.lock:
            checked_out.holders[id(record)] = (
                time.monotonic(),
                datetime.now(UTC),
                code_location(),
                threading.current_thread().name,
            )

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        with checked_out.lock:
            checked_out.holders.pop(id(record), None)
