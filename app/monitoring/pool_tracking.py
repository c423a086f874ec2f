"""Pool tracking: waits for a free connection (a histogram of how long, and how many
wait now), timeouts, how long each checkout holds its connection (a histogram),
the pool's connect/close/invalidate events, and who holds each checked-out
connection (leak detection).

A connection held past ``DB_LEAK_SECONDS`` is logged once, with where it was checked
out and the stack of the frames that checked it out, like HikariCP's leak detection.
The cost per checkout stays small: the code location (a short frame walk) and a
reference to the checking-out frame; the stack is formatted only for a leak.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from types import FrameType

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry, Pool, PoolProxiedConnection, QueuePool

from app.monitoring.counters import histogram, labelled_counter
from app.monitoring.minute_totals import minute_totals
from app.monitoring.statements import code_location

log = logging.getLogger(__name__)

ACQUIRE_WAIT = histogram(
    "stockroom_pool_acquire_wait_seconds",
    "Time a checkout waited for a free pooled connection (only checkouts that waited).",
)
HOLD = histogram(
    "stockroom_pool_hold_seconds",
    "Time from checking a pooled connection out to checking it back in.",
)
TIMEOUTS = labelled_counter(
    "stockroom_pool_timeouts_total", "Checkouts that gave up waiting (pool timeout)."
)
POOL_EVENTS = labelled_counter(
    "stockroom_pool_events_total",
    "Pool events: connect (a new server connection), close, invalidate (a connection "
    "found broken and discarded), soft_invalidate (retired at its next checkin).",
    "event",
)


class Holder:
    """One checked-out connection: since when, from where, by which thread. The
    "where" and the wall-clock time are worked out only when someone looks (a leak,
    the pool page): a checkout just keeps the frame and two clocks."""

    __slots__ = ("frame", "logged", "since", "taken_at", "thread_id")

    def __init__(self, frame: FrameType | None) -> None:
        self.since = time.monotonic()
        self.taken_at = time.time()
        self.thread_id = threading.get_ident()
        self.frame = frame
        self.logged = False

    @property
    def taken(self) -> datetime:
        return datetime.fromtimestamp(self.taken_at, UTC)

    @property
    def location(self) -> str:
        return code_location(self.frame) if self.frame is not None else "(unknown)"

    @property
    def thread(self) -> str:
        for thread in threading.enumerate():
            if thread.ident == self.thread_id:
                return thread.name
        return f"thread {self.thread_id} (ended)"


class CheckedOut:
    """Who holds each checked-out connection of this process, since when; how many
    were held at most since the last look, and how many checkouts wait now."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders: dict[int, Holder] = {}
        self.peak = 0
        self.waiting = 0

    def take_peak(self) -> int:
        """The most connections held at once since the last call."""
        with self.lock:
            peak, self.peak = self.peak, len(self.holders)
        return peak

    def held_longer_than(self, seconds: float) -> list[dict]:
        """Connections held at least ``seconds``, longest first; each new one is
        logged once with its stack."""
        now = time.monotonic()
        with self.lock:
            long_held = [h for h in self.holders.values() if now - h.since >= seconds]
            new = [h for h in long_held if not h.logged]
            for holder in new:
                holder.logged = True
        for holder in new:
            stack = "".join(traceback.format_stack(holder.frame)) if holder.frame else ""
            log.warning(
                "connection held %.1f s (DB_LEAK_SECONDS=%s), checked out at %s by thread "
                "%s at %s; stack of the checkout:\n%s",
                now - holder.since,
                seconds,
                holder.location,
                holder.thread,
                holder.taken.isoformat(timespec="seconds"),
                stack.rstrip(),
            )
        held = [
            {
                "seconds": round(now - h.since, 1),
                "since": h.taken.isoformat(),
                "location": h.location,
                "thread": h.thread,
            }
            for h in long_held
        ]
        return sorted(held, key=lambda h: -h["seconds"])


checked_out = CheckedOut()


class InstrumentedQueuePool(QueuePool):
    """A QueuePool that times waits for a free connection and counts timeouts."""

    def _do_get(self) -> ConnectionPoolEntry:
        # A checkout waits only when no connection is idle and no overflow is left
        # (opening a new connection is not waiting for one).
        queued = self._pool.empty() and 0 <= self._max_overflow <= self._overflow
        if not queued:
            return super()._do_get()
        started = time.perf_counter()
        with checked_out.lock:
            checked_out.waiting += 1
        try:
            return super()._do_get()
        except PoolTimeout:
            TIMEOUTS.inc()
            raise
        finally:
            with checked_out.lock:
                checked_out.waiting -= 1
            waited = time.perf_counter() - started
            ACQUIRE_WAIT.observe(waited)
            minute_totals.record_wait(waited)


def pool_snapshot(pool: Pool, leak_seconds: float) -> dict:
    """The pool's state now, its wait counters, and connections held too long."""
    assert isinstance(pool, QueuePool)  # engine_options' pool, or PostgreSQL's default
    waits, wait_seconds = ACQUIRE_WAIT.totals()
    held = checked_out.held_longer_than(leak_seconds)
    events = {name: count for name, count in POOL_EVENTS.snapshot()}
    return {
        "size": pool.size(),
        "checked_in": pool.checkedin(),
        "checked_out": pool.checkedout(),
        "overflow": max(pool.overflow(), 0),
        "max_overflow": pool._max_overflow,
        "waiting": checked_out.waiting,
        "peak": checked_out.take_peak(),
        "waits": waits,
        "wait_seconds": round(wait_seconds, 4),
        "timeouts": int(sum(count for *_labels, count in TIMEOUTS.snapshot())),
        "connects": events.get("connect", 0),
        "invalidations": events.get("invalidate", 0) + events.get("soft_invalidate", 0),
        "held_too_long": held,
    }


def install_pool_events(engine: Engine) -> None:
    """Remember where each connection of ``engine`` was checked out, time each
    checkout, count the pool's events."""

    @event.listens_for(engine, "checkout")
    def _checkout(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        proxy: PoolProxiedConnection,
    ) -> None:
        holder = Holder(sys._getframe(1))
        with checked_out.lock:
            checked_out.holders[id(record)] = holder
            checked_out.peak = max(checked_out.peak, len(checked_out.holders))

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        with checked_out.lock:
            holder = checked_out.holders.pop(id(record), None)
        if holder is not None:
            held = time.monotonic() - holder.since
            HOLD.observe(held)
            minute_totals.record_hold(held)

    for name in ("connect", "close", "invalidate", "soft_invalidate"):
        _count_event(engine, name)


def _count_event(engine: Engine, name: str) -> None:
    def count(*_args: object) -> None:
        POOL_EVENTS.inc(name)

    event.listen(engine, name, count)
