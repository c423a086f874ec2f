"""Latency histograms for the console's history: fine, log-spaced buckets that add
up across workers and minutes (per-worker percentiles cannot be combined; counts
can), and percentiles read back from them.

Bucket ``i`` counts durations in ``(bound(i - 1), bound(i)]`` with
``bound(i) = 100 µs * 2^(i/2)``: two buckets per doubling, so a percentile read
from them is at most one bucket off (a factor of 1.41; read geometrically inside its
bucket, usually far closer), from 100 µs to about a minute (the last bucket counts
everything longer). Stored arrays drop their trailing zeros:
a statement that always takes under a millisecond costs a handful of integers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

FIRST_BOUND = 0.0001  # seconds
STEPS_PER_DOUBLING = 2
SLOTS = 40  # the last bound is 100 µs * 2^19.5, about 74 s
RESOLUTION = "percentiles within one bucket (a factor of 1.41)"


def bound(index: int) -> float:
    """The upper bound of bucket ``index``, in seconds."""
    return FIRST_BOUND * 2 ** (index / STEPS_PER_DOUBLING)


def slot(seconds: float) -> int:
    """The bucket of a duration."""
    if seconds <= FIRST_BOUND:
        return 0
    index = math.ceil(STEPS_PER_DOUBLING * math.log2(seconds / FIRST_BOUND) - 1e-9)
    return min(index, SLOTS - 1)


def trimmed(counts: Sequence[int]) -> list[int]:
    """``counts`` without trailing zeros (what is stored)."""
    end = len(counts)
    while end and not counts[end - 1]:
        end -= 1
    return list(counts[:end])


def merged(arrays: Iterable[Sequence[int] | None]) -> list[int]:
    """Element-wise sum of histograms of any lengths."""
    total: list[int] = []
    for counts in arrays:
        if not counts:
            continue
        if len(counts) > len(total):
            total.extend([0] * (len(counts) - len(total)))
        for index, count in enumerate(counts):
            total[index] += count
    return total


def add_into(total: list[int], counts: Sequence[int] | None) -> list[int]:
    """Add ``counts`` to ``total`` in place (growing it as needed); ``total``."""
    if counts:
        if len(counts) > len(total):
            total.extend([0] * (len(counts) - len(total)))
        for index, count in enumerate(counts):
            total[index] += count
    return total


def dense(counts: Sequence[int | None] | None) -> list[int]:
    """A histogram summed in SQL (NULL where no row reached a bucket) as plain
    integers, trailing empty buckets dropped."""
    return trimmed([int(c or 0) for c in counts or ()])


def percentile(
    counts: Sequence[int], fraction: float, maximum: float | None = None
) -> float | None:
    """The ``fraction`` quantile (0.95 for p95) of a histogram, in seconds, read
    geometrically inside its bucket and never above the observed ``maximum``."""
    total = sum(counts)
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = bound(index - 1) if index else FIRST_BOUND / 2
            high = bound(index)
            value = low * (high / low) ** ((rank - seen) / count)
            return min(value, maximum) if maximum else value
        seen += count
    return maximum
