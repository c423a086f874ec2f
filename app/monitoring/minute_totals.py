"""What this process saw during the current history bucket (a minute by default,
``DB_HISTORY_INTERVAL_SECONDS``), added up in memory by the instrumentation:
requests per endpoint (count, status classes, a latency histogram, database time,
queries), executions per statement shape (calls and a latency histogram), and its
pool (checked out, waits, hold times). The reporter hands each closed bucket to the
history (app/history/recorder.py), which writes it to PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from app.monitoring import latency_buckets
from app.monitoring.statement_text import fingerprint_of

SLOTS = latency_buckets.SLOTS
MAX_STATEMENT_SOURCES = 5_000


@dataclass
class EndpointTotals:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    latency_max: float = 0.0
    db_seconds: float = 0.0
    queries: int = 0

    def add(self, other: EndpointTotals) -> None:
        """Add another endpoint's numbers into these."""
        self.requests += other.requests
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.latency_max = max(self.latency_max, other.latency_max)
        self.db_seconds += other.db_seconds
        self.queries += other.queries


@dataclass
class StatementTotals:
    calls: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    total_seconds: float = 0.0
    max_seconds: float = 0.0


@dataclass
class Bucket:
    """What this process saw during one bucket."""

    start: float
    endpoints: dict[str, EndpointTotals] = field(default_factory=dict)
    statements: dict[str, StatementTotals] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    sources: set[tuple[str, str, str]] = field(default_factory=set)
    hold_counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    wait_counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    checked_out_max: int = 0
    checked_out_sum: float = 0.0
    samples: int = 0


class MinuteTotals:
    """This process's current bucket (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.interval = 60
        self.enabled = False
        self.bucket = Bucket(self._start(time.time()))
        self.seen_sources: set[tuple[str, str]] = set()
        # The pool's cumulative counters when the last bucket closed.
        self.pool_totals: dict[str, float] = {}

    def configure(self, app: Flask) -> None:
        """Take the settings of ``app`` (off with DB_HISTORY=off or without
        instrumentation)."""
        self.enabled = app.config["DB_HISTORY"] and app.config["DB_INSTRUMENTATION"]
        self.interval = app.config["DB_HISTORY_INTERVAL_SECONDS"]
        with self.lock:
            self.bucket = Bucket(self._start(time.time()))

    def _start(self, now: float) -> float:
        return now - now % self.interval

    def record_request(
        self, endpoint: str, status: int, seconds: float, db_seconds: float, queries: int
    ) -> None:
        """Count one answered request."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            totals = self.bucket.endpoints.get(endpoint)
            if totals is None:
                totals = self.bucket.endpoints[endpoint] = EndpointTotals()
            totals.requests += 1
            if status >= 500:
                totals.errors_5xx += 1
            elif status >= 400:
                totals.errors_4xx += 1
            totals.counts[index] += 1
            if seconds > totals.latency_max:
                totals.latency_max = seconds
            totals.db_seconds += db_seconds
            totals.queries += queries

    def record_statement(
        self, statement: str, seconds: float, endpoint: str, locate: Callable[[], str]
    ) -> None:
        """Count one execution; remember a new shape's text and, the first time a
        shape runs for an endpoint, where in the code (``locate()`` only then)."""
        if not self.enabled:
            return
        fingerprint, normalised = fingerprint_of(statement)
        index = latency_buckets.slot(seconds)
        source = (fingerprint, endpoint)
        location = None
        if source not in self.seen_sources and len(self.seen_sources) < MAX_STATEMENT_SOURCES:
            location = locate()
        with self.lock:
            totals = self.bucket.statements.get(fingerprint)
            if totals is None:
                totals = self.bucket.statements[fingerprint] = StatementTotals()
                self.bucket.texts[fingerprint] = normalised
            totals.calls += 1
            totals.counts[index] += 1
            totals.total_seconds += seconds
            if seconds > totals.max_seconds:
                totals.max_seconds = seconds
            if location is not None and source not in self.seen_sources:
                self.seen_sources.add(source)
                self.bucket.sources.add((fingerprint, endpoint, location))

    def record_hold(self, seconds: float) -> None:
        """Count one checkout, checked in after ``seconds``."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            self.bucket.hold_counts[index] += 1

    def record_wait(self, seconds: float) -> None:
        """Count one checkout that waited ``seconds`` for a free connection."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            self.bucket.wait_counts[index] += 1

    def sample_pool(self, checked_out: int, peak: int) -> None:
        """One look at the pool: connections checked out now, and the most held at
        once since the last look."""
        with self.lock:
            self.bucket.checked_out_max = max(self.bucket.checked_out_max, peak, checked_out)
            self.bucket.checked_out_sum += checked_out
            self.bucket.samples += 1

    def take_closed(self, now: float) -> Bucket | None:
        """The bucket that ended, if one did (a fresh one takes its place)."""
        start = self._start(now)
        with self.lock:
            if start <= self.bucket.start:
                return None
            closed, self.bucket = self.bucket, Bucket(start)
            return closed


minute_totals = MinuteTotals()
