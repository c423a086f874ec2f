"""Charts rendered on the server as inline SVG (no JavaScript, no CDN, CSP-clean),
shared by the reports and the database console.

Axes are meant to be read at a glance: "nice" tick values (0, 5k, 10k; 1, 2, 5
steps), compact labels with their unit, and a left margin sized to the widest
label so that none is ever clipped. Every text that comes from data is escaped.
Series and markers carry ``data-`` attributes (points drawn, marker kind), which
tests and outside checks read.

Nothing printed may overlap: tick labels are thinned to the room they have, marker
labels stagger into rows (or are left to their tooltip), legends wrap. Text is 11 px
in the picture's own units, and each picture's width is the width it is shown at on
a 1440 px screen (a half-width histogram is drawn narrow), so 11 px stays 11 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 260
RIGHT, TOP, BOTTOM = 20, 30, 40
FONT = 11  # every label's size, in the picture's own units
CHAR_WIDTH = 6.6  # px per character of an 11px label, generously
LINE = 15  # px between two rows of labels (legend, marker labels)
GAP = 8  # the least room between two labels on one line
# The pool page shows its histograms side by side (Bootstrap's col-lg-6 of a 1140 px
# container: about 520 px inside the figure at 1440 px). Drawn 900 wide they would be
# scaled to 58 % and their 11 px labels read as 6 px.
HISTOGRAM_WIDTH = 520
COLORS = ("#2c7fb8", "#f03b20", "#31a354", "#756bb1", "#e6a000", "#636363")
MARKER_COLORS = {"deploy": "#7b3294", "migration": "#d95f02"}
MARKER_MERGE_PX = 4  # markers of a kind closer than this share one label
MARKER_ROWS = 3  # marker labels stagger over this many rows, then go to their tooltip
LEGEND_CHARS = 64  # a longer series name is cut in the legend (whole in its tooltip)
MIN_POINTS = 10  # a time axis fitted to short data still spans this many points

# -- numbers on axes ----------------------------------------------------------------------


def nice_step(span: float, ticks: int = 5, integer: bool = False) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``ticks`` intervals; with
    ``integer`` a whole number (at least 1: counts have no quarter checkouts)."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * power
        if integer and (step < 1 or step != round(step)):
            continue
        if raw <= step:
            return step
    return max(10 * power, 1.0) if integer else 10 * power


def nice_ticks(
    maximum: float, minimum: float = 0.0, ticks: int = 4, integer: bool = False
) -> list[float]:
    """Round tick values from ``minimum`` (rounded down) past ``maximum``."""
    if maximum <= minimum:
        maximum = minimum + 1
    step = nice_step(maximum - minimum, ticks, integer)
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


def text_width(text: str) -> float:
    """How wide an 11px label is drawn, generously."""
    return CHAR_WIDTH * len(text)


@dataclass(frozen=True)
class Unit:
    """How a chart's values read: on the axis (compact) and exactly (tooltips).
    ``integer``: the values are counts, so the axis ticks are whole numbers."""

    axis: Callable[[list[float]], list[str]]
    exact: Callable[[float], str]
    label: str = ""
    integer: bool = False


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


COUNT = Unit(_suffixed(""), lambda v: f"{v:,.0f}", integer=True)
RATE = Unit(_suffixed("/s"), lambda v: f"{v:,.2f}/s", "per second")
SECONDS = Unit(_seconds_axis, seconds_text)
# Connections are whole, though a mean of them is drawn between the ticks.
CONNECTIONS = Unit(_suffixed(""), lambda v: f"{v:,.1f}", "connections", integer=True)


def money_unit(symbol: str = "$") -> Unit:
    """Amounts in cents, shown in the currency (axis in compact units)."""
    return Unit(
        lambda ticks: [f"{symbol}{compact(t / 100)}" for t in ticks],
        lambda v: f"{symbol}{v / 100:,.2f}",
    )


DAYS = Unit(_suffixed(" d"), lambda v: f"{v:,.1f} days")

# -- the frame ---------------------------------------------------------------------------


def _frame(body: str, title: str, height: int = HEIGHT, width: int = WIDTH, **data: str) -> Markup:
    attributes = "".join(f' data-{k.replace("_", "-")}="{escape(v)}"' for k, v in data.items())
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"{attributes}><title>{escape(title)}</title>'
        f"{body}</svg>"
    )


@dataclass(frozen=True)
class Plot:
    """The plotting area inside the frame, with its y scale."""

    left: float
    ticks: list[float]
    height: int = HEIGHT
    top: float = TOP
    width: int = WIDTH
    bottom: float = BOTTOM

    @property
    def top_value(self) -> float:
        return self.ticks[-1] or 1

    @property
    def bottom_value(self) -> float:
        return self.ticks[0]

    def y(self, value: float) -> float:
        span = (self.top_value - self.bottom_value) or 1
        share = (value - self.bottom_value) / span
        return self.top + (self.height - self.top - self.bottom) * (1 - share)

    @property
    def right(self) -> float:
        return self.width - RIGHT

    @property
    def base(self) -> float:
        """The y of the x axis."""
        return self.height - self.bottom


def _plot(
    maximum: float,
    unit: Unit,
    minimum: float = 0.0,
    *,
    top: float = TOP,
    width: int = WIDTH,
    height: int = HEIGHT,
    bottom: float = BOTTOM,
    title_room: float = 0.0,
) -> tuple[Plot, str]:
    """The y axis: grid lines and labels at nice ticks, the margin fitted to them
    (plus ``title_room`` for an axis title)."""
    ticks = nice_ticks(maximum, minimum, integer=unit.integer)
    labels = unit.axis(ticks)
    left = 14 + title_room + CHAR_WIDTH * max(len(label) for label in labels)
    plot = Plot(left, ticks, height, top, width, bottom)
    body = "".join(
        f'<line x1="{left:.1f}" x2="{plot.right}" y1="{plot.y(t):.1f}" y2="{plot.y(t):.1f}" '
        f'stroke="#e3e6ea"/><text x="{left - 6:.1f}" y="{plot.y(t) + 4:.1f}" '
        f'text-anchor="end" font-size="{FONT}" fill="#555" class="tick y">{escape(label)}</text>'
        for t, label in zip(ticks, labels, strict=True)
    )
    if unit.label:
        body += (
            f'<text class="unit" x="{left:.1f}" y="14" font-size="{FONT}" fill="#555">'
            f"{escape(unit.label)}</text>"
        )
    return plot, body


def _thin(boxes: Sequence[tuple[float, float]], high: float, low: float = 0.0) -> list[int]:
    """Which labels (their left and right edges) to print, left to right: none
    overlaps the one before (with a gap) or leaves ``low`` to ``high``."""
    kept: list[int] = []
    edge = -math.inf
    for i, (left, right) in enumerate(boxes):
        if left < low or right > high or left < edge + GAP:
            continue
        kept.append(i)
        edge = right
    return kept


def _centred(centres: Sequence[float], labels: Sequence[str]) -> list[tuple[float, float]]:
    return [
        (c - text_width(t) / 2, c + text_width(t) / 2) for c, t in zip(centres, labels, strict=True)
    ]


@dataclass(frozen=True)
class _Entry:
    x: float
    row: int
    name: str
    shown: str
    tooltip: str


def _legend_entries(
    names: Sequence[str], left: float, after: float, right: float, titles: Mapping[str, str]
) -> list[_Entry]:
    """Legend entries laid out left to right from ``after`` (past the unit label),
    wrapping to rows that start at ``left``; a long name is cut (whole in its tooltip)."""
    entries, x, row = [], after, 0
    for name in names:
        shown = name if len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1] + "…"
        width = 14 + text_width(shown)
        if x + width > right and x > (after if row == 0 else left):
            row, x = row + 1, left
        tooltip = titles.get(name, name if shown != name else "")
        entries.append(_Entry(x, row, name, shown, tooltip))
        x += width + 16
    return entries


def _legend_rows(names: Sequence[str], left: float, after: float, right: float) -> int:
    entries = _legend_entries(names, left, after, right, {})
    return entries[-1].row + 1 if entries else 1


def _legend(
    names: Sequence[str],
    left: float,
    titles: Mapping[str, str] | None = None,
    *,
    after: float | None = None,
    right: float = WIDTH - RIGHT,
) -> str:
    """A colour key per series above the plot; rows of ``LINE`` px when it wraps."""
    parts = []
    entries = _legend_entries(
        names, left, left + 90 if after is None else after, right, titles or {}
    )
    for k, entry in enumerate(entries):
        color = COLORS[k % len(COLORS)]
        y = 14 + LINE * entry.row
        tooltip = f"<title>{escape(entry.tooltip)}</title>" if entry.tooltip else ""
        parts.append(
            f'<g class="legend" data-legend="{escape(entry.name)}">'
            f'<rect x="{entry.x:.1f}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{entry.x + 14:.1f}" y="{y}" font-size="{FONT}" fill="#333">'
            f"{escape(entry.shown)}</text>{tooltip}</g>"
        )
    return "".join(parts)


def _legend_start(plot_left: float, unit: Unit) -> float:
    return plot_left + (text_width(unit.label) + 16 if unit.label else 0)


# -- category charts (reports) -------------------------------------------------------------


def _band_x(plot: Plot, i: int, n: int) -> float:
    return plot.left + (plot.right - plot.left) * (i + 0.5) / max(n, 1)


def _category_labels(plot: Plot, labels: Sequence[str]) -> str:
    n = len(labels)
    if not n:
        return ""
    # Every k-th label, k so that the widest label fits its share with a gap.
    band = (plot.right - plot.left) / n
    every = max(1, math.ceil((max(text_width(label) for label in labels) + GAP) / band))
    return "".join(
        f'<text class="tick x" x="{_band_x(plot, i, n):.1f}" y="{plot.base + 16}" '
        f'text-anchor="middle" font-size="{FONT}" fill="#555">{escape(label)}</text>'
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
    # The margin first (it places the legend), then the plot below the legend's rows.
    probe, _ = _plot(maximum, unit)
    rows = _legend_rows(list(lines), probe.left, probe.left + 90, probe.right)
    plot, body = _plot(maximum, unit, top=TOP + LINE * (rows - 1))
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
    120,
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


def _time_text(moment: datetime, step: int) -> str:
    if step >= 86400:
        return moment.strftime("%a %d %b")
    if moment.hour == 0 and moment.minute == 0:
        return moment.strftime("%a %d")
    return moment.strftime("%H:%M")


def _time_labels(
    start: datetime, end: datetime, x: Callable[[datetime], float], plot: Plot | None = None
) -> str:
    """Ticks on the time axis at a round step (1, 5, 10 minutes ... a day) wide enough
    that no two labels touch."""
    plot = plot or Plot(0, [0.0, 1.0])
    span = (end - start).total_seconds() or 1
    per_second = (plot.right - plot.left) / span

    def widest(step: int) -> float:
        return text_width("Mon 03 Dec" if step >= 86400 else "Mon 03")

    step = next(
        (s for s in TIME_STEPS if span / s <= 10 and s * per_second >= widest(s) + GAP),
        TIME_STEPS[-1],
    )
    first = math.ceil(start.timestamp() / step) * step
    moments = [
        datetime.fromtimestamp(stamp, UTC)
        for stamp in range(int(first), int(end.timestamp()) + 1, step)
    ]
    texts = [_time_text(moment, step) for moment in moments]
    centres = [x(moment) for moment in moments]
    # A label at the axis's left end starts there instead of centring, clear of the
    # y axis's bottom label.
    anchors = [
        "start" if c - text_width(t) / 2 < plot.left else "middle"
        for c, t in zip(centres, texts, strict=True)
    ]
    boxes = [
        (c, c + text_width(t)) if a == "start" else (c - text_width(t) / 2, c + text_width(t) / 2)
        for c, t, a in zip(centres, texts, anchors, strict=True)
    ]
    return "".join(
        f'<line x1="{centres[i]:.1f}" x2="{centres[i]:.1f}" y1="{plot.base}" '
        f'y2="{plot.base + 4}" stroke="#999"/>'
        f'<text class="tick x" x="{centres[i]:.1f}" y="{plot.base + 16}" '
        f'text-anchor="{anchors[i]}" font-size="{FONT}" fill="#555">{texts[i]}</text>'
        for i in _thin(boxes, plot.width)
    )


def _span_text(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.3g} h"
    return f"{minutes / 1440:.3g} d"


def first_data(
    times: Sequence[datetime], series: Mapping[str, Sequence[float | None]]
) -> datetime | None:
    """The first time any series has a value other than none or zero (a rate with
    nothing recorded reads 0)."""
    for i, moment in enumerate(times):
        if any(line[i] for line in series.values()):
            return moment
    return None


def _fitted_start(
    times: Sequence[datetime],
    series: Mapping[str, Sequence[float | None]],
    start: datetime,
    end: datetime,
    markers: Sequence[Marker],
    data_from: datetime | None = None,
) -> tuple[datetime, datetime | None]:
    """Where the x axis starts, and where the data does: with data over less than half
    the window, the axis spans the data (and the markers; at least ``MIN_POINTS``
    points), so minutes of it are not squeezed into a sliver of an hour."""
    first = first_data(times, series) if data_from is None else data_from
    if first is None or len(times) < 2:
        return start, first
    step = times[1] - times[0]
    earliest = min([first] + [m.at for m in markers if start <= m.at <= end])
    seconds = step.total_seconds()
    floor = datetime.fromtimestamp(math.floor(earliest.timestamp() / seconds) * seconds, UTC)
    fitted = max(start, min(floor, end - step * MIN_POINTS))
    if (end - fitted) * 2 > end - start:
        return start, first
    return fitted, first


def _marker_groups(placed: Sequence[tuple[float, str]]) -> list[tuple[float, str, int]]:
    """Markers of one kind drawn within a few px of each other (the steps of one
    migration run) share a label, "19 migrations": (x, label, index of the first),
    in order of x."""
    groups: list[tuple[float, str, int]] = []
    for kind in dict.fromkeys(kind for _x, kind in placed):
        members = [(mx, i) for i, (mx, k) in enumerate(placed) if k == kind]
        while members:
            head = members[0][0]
            together = [m for m in members if m[0] - head <= MARKER_MERGE_PX]
            members = members[len(together) :]
            count = len(together)
            groups.append((head, kind if count == 1 else f"{count} {kind}s", together[0][1]))
    return sorted(groups)


def _marker_layout(
    placed: list[tuple[float, str]], right: float
) -> list[tuple[int, float, str] | None]:
    """For each marker (its x, its label) in time order: the row, x and text-anchor of
    its label, or None when it would overlap another in every row (its line and
    tooltip stay)."""
    rows: list[list[tuple[float, float]]] = [[] for _ in range(MARKER_ROWS)]
    layout: list[tuple[int, float, str] | None] = []
    for mx, label in placed:
        width = text_width(label)
        if mx + 3 + width <= right:
            box, at, anchor = (mx + 3, mx + 3 + width), mx + 3, "start"
        else:
            box, at, anchor = (mx - 3 - width, mx - 3), mx - 3, "end"
        row = next(
            (
                r
                for r in range(MARKER_ROWS)
                if all(box[1] + GAP <= a or box[0] >= b + GAP for a, b in rows[r])
            ),
            None,
        )
        if row is None:
            layout.append(None)
            continue
        rows[row].append(box)
        layout.append((row, at, anchor))
    return layout


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
    open_from: datetime | None = None,
    titles: Mapping[str, str] | None = None,
    fit_to_data: bool = True,
    data_from: datetime | None = None,
) -> Markup:
    """Lines over time (None leaves a gap), UTC time labels, and a dashed vertical
    line for each marker (deploys, migrations) with its label on hover.

    Points at or after ``open_from`` (the time bin still open, whose totals are not
    in yet) are not drawn: a half-counted minute is not a drop. ``titles`` gives a
    series' legend a tooltip (a statement's whole text, say). With ``fit_to_data``,
    data over less than half the window gets an axis of its own span, said below it;
    ``data_from`` says where the data starts (charts side by side share it), else the
    first value that is not none or zero does.
    """
    # Sums from SQL arrive as Decimal; the geometry is float.
    lines: dict[str, list[float | None]] = {
        name: [
            None if v is None or (open_from is not None and t >= open_from) else float(v)
            for t, v in zip(times, line, strict=True)
        ]
        for name, line in series.items()
    }
    first_seen = None
    if fit_to_data:
        start, first_seen = _fitted_start(times, lines, start, end, markers, data_from)
    fitted = first_seen is not None and bool(times) and start > times[0]
    span = (end - start).total_seconds() or 1

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span
        return plot.left + (plot.right - plot.left) * min(max(share, 0), 1)

    values = [
        v
        for line in lines.values()
        for t, v in zip(times, line, strict=True)
        if v is not None and t >= start
    ]
    maximum = max(values, default=0)
    probe, _ = _plot(maximum, unit)
    after = _legend_start(probe.left, unit)
    rows = _legend_rows(list(lines), probe.left, after, probe.right)
    plot, body = _plot(maximum, unit, top=TOP + LINE * (rows - 1))
    for k, (name, line) in enumerate(lines.items()):
        color = COLORS[k % len(COLORS)]
        drawn = 0
        segments: list[list[str]] = [[]]
        for moment, value in zip(times, line, strict=True):
            # Before the data starts a rate reads 0 for "nothing recorded": not drawn.
            if moment < start or (fitted and first_seen is not None and moment < first_seen):
                continue
            if value is None:
                segments.append([])
                continue
            drawn += 1
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
    shown = sorted((m for m in markers if start <= m.at <= end), key=lambda m: m.at)
    groups = _marker_groups([(x(m.at), m.kind) for m in shown])
    layout = _marker_layout([(gx, text) for gx, text, _first in groups], plot.right)
    labels: dict[int, str] = {}
    for (_gx, text, first), place in zip(groups, layout, strict=True):
        if place is not None:
            row, at, anchor = place
            color = MARKER_COLORS.get(shown[first].kind, "#333")
            labels[first] = (
                f'<text x="{at:.1f}" y="{plot.top + 11 + LINE * row}" text-anchor="{anchor}" '
                f'font-size="{FONT}" fill="{color}">{escape(text)}</text>'
            )
    for i, marker in enumerate(shown):
        color = MARKER_COLORS.get(marker.kind, "#333")
        mx = x(marker.at)
        label = labels.get(i, "")
        body += (
            f'<g class="marker" data-kind="{escape(marker.kind)}" '
            f'data-label="{escape(marker.label)}"><line x1="{mx:.1f}" x2="{mx:.1f}" '
            f'y1="{plot.top}" y2="{plot.base}" stroke="{color}" stroke-dasharray="4 3"/>'
            f"{label}<title>{escape(marker.kind)} "
            f"{escape(marker.label)} at {marker.at.strftime('%Y-%m-%d %H:%M:%S')} UTC</title></g>"
        )
    body += _legend(list(lines), plot.left, titles, after=after, right=plot.right)
    body += _time_labels(start, end, x, plot)
    if resolution:
        body += (
            f'<text x="{plot.right}" y="{HEIGHT - 4}" text-anchor="end" font-size="{FONT}" '
            f'fill="#777">one point per {escape(resolution)} · UTC</text>'
        )
    if fitted and first_seen is not None:
        body += (
            f'<text class="fitted" x="{plot.left:.1f}" y="{HEIGHT - 4}" font-size="{FONT}" '
            f'fill="#777">showing the last {_span_text((end - start).total_seconds())} '
            f"(data starts at {first_seen.strftime('%H:%M')})</text>"
        )
    return _frame(
        body,
        title,
        points=str(len(times)),
        x_start=start.isoformat(),
        x_end=end.isoformat(),
    )


def _common_suffix(labels: Sequence[str]) -> str:
    """The unit every label ends with (" ms"), or ""."""
    units = {label.rpartition(" ")[2] for label in labels if " " in label}
    if len(units) == 1 and all(" " in label for label in labels):
        return " " + units.pop()
    return ""


def histogram_chart(
    bounds: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    unit: Unit = SECONDS,
    x_title: str = "",
    y_title: str = "count",
    width: int = HISTOGRAM_WIDTH,
) -> Markup:
    """A latency histogram: one bar per bucket, the x axis at the buckets' upper
    bounds in one unit (named in the x axis title), counts on whole-number ticks.
    Drawn ``width`` wide: the width it is shown at, so its 11px labels read 11px."""
    numbers = [int(c) for c in counts]
    n = len(numbers)
    if not n:
        return Markup("")
    labels = unit.axis([float(b) for b in bounds])
    suffix = _common_suffix(labels)
    if suffix:
        labels = [label[: -len(suffix)] for label in labels]
    x_name = f"{x_title} ({suffix.strip()})" if x_title and suffix else x_title or suffix.strip()
    bottom = BOTTOM + 14  # tick labels, then the axis title
    plot, body = _plot(max(numbers), COUNT, width=width, bottom=bottom, title_room=LINE + 2)
    band = (plot.right - plot.left) / n
    for i, count in enumerate(numbers):
        body += (
            f'<rect x="{plot.left + i * band + 1:.1f}" y="{plot.y(count):.1f}" '
            f'width="{max(band - 2, 1):.1f}" height="{plot.base - plot.y(count):.1f}" '
            f'fill="{COLORS[0]}"><title>≤{escape(unit.exact(bounds[i]))}: '
            f"{count:,} {escape(y_title)}</title></rect>"
        )
    edges = [plot.left + (i + 1) * band for i in range(n)]
    # Clear of the y axis's bottom label: no x label reaches left of the plot.
    for i in _thin(_centred(edges, labels), width, low=plot.left - 2):
        body += (
            f'<line x1="{edges[i]:.1f}" x2="{edges[i]:.1f}" y1="{plot.base}" '
            f'y2="{plot.base + 4}" stroke="#999"/>'
            f'<text class="tick x" x="{edges[i]:.1f}" y="{plot.base + 16}" '
            f'text-anchor="middle" font-size="{FONT}" fill="#555">{escape(labels[i])}</text>'
        )
    middle = (plot.top + plot.base) / 2
    body += (
        f'<text class="axis-title x" x="{(plot.left + plot.right) / 2:.1f}" '
        f'y="{plot.base + 34}" text-anchor="middle" font-size="{FONT}" fill="#333">'
        f"{escape(x_name)}</text>"
        f'<text class="axis-title y" x="{-middle:.1f}" y="12" transform="rotate(-90)" '
        f'text-anchor="middle" font-size="{FONT}" fill="#333">{escape(y_title)}</text>'
    )
    return _frame(body, title, width=width, points=str(n), kind="histogram")


def window_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Every point of a window at ``step`` resolution, aligned to the step."""
    seconds = step.total_seconds()
    first = math.floor(start.timestamp() / seconds) * seconds
    last = end.timestamp()
    return [
        datetime.fromtimestamp(first + i * seconds, UTC)
        for i in range(int((last - first) // seconds) + 1)
    ]
