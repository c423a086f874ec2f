"""Durations as an operator reads them: ``850 ms``, ``42 s``, ``5 min 18 s``,
``2 h 4 min``, ``3 d 7 h``.

For the console's pages (the overview's and the schema page's sentences). It lives
here rather than in ``app.admin.formatting`` because the console sits below the
admin in the import layers; the admin may register it as a template filter.
"""

from __future__ import annotations

from datetime import timedelta

# (unit, its size in seconds, the next smaller unit's name, its size)
_UNITS = (("d", 86_400, "h", 3_600), ("h", 3_600, "min", 60), ("min", 60, "s", 1))


def duration_text(span: float | timedelta | None) -> str:
    """``span`` (seconds, or a timedelta) in at most two units: ``850 ms`` under a
    second, whole seconds under a minute, then ``5 min 18 s``, ``2 h 4 min``,
    ``3 d 7 h`` (a zero second unit is left out: ``5 min``). Empty for no span;
    a negative span (clock skew) reads as zero."""
    if span is None:
        return ""
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    seconds = max(seconds, 0.0)
    if seconds < 1:
        milliseconds = round(seconds * 1000)
        return f"{milliseconds} ms" if milliseconds < 1000 else "1 s"
    whole = int(seconds)
    for unit, size, smaller, smaller_size in _UNITS:
        if whole >= size:
            big, rest = divmod(whole, size)
            small = rest // smaller_size
            return f"{big} {unit} {small} {smaller}" if small else f"{big} {unit}"
    return f"{whole} s"
