"""Charts rendered on the server as inline SVG (no JavaScript, no CDN, CSP-clean),
shared by the reports and the database console.

Axes are meant to be read at a glance: "nice" tick values (0, 5k, 10k; 1, 2, 5
steps), compact labels with their unit, and a left margin sized to the widest
label so that none is ever clipped. Every text that comes from data is escaped.
Series and markers carry ``data-`` attributes (points drawn, marker kind), which
tests and outside checks read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 260
RIGHT, TOP, BOTTOM = 20, 30, 40
CHAR_WIDTH = 6.6  # px per character of an 11px label, generously
COLORS = ("#2c7fb8", "#f03b20", "#31a354", "#756bb1", "#e6a000", "#636363")
MARKER_COLORS = {"deploy": "#7b3294", "migration": "#d95f02"}

# -- numbers on axes ----------------------------------------------------------------------


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def nice_ticks(maximum: float, minimum: float = 0.0, ticks: int = 4) -> list[float]:
    """Round tick values from ``minimum`` (rounded down) past ``maximum``."""
    if maximum <= minimum:
        maximum = minimum + 1
    step = nice_step(maximum - minimum, ticks)
    first = math.floor(minimum / step) * step
    values = []
    value = first
    while value < maximum + step * 0.999:
        values.append(round(value, 12))
        value += step
    return values


def compact(value: float) -> str:
    """12 -> "12", 1500 -> "1.5k", 2000000 -> "2M", 0.25 -> "0.25"."""
    magnitude = abs(value)
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    if magnitude == 0 or magnitude >= 1:
        return f"{value:.3g}"
    return f"{value:.2g}"


@dataclass(frozen=True)
class Unit:
    """How a chart's values read: on the axis (compact) and exactly (tooltips)."""

    axis: Callable[[list[float]], list[str]]
    exact: Callable[[float], str]
    label: str = ""


def _suffixed(suffix: str, prefix: str = "") -> Callable[[list[float]], list[str]]:
    return lambda ticks: [f"{prefix}{compact(t)}{suffix}" for t in ticks]


def _seconds_axis(ticks: list[float]) -> list[str]:
    # One unit for the whole axis, chosen by its largest tick.
    top = max(ticks, default=0)
    if top >= 1:
        return [f"{compact(t)} s" for t in ticks]
    if top >= 0.001:
        return [f"{compact(t * 1000)} ms" for t in ticks]
    return [f"{compact(t * 1e6)} µs" for t in ticks]


