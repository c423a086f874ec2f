"""Counters and histograms every worker keeps in memory and reports (app/monitoring/reporter.py);
/metrics sums nothing itself: it shows every worker's series, labelled by instance
and pid, for Prometheus to aggregate.

A family is declared once, where its numbers are counted (``labelled_counter`` in
the orders API, ``histogram`` for request durations ...): its name, help and
labels travel to /metrics from that one declaration.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field

# Prometheus-style buckets for durations, in seconds.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class LabelledCounter:
    """A counter by the values of one or more labels."""

    name: str
    help: str
    labels: tuple[str, ...]
    values: Counter[tuple[str, ...]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, *label_values: str, amount: int = 1) -> None:
        """Add ``amount`` to the series with these label values."""
        with self.lock:
            self.values[label_values] += amount

    def snapshot(self) -> list[list]:
        """``[[label values..., count], ...]`` (JSON for the worker report)."""
        with self.lock:
            return [[*key, count] for key, count in sorted(self.values.items())]


@dataclass
class LabelledHistogram:
    """Histograms by the values of labels (one series per label combination)."""

    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = DURATION_BUCKETS
    series: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, seconds: float, *label_values: str) -> None:
        """Count one observation."""
        index = bisect.bisect_left(self.buckets, seconds)
        with self.lock:
            counts = self.series.get(label_values)
            if counts is None:
                counts = self.series[label_values] = {
                    "counts": [0] * (len(self.buckets) + 1),
                    "sum": 0.0,
                }
            counts["counts"][index] += 1
            counts["sum"] += seconds

    def totals(self, *label_values: str) -> tuple[int, float]:
        """(observations, sum) of one series."""
        with self.lock:
            counts = self.series.get(label_values)
            return (sum(counts["counts"]), counts["sum"]) if counts else (0, 0.0)

    def snapshot(self) -> list[dict]:
        """Every series: its labels, per-bucket counts and sum (JSON)."""
        with self.lock:
            return [
                {"labels": list(key), "counts": list(value["counts"]), "sum": value["sum"]}
                for key, value in sorted(self.series.items())
            ]


COUNTERS: dict[str, LabelledCounter] = {}
HISTOGRAMS: dict[str, LabelledHistogram] = {}


def labelled_counter(name: str, help_text: str, *labels: str) -> LabelledCounter:
    """Declare (or get) the counter family ``name``."""
    if name not in COUNTERS:
        COUNTERS[name] = LabelledCounter(name, help_text, labels)
    return COUNTERS[name]


def histogram(
    name: str, help_text: str, *labels: str, buckets: tuple[float, ...] = DURATION_BUCKETS
) -> LabelledHistogram:
    """Declare (or get) the histogram family ``name``."""
    if name not in HISTOGRAMS:
        HISTOGRAMS[name] = LabelledHistogram(name, help_text, labels, buckets)
    return HISTOGRAMS[name]


def snapshot() -> dict:
    """Every declared family's numbers in this process (the report's ``counters``)."""
    return {
        "counters": {name: family.snapshot() for name, family in COUNTERS.items()},
        "histograms": {name: family.snapshot() for name, family in HISTOGRAMS.items()},
    }
