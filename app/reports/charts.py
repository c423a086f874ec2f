"""Small charts rendered on the server as inline SVG (no JavaScript, no CDN).

Every text that comes from data is escaped; numbers are formatted here.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 15, 45
COLORS = ("#2c7fb8", "#f03b20", "#31a354", "#756bb1")


def _frame(body: str, title: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def _axis(maximum: float, fmt) -> str:
    """Horizontal grid lines with labels at 0, 1/4 ... of the maximum."""
    lines = []
    for i in range(5):
        value = maximum * i / 4
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - i / 4)
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e3e6ea"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#555">{escape(fmt(value))}</text>'
        )
    return "".join(lines)


def _x(i: int, n: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (i + 0.5) / max(n, 1)


def _y(value: float, maximum: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value / maximum if maximum else 0))


def _labels(labels: Sequence[str], every: int) -> str:
    n = len(labels)
    return "".join(
        f'<text x="{_x(i, n):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
        f'font-size="10" fill="#555">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    fmt=str,
    highlight: Sequence[bool] | None = None,
) -> Markup:
    """Vertical bars, one per label."""
    values = [float(v) for v in values]
    n = len(values)
    if not n:
        return Markup("")
    maximum = max(max(values), 0) or 1
    band = (WIDTH - LEFT - RIGHT) / n
    bars = "".join(
        f'<rect x="{_x(i, n) - band * 0.4:.1f}" y="{_y(v, maximum):.1f}" '
        f'width="{band * 0.8:.1f}" height="{_y(0, maximum) - _y(v, maximum):.1f}" '
        f'fill="{COLORS[1] if highlight and highlight[i] else COLORS[0]}">'
        f"<title>{escape(labels[i])}: {escape(fmt(v))}</title></rect>"
        for i, v in enumerate(values)
    )
    return _frame(_axis(maximum, fmt) + bars + _labels(labels, max(1, n // 12)), title)


def line_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, fmt=str
) -> Markup:
    """One polyline per series, over shared labels, with a legend."""
    series = {name: [float(v) for v in values] for name, values in series.items()}
    n = len(labels)
    if not n:
        return Markup("")
    maximum = max((max(values) for values in series.values() if values), default=0) or 1
    body = _axis(maximum, fmt)
    for k, (name, values) in enumerate(series.items()):
        points = " ".join(f"{_x(i, n):.1f},{_y(v, maximum):.1f}" for i, v in enumerate(values))
        color = COLORS[k % len(COLORS)]
        body += (
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
            f'<text x="{LEFT + 10 + k * 180}" y="{TOP + 12}" font-size="12" '
            f'fill="{color}">{escape(name)}</text>'
        )
    return _frame(body + _labels(labels, max(1, n // 10)), title)


def heat_map(
    rows: Sequence[str], columns: Sequence[str], cells: dict[tuple[int, int], float], *, title: str
) -> Markup:
    """A matrix of shares (0..1): darker is higher; cells show the percentage."""
    if not rows:
        return Markup("")
    cell_w = min(60, (WIDTH - 110) / max(len(columns), 1))
    cell_h = 22
    height = 40 + cell_h * len(rows)
    body = "".join(
        f'<text x="{110 + (j + 0.5) * cell_w:.1f}" y="20" text-anchor="middle" '
        f'font-size="11" fill="#555">{escape(c)}</text>'
        for j, c in enumerate(columns)
    )
    for i, row in enumerate(rows):
        y = 30 + i * cell_h
        body += f'<text x="100" y="{y + 15}" text-anchor="end" font-size="11">{escape(row)}</text>'
        for j in range(len(columns)):
            share = cells.get((i, j))
            if share is None:
                continue
            shade = int(235 - 190 * min(max(share, 0), 1))
            ink = "#fff" if share > 0.5 else "#222"
            body += (
                f'<rect x="{110 + j * cell_w:.1f}" y="{y}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2}" fill="rgb({shade},{min(shade + 10, 255)},255)"/>'
                f'<text x="{110 + (j + 0.5) * cell_w:.1f}" y="{y + 15}" text-anchor="middle" '
                f'font-size="10" fill="{ink}">{share * 100:.0f}%</text>'
            )
    return _frame(body, title, height=height)
