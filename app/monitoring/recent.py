"""What happened recently in this process: the change of a few cumulative counters
over the last minutes (pool waits and timeouts, slow statements, N+1 incidents),
for the overview's checks. Each worker keeps its own samples (taken whenever it
reports) and reports the differences; the overview adds the workers up.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from app.monitoring.pool_tracking import ACQUIRE_WAIT, TIMEOUTS
from app.monitoring.request_accounting import N_PLUS_ONE
from app.monitoring.statements import slow_statements


def totals() -> dict[str, float]:
    """The cumulative counters the overview looks at, now."""
    waits, _seconds = ACQUIRE_WAIT.totals()
    return {
        "pool_waits": waits,
        "pool_timeouts": sum(count for *_labels, count in TIMEOUTS.snapshot()),
        "slow_statements": slow_statements.total,
        "n_plus_one": sum(count for *_labels, count in N_PLUS_ONE.snapshot()),
    }


class RecentCounters:
    """Samples of :func:`totals` over a sliding window (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: deque[tuple[float, dict]] = deque()

    def update(self, window_seconds: float) -> dict:
        """Take a sample; the change over the window (or since this process started
        counting, if that is shorter), and how many seconds that covers."""
        now = time.monotonic()
        current = totals()
        with self.lock:
            if not self.samples:
                # Counting starts at zero when the process starts.
                self.samples.append((now, dict.fromkeys(current, 0)))
            self.samples.append((now, current))
            # Keep one sample at or before the window's start, as the baseline.
            while len(self.samples) > 2 and self.samples[1][0] <= now - window_seconds:
                self.samples.popleft()
            since, baseline = self.samples[0]
        changes = {key: current[key] - baseline.get(key, 0) for key in current}
        return {**changes, "seconds": round(now - since, 1)}


recent = RecentCounters()