def seconds_text(seconds: float) -> str:
    """0.0042 -> "4.2 ms", 1.5 -> "1.5 s", 0.00008 -> "80 µs"."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


COUNT = Unit(_suffixed(""), lambda v: f"{v:,.0f}")
RATE = Unit(_suffixed("/s"), lambda v: f"{v:,.2f}/s", "per second")
SECONDS = Unit(_seconds_axis, seconds_text)
CONNECTIONS = Unit(_suffixed(""), lambda v: f"{v:,.1f}", "connections")


def money_unit(symbol: str = "$") -> Unit:
    """Amounts in cents, shown in the currency (axis in compact units)."""
    return Unit(
        lambda ticks: [f"{symbol}{compact(t / 100)}" for t in ticks],
        lambda v: f"{symbol}{v / 100:,.2f}",
    )


DAYS = Unit(_suffixed(" d"), lambda v: f"{v:,.1f} days")

# -- the frame ---------------------------------------------------------------------------


def _frame(body: str, title: str, height: int = HEIGHT, **data: str) -> Markup:
    attributes = "".join(f' data-{k.replace("_", "-")}="{escape(v)}"' for k, v in data.items())
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"{attributes}><title>{escape(title)}</title>'
        f"{body}</svg>"
    )


@dataclass(frozen=True)
class Plot:
    """The plotting area inside the frame, with its y scale."""

    left: float
    ticks: list[float]
    height: int = HEIGHT

    @property
    def top_value(self) -> float:
        return self.ticks[-1] or 1

    @property
    def bottom_value(self) -> float:
        return self.ticks[0]

    def y(self, value: float) -> float:
        span = (self.top_value - self.bottom_value) or 1
        share = (value - self.bottom_value) / span
        return TOP + (self.height - TOP - BOTTOM) * (1 - share)

    @property
    def right(self) -> float:
        return WIDTH - RIGHT


def _plot(maximum: float, unit: Unit, minimum: float = 0.0) -> tuple[Plot, str]:
    """The y axis: grid lines and labels at nice ticks, the margin fitted to them."""
    ticks = nice_ticks(maximum, minimum)
    labels = unit.axis(ticks)
    left = 14 + CHAR_WIDTH * max(len(label) for label in labels)
    plot = Plot(left, ticks)
    body = "".join(
        f'<line x1="{left:.1f}" x2="{plot.right}" y1="{plot.y(t):.1f}" y2="{plot.y(t):.1f}" '
        f'stroke="#e3e6ea"/><text x="{left - 6:.1f}" y="{plot.y(t) + 4:.1f}" '
        f'text-anchor="end" font-size="11" fill="#555">{escape(label)}</text>'
        for t, label in zip(ticks, labels, strict=True)
    )
    if unit.label:
        body += (
            f'<text x="{left:.1f}" y="{TOP - 16}" font-size="11" fill="#555">'
            f"{escape(unit.label)}</text>"
        )
    return plot, body


def _legend(names: Sequence[str], left: float) -> str:
    x, parts = left + 90, []
    for k, name in enumerate(names):
        color = COLORS[k % len(COLORS)]
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP - 25}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{TOP - 16}" font-size="11" fill="#333">'
            f"{escape(name)}</text>"
        )
        x += 26 + CHAR_WIDTH * len(name)
    return "".join(parts)


# -- category charts (reports) -------------------------------------------------------------


def _band_x(plot: Plot, i: int, n: int) -> float:
    return plot.left + (plot.right - plot.left) * (i + 0.5) / max(n, 1)


def _category_labels(plot: Plot, labels: Sequence[str]) -> str:
    n = len(labels)
    # As many labels as fit: about one per 70 px.
    every = max(1, math.ceil(n / max((plot.right - plot.left) // 70, 1)))
    return "".join(
        f'<text x="{_band_x(plot, i, n):.1f}" y="{HEIGHT - BOTTOM + 16}" '
        f'text-anchor="middle" font-size="10" fill="#555">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    unit: Unit = COUNT,
    highlight: Sequence[bool] | None = None,
) -> Markup:
    """Vertical bars, one per label."""
    numbers = [float(v) for v in values]
    n = len(numbers)
    if not n:
        return Markup("")
    plot, axis = _plot(max(max(numbers), 0), unit, min(min(numbers), 0))
    band = (plot.right - plot.left) / n
    bars = "".join(
        f'<rect x="{_band_x(plot, i, n) - band * 0.4:.1f}" y="{min(plot.y(v), plot.y(0)):.1f}" '
        f'width="{band * 0.8:.1f}" height="{abs(plot.y(0) - plot.y(v)):.1f}" '
        f'fill="{COLORS[1] if highlight and highlight[i] else COLORS[0]}">'
        f"<title>{escape(labels[i])}: {escape(unit.exact(v))}</title></rect>"
        for i, v in enumerate(numbers)
    )
    return _frame(axis + bars + _category_labels(plot, labels), title, points=str(n))


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    unit: Unit = COUNT,
) -> Markup:
    """One line per series over shared category labels (days, say), with a legend."""
    lines = {name: [float(v) for v in values] for name, values in series.items()}
    n = len(labels)
    if not n:
        return Markup("")
    maximum = max((max(values) for values in lines.values() if values), default=0)
    plot, body = _plot(maximum, unit)
    for k, (name, values) in enumerate(lines.items()):
        points = " ".join(
            f"{_band_x(plot, i, n):.1f},{plot.y(v):.1f}" for i, v in enumerate(values)
        )
        body += (
            f'<polyline fill="none" stroke="{COLORS[k % len(COLORS)]}" stroke-width="2" '
            f'points="{points}" data-series="{escape(name)}" data-points="{len(values)}"/>'
        )
    body += _legend(list(lines), plot.left) + _category_labels(plot, labels)
    return _frame(body, title, points=str(n))


def heat_map(
    rows: Sequence[str], columns: Sequence[str], cells: dict[tuple[int, int], float], *, title: str
) -> Markup:
    """A matrix of shares (0..1): darker is higher; cells show the percentage."""
    if not rows:
        return Markup("")
    label_width = 14 + CHAR_WIDTH * max(len(r) for r in rows)
    cell_w = min(60, (WIDTH - label_width - RIGHT) / max(len(columns), 1))
    cell_h = 22
    height = 40 + cell_h * len(rows)
    body = "".join(
        f'<text x="{label_width + (j + 0.5) * cell_w:.1f}" y="20" text-anchor="middle" '
        f'font-size="11" fill="#555">{escape(c)}</text>'
        for j, c in enumerate(columns)
    )
    for i, row in enumerate(rows):
        y = 30 + i * cell_h
        body += (
            f'<text x="{label_width - 8:.1f}" y="{y + 15}" text-anchor="end" '
            f'font-size="11">{escape(row)}</text>'
        )
        for j in range(len(columns)):
            share = cells.get((i, j))
            if share is None:
                continue
            shade = int(235 - 190 * min(max(share, 0), 1))
            ink = "#fff" if share > 0.5 else "#222"
            body += (
                f'<rect x="{label_width + j * cell_w:.1f}" y="{y}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2}" fill="rgb({shade},{min(shade + 10, 255)},255)"/>'
                f'<text x="{label_width + (j + 0.5) * cell_w:.1f}" y="{y + 15}" '
                f'text-anchor="middle" font-size="10" fill="{ink}">{share * 100:.0f}%</text>'
            )
    return _frame(body, title, height=height)


# -- time series (the console's history) -------------------------------------------------

TIME_STEPS = (
    60,
    300,
    600,
    900,
    1800,
    3600,
    2 * 3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
)


@dataclass(frozen=True)
class Marker:
    """A moment marked on every time chart: a deploy or a migration."""

    at: datetime
    kind: str
    label: str


def _time_labels(start: datetime, end: datetime, x: Callable[[datetime], float]) -> str:
    span = (end - start).total_seconds()
    step = next((s for s in TIME_STEPS if span / s <= 8), TIME_STEPS[-1])
    first = math.ceil(start.timestamp() / step) * step
    parts = []
    for stamp in range(int(first), int(end.timestamp()) + 1, step):
        moment = datetime.fromtimestamp(stamp, UTC)
        text = moment.strftime("%a %d %b" if step >= 86400 else "%H:%M")
        if step < 86400 and moment.hour == 0 and moment.minute == 0:
            text = moment.strftime("%a %d")
        parts.append(
            f'<line x1="{x(moment):.1f}" x2="{x(moment):.1f}" y1="{HEIGHT - BOTTOM}" '
            f'y2="{HEIGHT - BOTTOM + 4}" stroke="#999"/>'
            f'<text x="{x(moment):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="10" fill="#555">{text}</text>'
        )
    return "".join(parts)


def time_chart(
    times: Sequence[datetime],
    series: dict[str, Sequence[float | None]],
    *,
    start: datetime,
    end: datetime,
    title: str,
    unit: Unit = COUNT,
    markers: Sequence[Marker] = (),
    resolution: str = "",
) -> Markup:
    """Lines over time (None leaves a gap), UTC time labels, and a dashed vertical
    line for each marker (deploys, migrations) with its label on hover."""
    span = (end - start).total_seconds() or 1
    # Sums from SQL arrive as Decimal; the geometry is float.
    series = {
        name: [None if v is None else float(v) for v in line] for name, line in series.items()
    }

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span
        return plot.left + (plot.right - plot.left) * min(max(share, 0), 1)

    values = [v for line in series.values() for v in line if v is not None]
    plot, body = _plot(max(values, default=0), unit)
    for k, (name, line) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        drawn = sum(v is not None for v in line)
        segments: list[list[str]] = [[]]
        for moment, value in zip(times, line, strict=True):
            if value is None:
                segments.append([])
                continue
            segments[-1].append(f"{x(moment):.1f},{plot.y(value):.1f}")
        paths = "".join(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{" ".join(s)}"/>'
            if len(s) > 1
            else f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="2" '
            f'fill="{color}"/>'
            for s in segments
            if s
        )
        body += f'<g class="series" data-series="{escape(name)}" data-points="{drawn}">{paths}</g>'
    for marker in markers:
        if not start <= marker.at <= end:
            continue
        color = MARKER_COLORS.get(marker.kind, "#333")
        mx = x(marker.at)
        body += (
            f'<g class="marker" data-kind="{escape(marker.kind)}" '
            f'data-label="{escape(marker.label)}"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{TOP}" '
            f'y2="{HEIGHT - BOTTOM}" stroke="{color}" stroke-dasharray="4 3"/>'
            f'<text x="{mx + 3:.1f}" y="{TOP + 10}" font-size="10" fill="{color}">'
            f"{escape(marker.kind)}</text><title>{escape(marker.kind)} "
            f"{escape(marker.label)} at {marker.at.strftime('%Y-%m-%d %H:%M:%S')} UTC</title></g>"
        )
    body += _legend(list(series), plot.left) + _time_labels(start, end, x)
    if resolution:
        body += (
            f'<text x="{plot.right}" y="{HEIGHT - 4}" text-anchor="end" font-size="10" '
            f'fill="#777">one point per {escape(resolution)} · UTC</text>'
        )
    return _frame(body, title, points=str(len(times)))


def histogram_chart(
    bounds: Sequence[float], counts: Sequence[int], *, title: str, unit: Unit = SECONDS
) -> Markup:
    """A latency histogram: one bar per bucket (labelled by its upper bound)."""
    labels = [f"≤{unit.exact(b)}" for b in bounds]
    return bar_chart(labels, counts, title=title, unit=COUNT)


def window_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Every point of a window at ``step`` resolution, aligned to the step."""
    seconds = step.total_seconds()
    first = math.floor(start.timestamp() / seconds) * seconds
    last = end.timestamp()
    return [
        datetime.fromtimestamp(first + i * seconds, UTC)
        for i in range(int((last - first) // seconds) + 1)
    ]
