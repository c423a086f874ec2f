"""A chain of real sessions blocking each other on one customers row, as an
operator meets it on a bad day: A updates the row and leaves its transaction open
(idle in transaction), B's UPDATE of the same row waits for A, C's for B, D's for
B and C (the row's tuple lock queue)."""

from __future__ import annotations

import contextlib
import threading

import psycopg
from waiting import wait_until

UPDATE = "UPDATE customers SET name = name WHERE id = %s"


class LockChain:
    """Sessions ``pids[0]`` (the root blocker) ... ``pids[-1]``, each waiting for the
    one before it; :meth:`release` ends them all, whatever the test did to them."""

    def __init__(self, url: str, customer_id: int, length: int = 4, *, timeout: float = 20):
        self.url = url
        self.customer_id = customer_id
        self.root = psycopg.connect(url, application_name="chain-root")
        self.pids = [self.root.info.backend_pid]
        self.threads: list[threading.Thread] = []
        self.waiters: list[psycopg.Connection] = []
        self.root.execute(UPDATE, (customer_id,))  # holds the row, then sits idle
        for number in range(1, length):
            waiter = psycopg.connect(url, application_name=f"chain-waiter-{number}")
            # A bound on the wait, should the test's own cleanup never come.
            waiter.execute("SET lock_timeout = '60s'")
            self.waiters.append(waiter)
            self.pids.append(waiter.info.backend_pid)
            thread = threading.Thread(target=self._wait, args=(waiter,), daemon=True)
            thread.start()
            self.threads.append(thread)
            # Each waits before the next starts, so the order of the chain is known.
            wait_until(
                lambda pid=waiter.info.backend_pid: self.blocked_by(pid),
                timeout=timeout,
                message=f"session {number} never waited for the row",
            )

    def _wait(self, waiter: psycopg.Connection) -> None:
        # Ends with the row updated (its turn came) or the session gone; either way
        # the transaction ends here, which lets the next in line through.
        with contextlib.suppress(psycopg.Error):
            waiter.execute(UPDATE, (self.customer_id,))
        with contextlib.suppress(psycopg.Error):
            waiter.rollback()

    def blocked_by(self, pid: int) -> list[int]:
        """The pids blocking ``pid`` now (a fresh connection: a fresh snapshot)."""
        with psycopg.connect(self.url, autocommit=True) as observer:
            return observer.execute("SELECT pg_blocking_pids(%s)", (pid,)).fetchone()[0]

    def alive(self) -> list[int]:
        """Which of the chain's sessions are still connected."""
        with psycopg.connect(self.url, autocommit=True) as observer:
            rows = observer.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (self.pids,)
            ).fetchall()
        return sorted(row[0] for row in rows)

    def release(self, timeout: float = 20) -> None:
        """End the root's transaction (the rest follow one by one) and close every
        session; any still there after ``timeout`` is terminated."""
        with contextlib.suppress(psycopg.Error):
            self.root.rollback()
        for thread in self.threads:
            thread.join(timeout)
        with psycopg.connect(self.url, autocommit=True) as observer:
            observer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid = ANY(%s) AND application_name LIKE 'chain-%%'",
                (self.pids,),
            )
        for connection in [self.root, *self.waiters]:
            connection.close()
